"""Several Slack workspaces: OAuth installs, stored encrypted, and each workspace's Web API client.

Multi-workspace mode (``SLACK_CLIENT_ID`` + ``SLACK_CLIENT_SECRET``) installs the bot through
Slack's OAuth flow (Bolt's ``/slack/install`` and ``/slack/oauth_redirect``). Installs are kept by
slack_sdk's async SQLAlchemy stores on the bot's own database (tables made by migration 0011, not
by ``create_tables()``), with every token column Fernet-encrypted under
``CONNECTOR_ENCRYPTION_KEY``: the stores read and write through the column types, so encryption
is a column type (``EncryptedToken``) swapped into their tables.

``SlackClients`` gives the Web API client of a team (its token from the store, cached a short
while). ``TeamRoutedClient`` is the one client the rest of the bot holds: each call carries the
token of the team the work under way is for (``services.workspaces.current_team``), so posting,
updates, thread notes, DMs and views reach the right workspace without threading a team through
every call. A call with a token of its own (Bolt's ``auth.test`` after an install) or client
credentials (``oauth.v2.access``) is left as it is.
"""

from __future__ import annotations

import logging
import time
from base64 import b64encode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy import Dialect, Table, Text, and_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

from services.credentials import KEY_SETTING, CredentialKeyError
from services.workspaces import TEAM_ID, WorkspaceUnknown, current_team

__all__ = [
    "TOKEN_COLUMNS",
    "EncryptedInstallationStore",
    "EncryptedToken",
    "SlackClients",
    "TeamRoutedClient",
    "build_state_store",
]

logger = logging.getLogger(__name__)

TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
TOKEN_CACHE_SECONDS = 60.0  # a reinstall's new token is used within this long


class EncryptedToken(TypeDecorator[str]):
    """A token stored as Fernet ciphertext (text), plain in Python."""

    impl = Text
    cache_ok = False  # holds the key: statements using it are not cached

    def __init__(self, fernet: Fernet) -> None:
        super().__init__()
        self._fernet = fernet

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(str(value).encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise CredentialKeyError(
                f"{KEY_SETTING} does not decrypt a stored Slack install: the key changed since "
                "it was stored. Restore the old key, or reinstall the app (/slack/install)."
            ) from None


def _fernet(key: str | bytes) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise CredentialKeyError(
            f"{KEY_SETTING} is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's async SQLAlchemy installation store with its token columns encrypted."""

    def __init__(self, client_id: str, engine: AsyncEngine, key: str | bytes) -> None:
        super().__init__(client_id=client_id, engine=engine)
        encrypted = EncryptedToken(_fernet(key))
        tables: tuple[Table, ...] = (self.installations, self.bots)
        for table in tables:
            for name in TOKEN_COLUMNS:
                if name in table.c:
                    table.c[name].type = encrypted

    def __repr__(self) -> str:
        return f"EncryptedInstallationStore(client_id={self.client_id!r}, key=***)"

    async def create_tables(self) -> None:
        raise RuntimeError("the tables are made by the bot's migrations (0011)")

    async def installed_teams(self) -> list[str]:
        """The teams with a bot token, by team id."""
        c = self.bots.c
        query = (
            select(c.team_id)
            .where(
                and_(c.client_id == self.client_id, c.team_id.is_not(None)),
                c.bot_token.is_not(None),
            )
            .group_by(c.team_id)
            .order_by(c.team_id)
        )
        async with self.engine.connect() as connection:
            return [str(team) for team in (await connection.execute(query)).scalars()]


def build_state_store(
    engine: AsyncEngine, expiration_seconds: int
) -> AsyncSQLAlchemyOAuthStateStore:
    """slack_sdk's async SQLAlchemy OAuth state store on the bot's database (migration 0011)."""
    return AsyncSQLAlchemyOAuthStateStore(expiration_seconds=expiration_seconds, engine=engine)


@dataclass(frozen=True, slots=True)
class _Cached:
    token: str
    client: AsyncWebClient
    until: float


class SlackClients:
    """Each installed workspace's Web API client, by team id (cached, token from the store)."""

    def __init__(
        self,
        store: EncryptedInstallationStore,
        build: Callable[[str], AsyncWebClient],
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = TOKEN_CACHE_SECONDS,
    ) -> None:
        self.store = store
        self._build = build
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cached: dict[str, _Cached] = {}

    async def resolve(self, team: str | None) -> str:
        """The installed team ``team`` names, or the only one installed when it is None."""
        if team is not None:
            if not TEAM_ID.match(team):
                raise WorkspaceUnknown(f"team {team!r} is not a Slack team id (T…)")
            if await self._lookup(team) is None:
                raise WorkspaceUnknown(
                    f"team {team} has not installed the bot: install it with /slack/install"
                )
            return team
        teams = await self.store.installed_teams()
        if len(teams) == 1:
            return teams[0]
        if not teams:
            raise WorkspaceUnknown("no workspace has installed the bot yet: open /slack/install")
        raise WorkspaceUnknown(
            f"{len(teams)} workspaces have installed the bot; name one with the team parameter"
        )

    async def token_for(self, team: str | None) -> str:
        """The bot token of ``team`` (None: the only installed workspace)."""
        return (await self._entry(team or await self.resolve(None))).token

    async def client_for(self, team: str | None) -> AsyncWebClient:
        """The Web API client of ``team`` (None: the only installed workspace)."""
        return (await self._entry(team or await self.resolve(None))).client

    def forget(self, team: str) -> None:
        """Drop a team's cached token (after Slack said it is revoked, say)."""
        self._cached.pop(team, None)

    async def _entry(self, team: str) -> _Cached:
        entry = self._cached.get(team)
        now = self._clock()
        if entry is not None and entry.until > now:
            return entry
        token = await self._lookup(team)
        if token is None:
            self._cached.pop(team, None)
            raise WorkspaceUnknown(f"team {team} has not installed the bot (or uninstalled it)")
        client = entry.client if entry is not None and entry.token == token else self._build(token)
        entry = _Cached(token, client, now + self._cache_seconds)
        self._cached[team] = entry
        return entry

    async def _lookup(self, team: str) -> str | None:
        bot = await self.store.async_find_bot(enterprise_id=None, team_id=team)
        return None if bot is None else bot.bot_token


def _has_own_credentials(auth: object, *bodies: object) -> bool:
    if auth is not None:
        return True
    return any(
        isinstance(body, dict) and (body.get("token") or body.get("Authorization"))
        for body in bodies
    )


class TeamRoutedClient(AsyncWebClient):
    """One client for every workspace: each call uses the current team's bot token."""

    def __init__(self, tokens: Callable[[str | None], Awaitable[str]], **kwargs: Any) -> None:
        kwargs.pop("token", None)
        super().__init__(token=None, **kwargs)
        self.tokens = tokens

    def without_retries(self) -> TeamRoutedClient:
        """This client's twin that retries nothing (posts: a retried 5xx could post twice)."""
        return TeamRoutedClient(
            self.tokens, base_url=self.base_url, timeout=self.timeout, retry_handlers=[]
        )

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: Any = None,
    ) -> AsyncSlackResponse:
        if isinstance(auth, dict):  # client credentials (oauth.v2.access): HTTP Basic
            basic = f"{auth['client_id']}:{auth['client_secret']}".encode()
            headers = {**(headers or {}), "Authorization": f"Basic {b64encode(basic).decode()}"}
            auth = None  # slack_sdk would build aiohttp's deprecated BasicAuth from it
        elif not _has_own_credentials(auth, params, json, data, headers):
            token = await self.tokens(current_team())
            headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return await super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=data,
            params=params,
            json=json,
            headers=headers,
            auth=auth,
        )
