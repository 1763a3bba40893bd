"""Run the real bot app on loopback against fresh storage, a fake Slack and a fake Plisio."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from blocks.ids import (
    IDENTITY_CONFIRMED,
    ActionId,
    BlockId,
    CallbackId,
    InputId,
    ModalMetadata,
    encode_metadata,
)
from bot.app import BotApp, build_app, server_options
from bot.settings import Settings
from connectors.base import Connector
from sandbox.plisio import FakePlisio
from sandbox.slack_api import SlackAPI, SlackWorkspace
from services.cards import HandoffCard
from services.routing import RoutingConfig
from tests.support.db import fresh_database_url
from tests.support.routing import make_routing
from tests.support.signing import WEBHOOK_SECRET, signed_json
from tests.support.slack import block_action, signed_form, slash_command, view_submission

__all__ = ["Harness", "running_bot", "test_settings"]

SLACK_SIGNING_SECRET = "slack-test-signing-secret"
SLACK_TOKEN = "xoxb-test-token"
PLISIO_KEY = "plisio-test-secret-key"


def test_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_mode": "slack",
        "slack_bot_token": SLACK_TOKEN,
        "slack_signing_secret": SLACK_SIGNING_SECRET,
        "plisio_secret_key": PLISIO_KEY,
        "dialnexa_webhook_secret": WEBHOOK_SECRET,
        "public_url": "http://127.0.0.1:9",
        "routing_file": "does-not-matter.toml",
        "slack_process_before_response": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    bot: BotApp
    client: TestClient[Any, Any]
    slack: SlackAPI
    slack_url: str
    plisio: FakePlisio

    @property
    def deps(self) -> Any:
        return self.bot.container

    async def deliver(self, payload: dict[str, Any], **sign_kwargs: Any) -> ClientResponse:
        body, headers = signed_json(payload, **sign_kwargs)
        return await self.client.post("/dialnexa/handoffs", data=body, headers=headers)

    async def accept(self, payload: dict[str, Any]) -> str:
        """Deliver a handoff, post it, and return its id."""
        response = await self.deliver(payload)
        assert response.status == 202, await response.text()
        handoff_id: str = (await response.json())["handoff_id"]
        await self.drain()
        return handoff_id

    async def drain(self, rounds: int = 20) -> None:
        """Run queued work until nothing is due (the tests run no background worker)."""
        for _ in range(rounds):
            if not await self.deps.worker.run_once():
                return

    async def card(self, handoff_id: str) -> HandoffCard:
        card = await self.deps.handoffs.card(handoff_id)
        assert card is not None
        return card

    async def slack_post(
        self, fields: dict[str, str], *, secret: str = SLACK_SIGNING_SECRET
    ) -> ClientResponse:
        body, headers = signed_form(fields, secret)
        return await self.client.post("/slack/events", data=body, headers=headers)

    async def click(
        self, user: str, action: ActionId, handoff_id: str, *, value: str | None = None
    ) -> ClientResponse:
        card = await self.card(handoff_id)
        return await self.slack_post(
            block_action(
                user=user,
                action_id=action.value,
                value=value or handoff_id,
                channel=card.channel,
                message_ts=card.message_ts,
                selected=action is ActionId.SNOOZE,
            )
        )

    async def approve(
        self,
        user: str,
        handoff_id: str,
        *,
        identity: bool = False,
        emails: list[str] | None = None,
        email_text: str | None = None,
    ) -> ClientResponse:
        """Click Approve and, when the confirm modal opened for this click, submit it.

        Like Slack, the submission carries each input's initial value unless changed:
        ``emails`` replaces the ticked email choices, ``email_text`` the follow-up's text.
        Returns the submission's answer, or the click's when no modal opened (refused).
        """
        opened_before = len(self.opened_views(user, CallbackId.APPROVE_MODAL))
        click = await self.click(user, ActionId.APPROVE, handoff_id)
        opened = self.opened_views(user, CallbackId.APPROVE_MODAL)
        if len(opened) == opened_before:
            return click
        values = initial_values(opened[-1])
        if emails is not None and BlockId.EMAIL.value in values:
            values[BlockId.EMAIL.value] = {
                InputId.EMAIL.value: {
                    "type": "checkboxes",
                    "selected_options": [{"value": v} for v in emails],
                }
            }
        if email_text is not None:
            values[BlockId.EMAIL_TEXT.value] = {
                InputId.EMAIL_TEXT.value: {"type": "plain_text_input", "value": email_text}
            }
        if identity:
            values[BlockId.IDENTITY.value] = {
                InputId.IDENTITY.value: {
                    "type": "checkboxes",
                    "selected_options": [{"value": IDENTITY_CONFIRMED}],
                }
            }
        return await self.submit(user, CallbackId.APPROVE_MODAL, handoff_id, values)

    def opened_views(self, user: str, callback: CallbackId) -> list[dict[str, Any]]:
        """Modals the bot opened for ``user``'s clicks (newest last), by callback id."""
        views = []
        for call in self.slack.calls_to("views.open"):
            view = call.args.get("view") or {}
            if isinstance(view, str):
                view = json.loads(view)
            if not call.ok or view.get("callback_id") != callback.value:
                continue
            meta = view.get("private_metadata") or ""
            if f'"user_id":"{user}"' in meta:
                views.append(view)
        return views

    async def submit(
        self, user: str, callback: CallbackId, handoff_id: str, values: dict[str, dict[str, Any]]
    ) -> ClientResponse:
        card = await self.card(handoff_id)
        meta = encode_metadata(ModalMetadata(handoff_id, card.channel, card.message_ts, user))
        return await self.slack_post(
            view_submission(
                user=user, callback_id=callback.value, private_metadata=meta, values=values
            )
        )

    async def command(
        self, user: str, command: str, text: str, *, channel: str = "C0FINANCE"
    ) -> tuple[ClientResponse, str]:
        key = uuid.uuid4().hex
        url = self.slack.response_url(self.slack_url, key)
        response = await self.slack_post(
            slash_command(user=user, command=command, text=text, channel=channel, response_url=url)
        )
        return response, key

    def message(self, handoff_card: HandoffCard) -> Any:
        assert handoff_card.message_ts is not None
        return self.slack.workspace.message(handoff_card.channel, handoff_card.message_ts)

    def thread_texts(self, handoff_card: HandoffCard) -> list[str]:
        assert handoff_card.message_ts is not None
        return [
            m.text for m in self.slack.thread(handoff_card.channel, handoff_card.message_ts)[1:]
        ]

    def ephemerals_for(self, user: str) -> list[str]:
        return [e.text for e in self.slack.workspace.ephemerals if e.user == user]


def initial_values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What Slack submits for a modal left as it opened: each input's initial value."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or not element.get("action_id"):
            continue
        state: dict[str, Any] = {"type": element.get("type")}
        if "initial_options" in element:
            state["selected_options"] = element["initial_options"]
        elif "initial_value" in element:
            state["value"] = element["initial_value"]
        else:
            continue
        values[block["block_id"]] = {element["action_id"]: state}
    return values


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    routing: RoutingConfig | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    run_workers: bool = False,
    slack_rate: float | None = None,
    connectors: Iterable[Connector] = (),
    **settings_overrides: Any,
) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as stack:
        url, schema = await stack.enter_async_context(fresh_database_url(tmp_path))
        slack = SlackAPI(
            SlackWorkspace.demo(), bot_token=SLACK_TOKEN, per_channel_post_rate=slack_rate
        )
        slack_url = await stack.enter_async_context(slack.serve())
        plisio = FakePlisio(PLISIO_KEY)
        plisio_url = await stack.enter_async_context(plisio.running())
        bot = _build(
            url,
            schema,
            slack_url,
            plisio_url,
            routing,
            clock,
            run_workers,
            settings_overrides,
            connectors,
        )
        server = TestServer(bot.web)
        # Started here, as the bot starts its own server: with its read deadlines.
        await server.start_server(**server_options(bot.container.settings))
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        stack.push_async_callback(client.close)
        # Plisio calls back to the bot itself.
        bot.container.invoicing.public_url = str(server.make_url("")).rstrip("/")
        yield Harness(bot=bot, client=client, slack=slack, slack_url=slack_url, plisio=plisio)


def _build(
    url: str,
    schema: str | None,
    slack_url: str,
    plisio_url: str,
    routing: RoutingConfig | None,
    clock: Callable[[], datetime],
    run_workers: bool,
    overrides: dict[str, Any],
    connectors: Iterable[Connector] = (),
) -> BotApp:
    settings = test_settings(
        database_url=url,
        database_schema=schema,
        slack_api_url=slack_url,
        plisio_api_url=plisio_url,
        **overrides,
    )
    return build_app(
        settings,
        routing=routing or make_routing(),
        clock=clock,
        run_workers=run_workers,
        extra_connectors=connectors,
    )
