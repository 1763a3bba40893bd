"""Several Slack workspaces: Slack's OAuth install, through HTTP, against the loopback Slack.

Install (the Add to Slack page, Slack's Allow page, the redirect back) stores the workspace's
bot token encrypted; DialNexa handoffs for that workspace are posted with its token; a forged or
expired install is refused; and single-token mode is what it was.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import ClientResponse
from cryptography.fernet import Fernet
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import insert, select

from bot.settings import DEFAULT_BOT_SCOPES
from sandbox.slack_state import Demo
from services.db.models import HandoffRow, SlackBotRow, SlackInstallationRow, SlackOAuthStateRow
from services.states import HandoffStatus
from tests.support.examples import example, fresh_call_id
from tests.support.harness import SLACK_SIGNING_SECRET, Harness, running_bot
from tests.support.signing import signed_json

CLIENT_ID = "1234567890.0987654321"
CLIENT_SECRET = "oauth-test-client-secret"
STATE_COOKIE = "slack-app-oauth-state"
SLACK_AUTHORIZE = "https://slack.com/oauth/v2/authorize"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(
        tmp_path,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        connector_encryption_key=Fernet.generate_key().decode(),
    ) as harness:
        harness.slack.oauth.register_app(CLIENT_ID, CLIENT_SECRET)
        yield harness


def slack_root(bot: Harness) -> str:
    return bot.slack_url.removesuffix("/api/")


async def open_install_page(bot: Harness, team: str) -> tuple[str, str]:
    """GET /slack/install: the Allow URL the page links to, and the state cookie it set."""
    page = await bot.client.get("/slack/install", params={"team": team})
    assert page.status == 200, await page.text()
    found = re.search(r'href="(https://slack\.com/oauth/v2/authorize[^"]+)"', await page.text())
    assert found is not None
    link = html.unescape(found.group(1))
    cookie = page.cookies[STATE_COOKIE].value
    return link, cookie


async def allow(bot: Harness, link: str) -> str:
    """The installer clicks Allow on Slack's page: Slack redirects back with a code and state."""
    assert link.startswith(SLACK_AUTHORIZE + "?")
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            slack_root(bot) + "/oauth/v2/authorize" + link.removeprefix(SLACK_AUTHORIZE),
            allow_redirects=False,
        ) as answer,
    ):
        assert answer.status == 302, await answer.text()
        back = urlsplit(answer.headers["Location"])
    assert back.path == "/slack/oauth_redirect"
    return back.query


async def redirect(bot: Harness, query: str, cookie: str | None) -> ClientResponse:
    """Slack sends the installer's browser back, with the state cookie it holds (if any)."""
    bot.client.session.cookie_jar.clear()
    headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie else {}
    return await bot.client.get(f"/slack/oauth_redirect?{query}", headers=headers)


async def install(bot: Harness, team: str) -> str:
    """Install the app in ``team`` all the way through; the bot token Slack issued."""
    link, cookie = await open_install_page(bot, team)
    answer = await redirect(bot, await allow(bot, link), cookie)
    assert answer.status == 200, await answer.text()
    tokens = [token for token, owner in bot.slack.oauth.tokens.items() if owner == team]
    assert len(tokens) == 1
    return tokens[0]


async def deliver(
    bot: Harness, payload: dict[str, Any], *, header: str | None = None, query: str | None = None
) -> ClientResponse:
    """A signed DialNexa delivery naming its workspace by header, by query, or not at all."""
    body, headers = signed_json(payload)
    if header is not None:
        headers["X-Slack-Team-Id"] = header
    path = "/dialnexa/handoffs" + (f"?team={query}" if query is not None else "")
    return await bot.client.post(path, data=body, headers=headers)


def handoff() -> dict[str, Any]:
    return example("create_invoice", call_id=fresh_call_id("dnx_call_team"))


async def stored_team(bot: Harness, handoff_id: str) -> str | None:
    async with bot.deps.db.sessions() as session:
        return await session.scalar(select(HandoffRow.team_id).where(HandoffRow.id == handoff_id))


async def test_an_install_is_stored_encrypted_and_its_handoffs_post_with_its_token(
    bot: Harness,
) -> None:
    link, _cookie = await open_install_page(bot, "T0SECOND")
    # The Allow page asks for the manifest's scopes, for this app, back to this bot.
    asked = parse_qs(urlsplit(link).query)
    assert asked["client_id"] == [CLIENT_ID]
    assert asked["scope"] == [",".join(DEFAULT_BOT_SCOPES)]
    assert asked["redirect_uri"] == ["http://127.0.0.1:9/slack/oauth_redirect"]
    assert asked["team"] == ["T0SECOND"]

    token = await install(bot, "T0SECOND")

    async with bot.deps.db.sessions() as session:
        stored = list(await session.scalars(select(SlackBotRow.bot_token)))
        stored += list(await session.scalars(select(SlackInstallationRow.bot_token)))
        teams = set(await session.scalars(select(SlackBotRow.team_id)))
    assert teams == {"T0SECOND"}
    assert len(stored) == 2
    for ciphertext in stored:  # at rest: Fernet ciphertext, never the token
        assert ciphertext is not None
        assert token not in ciphertext
        assert not ciphertext.startswith("xoxb-")
    workspaces = bot.deps.workspaces
    assert workspaces is not None
    assert await workspaces.token_for("T0SECOND") == token

    response = await deliver(bot, handoff(), header="T0SECOND")
    assert response.status == 202, await response.text()
    handoff_id = (await response.json())["handoff_id"]
    await bot.drain()

    assert await stored_team(bot, handoff_id) == "T0SECOND"
    posts = [c for c in bot.slack.calls_to("chat.postMessage") if c.ok]
    assert len(posts) == 1
    assert posts[0].team == "T0SECOND"
    card = await bot.card(handoff_id)
    assert card.message_ts is not None


async def test_with_several_installed_a_delivery_must_name_its_team(bot: Harness) -> None:
    await install(bot, "T0SECOND")
    await install(bot, "T0THIRD")

    unnamed = await deliver(bot, handoff())
    assert unnamed.status == 422
    body = await unnamed.json()
    assert body["error"] == "unknown_team"
    assert "team" in body["message"]
    assert body["fields"][0]["field"] == "team"

    unknown = await deliver(bot, handoff(), query="T0NOTHERE")
    assert unknown.status == 422
    assert "T0NOTHERE" in (await unknown.json())["message"]

    named = await deliver(bot, handoff(), query="T0THIRD")
    assert named.status == 202, await named.text()
    await bot.drain()
    posts = [c for c in bot.slack.calls_to("chat.postMessage") if c.ok]
    assert [c.team for c in posts] == ["T0THIRD"]
    assert await stored_team(bot, (await named.json())["handoff_id"]) == "T0THIRD"


async def test_an_approval_in_a_workspace_is_answered_with_that_workspaces_token(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await install(bot, "T0SECOND")
    await install(bot, "T0THIRD")
    response = await deliver(bot, handoff(), query="T0SECOND")
    handoff_id = (await response.json())["handoff_id"]
    await bot.drain()
    post = bot.slack_post

    async def from_second(fields: dict[str, str], **kwargs: Any) -> ClientResponse:
        # The clicks and the modal come from the second workspace.
        fields = {**fields, "payload": fields["payload"].replace("T0SANDBOX", "T0SECOND")}
        return await post(fields, **kwargs)

    monkeypatch.setattr(bot, "slack_post", from_second)
    bot.slack.clear_calls()

    answer = await bot.approve(Demo.APPROVER_2, handoff_id)  # an approver by user group
    await bot.drain()

    assert answer.status == 200, await answer.text()
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED
    assert [c for c in bot.slack.calls_to("chat.update") if c.ok]
    assert {c.team for c in bot.slack.calls if c.method != "oauth.v2.access"} == {"T0SECOND"}


async def test_a_forged_or_expired_install_is_refused(bot: Harness) -> None:
    link, cookie = await open_install_page(bot, "T0SECOND")
    query = await allow(bot, link)

    # Without the browser's state cookie (another browser, or a forged link).
    assert (await redirect(bot, query, None)).status == 400
    # A state this bot never issued, even with a matching cookie.
    forged = re.sub(r"state=[^&]+", "state=forged", query)
    assert (await redirect(bot, forged, "forged")).status == 401
    # A state issued long ago.
    async with bot.deps.db.sessions() as session, session.begin():
        await session.execute(
            insert(SlackOAuthStateRow).values(
                state="stale",
                expire_at=(datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None),
            )
        )
    stale = re.sub(r"state=[^&]+", "state=stale", query)
    assert (await redirect(bot, stale, "stale")).status == 401

    # Nothing was exchanged or stored; the real state still works once, and only once.
    assert not bot.slack.calls_to("oauth.v2.access")
    async with bot.deps.db.sessions() as session:
        assert not list(await session.scalars(select(SlackBotRow.id)))
    assert (await redirect(bot, query, cookie)).status == 200
    assert (await redirect(bot, query, cookie)).status == 401


async def test_single_token_mode_is_unchanged(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        assert bot.deps.workspaces is None
        assert (await bot.client.get("/slack/install")).status == 404
        assert (await bot.client.get("/slack/oauth_redirect?code=x&state=y")).status == 404

        # A team named by the caller means nothing here: one workspace, one token.
        response = await deliver(bot, handoff(), header="T0SECOND")
        assert response.status == 202, await response.text()
        handoff_id = (await response.json())["handoff_id"]
        await bot.drain()

        assert await stored_team(bot, handoff_id) is None
        posts = [c for c in bot.slack.calls_to("chat.postMessage") if c.ok]
        assert [c.team for c in posts] == [bot.slack.workspace.team_id]


async def uninstall(bot: Harness, team: str) -> ClientResponse:
    """Slack tells the bot its app was uninstalled from ``team`` (a signed Events API call)."""
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": team,
            "api_app_id": "A0FINBOT",
            "event": {"type": "app_uninstalled", "event_ts": str(time.time())},
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
        }
    )
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SIGNING_SECRET).generate_signature(
        timestamp=timestamp, body=body
    )
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
    }
    return await bot.client.post("/slack/events", data=body.encode(), headers=headers)


async def test_an_uninstalled_workspace_is_forgotten(bot: Harness) -> None:
    await install(bot, "T0SECOND")
    await install(bot, "T0THIRD")

    assert (await uninstall(bot, "T0SECOND")).status == 200

    async with bot.deps.db.sessions() as session:
        assert set(await session.scalars(select(SlackBotRow.team_id))) == {"T0THIRD"}
        assert set(await session.scalars(select(SlackInstallationRow.team_id))) == {"T0THIRD"}
    refused = await deliver(bot, handoff(), query="T0SECOND")
    assert refused.status == 422
    # The one workspace left takes deliveries that name none.
    accepted = await deliver(bot, handoff())
    assert accepted.status == 202, await accepted.text()
    assert await stored_team(bot, (await accepted.json())["handoff_id"]) == "T0THIRD"


async def test_single_token_mode_acknowledges_an_uninstall(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        assert (await uninstall(bot, bot.slack.workspace.team_id)).status == 200
