"""Slack's OAuth v2 install, on loopback: the authorize page and ``oauth.v2.access``.

``GET /oauth/v2/authorize?client_id=…&scope=…&state=…&redirect_uri=…[&team=T…]`` stands for the
installer clicking "Allow": it answers 302 to ``redirect_uri?code=…&state=…`` like Slack. The code
is exchanged once, with the app's client credentials (HTTP Basic, or ``client_id`` and
``client_secret`` fields), for a new bot token of that team; the Web API double then accepts that
token and records which team each call was made for.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from sandbox.slack_objects import JsonDict, SlackError
from sandbox.slack_workspace import SlackWorkspace

__all__ = ["AUTHORIZE_PATH", "Grant", "SlackOAuth"]

AUTHORIZE_PATH = "/oauth/v2/authorize"


@dataclass(frozen=True, slots=True)
class Grant:
    """What an installer allowed: a team, the scopes, where Slack sends them back."""

    team_id: str
    team_name: str
    scope: str
    redirect_uri: str | None
    installer: str


class SlackOAuth:
    """Installs of one Slack app: its client credentials, pending codes and issued bot tokens."""

    def __init__(self, workspace: SlackWorkspace, bot_token: str) -> None:
        self.workspace = workspace
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self._codes: dict[str, Grant] = {}
        self.tokens: dict[str, str] = {bot_token: workspace.team_id}  # bot token -> team
        self.team_names: dict[str, str] = {workspace.team_id: workspace.team_name}

    def register_app(self, client_id: str, client_secret: str) -> None:
        """The app's credentials (Basic Information > App Credentials)."""
        self.client_id, self.client_secret = client_id, client_secret

    def team_of(self, token: str | None) -> str | None:
        """The team a bot token belongs to (None: not a token this Slack issued)."""
        return None if token is None else self.tokens.get(token)

    def grant(
        self,
        team_id: str,
        team_name: str,
        *,
        scope: str = "",
        redirect_uri: str | None = None,
        installer: str = "U0INSTALLER",
    ) -> str:
        """An installer allowed the app in ``team_id``: the one-time code for the redirect."""
        code = f"{team_id}.{secrets.token_hex(12)}"
        self._codes[code] = Grant(team_id, team_name, scope, redirect_uri, installer)
        return code

    async def authorize(self, request: web.Request) -> web.Response:
        """The authorize page, allowed at once: back to the app with a code and the state."""
        query = request.query
        if self.client_id is None or query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri:
            return web.Response(status=400, text="bad_redirect_uri")
        team = query.get("team") or self.workspace.team_id
        name = self.team_names.get(team) or f"Workspace {team}"
        code = self.grant(team, name, scope=query.get("scope", ""), redirect_uri=redirect_uri)
        back = {"code": code, "state": query.get("state", "")}
        raise web.HTTPFound(f"{redirect_uri}?{urlencode(back)}")

    def access(self, authorization: str | None, args: JsonDict) -> JsonDict:
        """``oauth.v2.access``: exchange a code for a new bot token, as Slack answers it."""
        client_id, client_secret = _basic(authorization) or (
            str(args.get("client_id") or ""),
            str(args.get("client_secret") or ""),
        )
        if self.client_id is None or client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackError("bad_client_secret")
        grant = self._codes.pop(str(args.get("code") or ""), None)
        if grant is None:
            raise SlackError("invalid_code")
        if grant.redirect_uri and args.get("redirect_uri") not in (None, grant.redirect_uri):
            raise SlackError("bad_redirect_uri")
        token = f"xoxb-{grant.team_id}-{secrets.token_hex(16)}"
        self.tokens[token] = grant.team_id
        self.team_names[grant.team_id] = grant.team_name
        ws = self.workspace
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": grant.scope,
            "bot_user_id": ws.bot_user_id,
            "app_id": ws.app_id,
            "team": {"id": grant.team_id, "name": grant.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": grant.installer},
        }


def _basic(header: str | None) -> tuple[str, str] | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode("utf-8")
    except ValueError:
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
