"""OAuth 2 for QuickBooks Online: refresh tokens that rotate, kept encrypted in the database.

Intuit answers every refresh with a new refresh token and retires the old one soon after, so the
token the bot holds must never be lost or overwritten by a stale one:

- the current tokens live in the credential store (``services.credentials``, encrypted) under
  ``quickbooks:{realm}``, seeded from ``QUICKBOOKS_REFRESH_TOKEN`` only when nothing is stored;
- a refresh stores the rotated refresh token (with the new access token) by compare-and-set on
  the version it read, BEFORE the new access token is used;
- a replica that loses that race re-reads the store and uses the winner's tokens; it never
  refreshes again with the token it read (Intuit may already have retired it);
- before refreshing at all, a replica re-reads the store: another one may have refreshed already;
- ``invalid_grant`` (revoked or expired refresh token) raises ``Revoked``: the connector stops
  until someone re-authorises (README).

No background refresh loop: the access token is refreshed on demand, five minutes before its hour.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from services.credentials import Credential, CredentialConflict, CredentialStore

__all__ = [
    "REFRESH_MARGIN",
    "REVOKED_REASON",
    "AuthFailed",
    "QuickBooksAuth",
    "Revoked",
    "TokenUnavailable",
    "credential_name",
]

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before the access token's hour is up
REVOKED_REASON = "QuickBooks authorisation was revoked: re-authorise (README)"
_ROTATION_CHECKS = 8  # looks at the store before a refused token counts as revoked
_ROTATION_WAIT = 0.25  # seconds between them
_MAX_RACES = 3


def credential_name(realm: str) -> str:
    """The credential store's name for one company's tokens."""
    return f"quickbooks:{realm}"


class Revoked(Exception):
    """Intuit refused the refresh token (``invalid_grant``): someone must re-authorise."""


class AuthFailed(Exception):
    """Intuit refused the app itself (wrong client id or secret): no retry will help."""


class TokenUnavailable(Exception):
    """The token endpoint could not be reached or answered 429/5xx: try again later."""

    def __init__(self, message: str, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Tokens:
    refresh_token: str
    access_token: str | None = None
    expires_at: datetime | None = None

    def dump(self) -> str:
        return json.dumps(
            {
                "refresh_token": self.refresh_token,
                "access_token": self.access_token,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            }
        )

    @classmethod
    def load(cls, value: str) -> _Tokens:
        try:
            data = json.loads(value)
        except ValueError:
            return cls(refresh_token=value)  # a bare refresh token stored by hand
        if not isinstance(data, dict):
            return cls(refresh_token=value)
        expires = data.get("expires_at")
        return cls(
            refresh_token=str(data["refresh_token"]),
            access_token=data.get("access_token"),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )

    def usable(self, now: datetime, rejected: str | None) -> bool:
        return (
            self.access_token is not None
            and self.access_token != rejected
            and self.expires_at is not None
            and self.expires_at - REFRESH_MARGIN > now
        )


class QuickBooksAuth:
    """Access tokens for one company, refreshed on demand; safe across replicas."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        store: CredentialStore,
        token_url: str,
        client_id: str,
        client_secret: str,
        seed_refresh_token: str,
        realm: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._http = http
        self._store = store
        self._token_url = token_url
        self._basic = httpx.BasicAuth(client_id, client_secret)
        self._seed = seed_refresh_token
        self._name = credential_name(realm)
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tokens: _Tokens | None = None
        self.refreshes = 0  # refreshes this instance made (tests, logs)

    def __repr__(self) -> str:
        return f"QuickBooksAuth({self._name!r})"

    async def access_token(self, *, rejected: str | None = None) -> str:
        """A valid access token; ``rejected`` names one the API just refused (401)."""
        cached = self._tokens
        if cached is not None and cached.usable(self._clock(), rejected):
            assert cached.access_token is not None
            return cached.access_token
        async with self._lock:
            tokens = await self._obtain(rejected)
            self._tokens = tokens
            assert tokens.access_token is not None
            return tokens.access_token

    async def _stored(self) -> Credential:
        credential = await self._store.get(self._name)
        if credential is not None:
            return credential
        try:
            return await self._store.put(self._name, _Tokens(self._seed).dump(), None)
        except CredentialConflict:  # another replica seeded it first
            credential = await self._store.get(self._name)
            assert credential is not None
            return credential

    async def _obtain(self, rejected: str | None) -> _Tokens:
        for _ in range(_MAX_RACES):
            credential = await self._stored()
            stored = _Tokens.load(credential.value)
            if stored.usable(self._clock(), rejected):
                return stored  # refreshed by another replica (or by us, earlier)
            try:
                fresh = await self._refresh(stored.refresh_token)
            except Revoked:
                # Another replica may have rotated the token we read (and Intuit retired it):
                # then the store holds a newer one. Only a token that is still current is
                # really revoked.
                if await self._rotated_since(credential.version):
                    continue
                logger.error(
                    "quickbooks connector stopped: %s",
                    REVOKED_REASON,
                    extra={"credential": self._name},
                )
                raise
            try:
                # Stored before it is used: a crash now leaves the rotated token in the store.
                await self._store.put(self._name, fresh.dump(), credential.version)
            except CredentialConflict:
                logger.info("quickbooks token refresh lost a race; using the stored tokens")
                winner = _Tokens.load((await self._stored()).value)
                if winner.usable(self._clock(), rejected):
                    return winner
                continue
            return fresh
        raise TokenUnavailable("QuickBooks tokens kept changing under us", retry_after=5.0)

    async def _rotated_since(self, version: int) -> bool:
        """Whether another replica stored a rotated token after ``version``. Its token endpoint
        answer can come a moment before its write does, so this looks a few times."""
        for attempt in range(_ROTATION_CHECKS):
            if (await self._stored()).version != version:
                return True
            if attempt + 1 < _ROTATION_CHECKS:
                await asyncio.sleep(_ROTATION_WAIT)
        return False

    async def _refresh(self, refresh_token: str) -> _Tokens:
        try:
            response = await self._http.post(
                self._token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                headers={"Accept": "application/json"},
                auth=self._basic,
            )
        except httpx.HTTPError as exc:
            raise TokenUnavailable(
                f"QuickBooks token endpoint unreachable: {exc.__class__.__name__}"
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TokenUnavailable(
                f"QuickBooks token endpoint answered {response.status_code}",
                retry_after=60.0 if response.status_code == 429 else 30.0,
            )
        body = _json(response)
        error = str(body.get("error") or "")
        if error == "invalid_grant":
            raise Revoked(REVOKED_REASON)
        if response.status_code == 401 or error == "invalid_client":
            raise AuthFailed(
                "QuickBooks refused the app's credentials (QUICKBOOKS_CLIENT_ID / "
                "QUICKBOOKS_CLIENT_SECRET): invalid_client"
            )
        if response.status_code != 200 or "access_token" not in body:
            raise AuthFailed(
                f"QuickBooks token endpoint answered {response.status_code} {error}".strip()
            )
        self.refreshes += 1
        expires_in = float(str(body.get("expires_in") or 3600))
        return _Tokens(
            refresh_token=str(body.get("refresh_token") or refresh_token),
            access_token=str(body["access_token"]),
            expires_at=self._clock() + timedelta(seconds=expires_in),
        )


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
