"""Sandbox mode's wiring: the fake Slack and Plisio and the page, mounted on the bot's own app.

``bot.app.build_app`` calls ``mount`` in sandbox mode only, so none of these routes exist when
the bot runs against real Slack. The bot reaches the fakes over HTTP through its ordinary
``SLACK_API_URL`` and ``PLISIO_API_URL`` settings, exactly as it reaches the real services.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
from aiohttp import web

from sandbox.feed import ChangeFeed
from sandbox.forward import BotLink
from sandbox.interactions import Interactions
from sandbox.plisio import FakePlisio
from sandbox.responses import ResponseRouter
from sandbox.setup import (
    PAY_PATH,
    PLISIO_PREFIX,
    SLACK_PREFIX,
    UI_PATH,
    SandboxSetup,
    banner,
)
from sandbox.slack_api import SlackAPI
from sandbox.slack_state import SlackError, SlackWorkspace
from sandbox.ui import SandboxUI
from services.routing import RoutingConfig

__all__ = ["Sandbox", "add_routing_targets", "mount"]

MERCHANT = "Acme Inc. (sandbox shop)"


@dataclass(frozen=True)
class Sandbox:
    """The running sandbox's parts (tests and tools reach the fakes through this)."""

    setup: SandboxSetup
    workspace: SlackWorkspace
    slack: SlackAPI
    plisio: FakePlisio
    feed: ChangeFeed
    ui: SandboxUI

    def banner(self) -> str:
        """The start-up banner naming the page's URL."""
        return banner(self.setup)


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else ""


def _invented_id(prefix: str, name: str) -> str:
    return prefix + "0" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def add_routing_targets(workspace: SlackWorkspace, routing: RoutingConfig) -> None:
    """Add the channels, people and groups an operator's own routing names but the demo lacks."""
    refs = [routing.channels.default, routing.channels.escalation]
    refs += [str(v) for v in (routing.channels.model_extra or {}).values() if v]
    for ref in filter(None, refs):
        try:
            workspace.resolve_channel(ref)
        except SlackError:
            if ref.startswith("#") or not ref[:1].isupper():
                workspace.add_channel(_invented_id("C", ref), ref.lstrip("#"))
            else:
                workspace.add_channel(ref, ref.lower())
    for user_id in [*routing.approvers.users, routing.mentions.finance_lead]:
        if user_id and user_id not in workspace.users:
            workspace.add_user(user_id, user_id.lower(), f"User {user_id}")
    for group_id in [*routing.approvers.usergroups, routing.mentions.finance_group]:
        if group_id and group_id not in workspace.usergroups:
            workspace.add_usergroup(group_id, group_id.lower(), [])


def mount(web_app: web.Application, setup: SandboxSetup) -> Sandbox:
    """Mount the sandbox Slack API, Plisio and page under ``/sandbox`` on the bot's app."""
    settings = setup.settings
    base = setup.base_url
    workspace = SlackWorkspace.demo()
    add_routing_targets(workspace, setup.routing)
    feed = ChangeFeed()
    workspace.on_change.append(feed.bump)
    slack = SlackAPI(workspace, bot_token=_secret(settings.slack_bot_token))
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
    plisio = FakePlisio(
        _secret(settings.plisio_secret_key),
        public_url=base + PLISIO_PREFIX,
        invoice_url_base=base + PAY_PATH,
        merchant=MERCHANT,
        callback_http=http,
    )
    link = BotLink(
        base,
        slack_signing_secret=_secret(settings.slack_signing_secret),
        dialnexa_secret=_secret(settings.dialnexa_webhook_secret),
        http=http,
    )
    responses = ResponseRouter(slack, settings.slack_api_url, changed=feed.bump)
    ui = SandboxUI(
        workspace=workspace,
        plisio=plisio,
        routing=setup.routing,
        feed=feed,
        interactions=Interactions(workspace, link, responses),
    )
    web_app.add_subapp(SLACK_PREFIX, slack.app)
    web_app.add_subapp(PLISIO_PREFIX, plisio.app)
    ui.register(web_app, UI_PATH)

    async def close_http(_app: web.Application) -> None:
        await http.aclose()

    web_app.on_shutdown.append(feed.close)
    web_app.on_cleanup.append(close_http)
    return Sandbox(setup, workspace, slack, plisio, feed, ui)
