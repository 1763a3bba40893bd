"""Service-account credentials for every Google API the bot uses (Sheets, Drive, Gmail).

The OAuth 2.0 JWT bearer grant, as Google's own libraries do it: a JWT signed RS256 with the key
file's ``private_key`` (``iss`` = ``client_email``, ``aud`` = the key's ``token_uri``, ``scope``
= the caller's scopes, ``sub`` = ``GOOGLE_DELEGATED_USER`` for domain-wide delegation) is POSTed
to ``token_uri`` as ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` on the bot's one
shared ``httpx.AsyncClient``. Signing uses ``cryptography`` (already a dependency): google-auth's
transport is synchronous, and the grant is one signed POST.

Tokens are cached per (scopes, subject) and fetched again five minutes before they expire; one
fetch runs at a time (an ``asyncio.Lock``), so a burst of connector work asks once.

``google_url`` applies ``GOOGLE_API_BASE``: one root that replaces every Google host
(sheets.googleapis.com, www.googleapis.com for Drive and Drive upload, gmail.googleapis.com) so
staging and tests reach a double.
"""

from __future__ import annotations

import asyncio
import base64
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.google.errors import (
    DEFAULT_RETRY,
    GoogleAuthError,
    retry_after_header,
)

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "JWT_GRANT",
    "REFRESH_MARGIN",
    "GoogleAuth",
    "ServiceAccountKey",
    "google_url",
    "shared_auth",
    "sign_jwt",
]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_MARGIN = timedelta(minutes=5)  # a token is fetched again this long before it expires
ASSERTION_LIFETIME = 3600  # seconds; Google's maximum
_DESCRIPTION_CHARS = 200


def google_url(settings: Settings, default_root: str, path: str) -> str:
    """The URL of ``path`` on a Google API: on ``default_root`` (``https://sheets.googleapis.com``)
    unless ``GOOGLE_API_BASE`` is set, which replaces the root of every Google API."""
    root = settings.google_api_base or default_root
    return root.rstrip("/") + "/" + path.lstrip("/")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """The fields of a service-account key file the grant needs (the private key stays here)."""

    client_email: str
    private_key: rsa.RSAPrivateKey
    token_uri: str
    private_key_id: str | None = None

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccountKey:
        """Read a key file; ``GoogleAuthError`` names what is wrong (never the key)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GoogleAuthError(
                f"the Google service-account key file {path} cannot be read "
                f"({exc.__class__.__name__})"
            ) from None
        return cls.from_json(data, str(path))

    @classmethod
    def from_json(cls, data: Any, source: str = "the key") -> ServiceAccountKey:
        if not isinstance(data, dict):
            raise GoogleAuthError(f"the Google service-account key in {source} is not an object")
        missing = [k for k in ("client_email", "private_key", "token_uri") if not data.get(k)]
        if missing:
            raise GoogleAuthError(
                f"the Google service-account key in {source} lacks {', '.join(missing)}"
            )
        try:
            key = serialization.load_pem_private_key(str(data["private_key"]).encode(), None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise GoogleAuthError(
                f"the private_key in the Google service-account key {source} is not an RSA key"
            )
        key_id = data.get("private_key_id")
        return cls(
            client_email=str(data["client_email"]),
            private_key=key,
            token_uri=str(data["token_uri"]),
            private_key_id=str(key_id) if key_id else None,
        )


def sign_jwt(key: ServiceAccountKey, claims: dict[str, Any]) -> str:
    """``claims`` as a compact JWT signed RS256 with the service account's key."""
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if key.private_key_id:
        header["kid"] = key.private_key_id
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: datetime


class GoogleAuth:
    """Access tokens for the service account in ``GOOGLE_SERVICE_ACCOUNT_FILE``."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Callable[[], datetime],
        *,
        key: ServiceAccountKey | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._key = key  # read from the file on first use (the sandbox writes it at start-up)
        self._tokens: dict[tuple[tuple[str, ...], str | None], _Token] = {}
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens fetched from the token endpoint (tests, benchmarks)

    @property
    def default_subject(self) -> str | None:
        """``GOOGLE_DELEGATED_USER``: the Workspace user to act as, when set."""
        return self._settings.google_delegated_user

    def key(self) -> ServiceAccountKey:
        """The service-account key, read once."""
        if self._key is None:
            path = self._settings.google_service_account_file
            if path is None:
                raise GoogleAuthError("GOOGLE_SERVICE_ACCOUNT_FILE is not set")
            self._key = ServiceAccountKey.from_file(Path(path))
        return self._key

    async def token(self, scopes: tuple[str, ...], subject: str | None = None) -> str:
        """An access token for ``scopes``, acting as ``subject`` (default
        ``GOOGLE_DELEGATED_USER``); cached and fetched again 5 minutes before it expires.

        Raises ``GoogleAuthError`` (``retry_after`` set when trying again may help).
        """
        who = subject if subject is not None else self.default_subject
        cache_key = (tuple(sorted(scopes)), who)
        cached = self._fresh(cache_key)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh(cache_key)  # another caller fetched it while we waited
            if cached is not None:
                return cached
            token = await self._fetch(cache_key[0], who)
            self._tokens[cache_key] = token
            return token.value

    def forget(self, scopes: tuple[str, ...], subject: str | None = None) -> None:
        """Drop a cached token (an API answered 401 to it: revoked or expired early)."""
        who = subject if subject is not None else self.default_subject
        self._tokens.pop((tuple(sorted(scopes)), who), None)

    def _fresh(self, cache_key: tuple[tuple[str, ...], str | None]) -> str | None:
        token = self._tokens.get(cache_key)
        if token is not None and self._clock() < token.expires_at - REFRESH_MARGIN:
            return token.value
        return None

    async def _fetch(self, scopes: tuple[str, ...], subject: str | None) -> _Token:
        key = self.key()
        now = self._clock()
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": key.client_email,
            "scope": " ".join(scopes),
            "aud": key.token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
        }
        if subject:
            claims["sub"] = subject
        form = {"grant_type": JWT_GRANT, "assertion": sign_jwt(key, claims)}
        try:
            response = await self._http.post(
                key.token_uri, data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise GoogleAuthError(
                f"Google's token endpoint could not be reached ({exc.__class__.__name__})",
                retry_after=DEFAULT_RETRY,
            ) from None
        self.fetches += 1
        return self._parse(response, now)

    @staticmethod
    def _parse(response: httpx.Response, now: datetime) -> _Token:
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        code = response.status_code
        if code == 429 or code >= 500:
            retry = retry_after_header(response.headers.get("Retry-After"))
            raise GoogleAuthError(
                f"Google's token endpoint answered {code}; trying again later",
                retry_after=DEFAULT_RETRY if retry is None else retry,
            )
        if code >= 400:
            error = str(body.get("error") or code)
            description = str(body.get("error_description") or "")[:_DESCRIPTION_CHARS]
            hint = {
                "invalid_grant": "the key is revoked or deleted, the clock is off, or the "
                "delegated user is not allowed",
                "unauthorized_client": "the service account is not allowed domain-wide "
                "delegation for these scopes",
                "invalid_client": "the service account is disabled or unknown",
            }.get(error, "")
            words = "; ".join(p for p in (description, hint) if p)
            raise GoogleAuthError(
                f"Google refused the service-account key: {error}"
                + (f" ({words})" if words else "")
            )
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise GoogleAuthError(
                f"Google's token endpoint answered {code} without an access token",
                retry_after=DEFAULT_RETRY,
            )
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return _Token(value, now + timedelta(seconds=lifetime))


_SHARED: weakref.WeakKeyDictionary[httpx.AsyncClient, GoogleAuth] = weakref.WeakKeyDictionary()


def shared_auth(
    settings: Settings, http: httpx.AsyncClient, clock: Callable[[], datetime]
) -> GoogleAuth:
    """The one ``GoogleAuth`` of a bot process (per shared HTTP client): Sheets, Drive and Gmail
    connectors built from the same ``ConnectorDeps`` share its token cache."""
    auth = _SHARED.get(http)
    if auth is None:
        auth = _SHARED[http] = GoogleAuth(settings, http, clock)
    return auth
