"""Sandbox mode's wiring: the fake Slack and Plisio and the page, mounted on the bot's own app.

``bot.app.build_app`` calls ``mount`` in sandbox mode only, so none of these routes exist when
the bot runs against real Slack. The bot reaches the fakes over HTTP through its ordinary
``SLACK_API_URL`` and ``PLISIO_API_URL`` settings, exactly as it reaches the real services.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from aiohttp import web

from sandbox.feed import ChangeFeed
from sandbox.forward import BotLink
from sandbox.google import GOOGLE_PREFIX, FakeGoogle, for_sandbox
from sandbox.google_drive_gmail import FakeDriveGmail
from sandbox.hubspot import FakeHubSpot
from sandbox.interactions import Interactions
from sandbox.persist import SandboxWorld
from sandbox.plisio import FakePlisio
from sandbox.quickbooks import FakeQuickBooks
from sandbox.responses import ResponseRouter
from sandbox.setup import (
    HUBSPOT_PREFIX,
    PAY_PATH,
    PLISIO_PREFIX,
    QUICKBOOKS_PREFIX,
    SLACK_PREFIX,
    STRIPE_PREFIX,
    UI_PATH,
    ZENDESK_PREFIX,
    SandboxSetup,
    banner,
)
from sandbox.slack_api import SlackAPI
from sandbox.slack_objects import SlackError
from sandbox.slack_workspace import SlackWorkspace
from sandbox.stripe import FakeStripe
from sandbox.ui import SandboxUI
from sandbox.zendesk import FakeZendesk
from services.db.engine import Database
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
    world: SandboxWorld  # keeps the workspace, Plisio and the writable doubles in the database
    stripe: FakeStripe | None = None  # the demo customers (read only; not persisted)
    hubspot: FakeHubSpot | None = None
    google: FakeGoogle | None = None  # Google's token endpoint and Sheets (sandbox.google)
    quickbooks: FakeQuickBooks | None = None
    zendesk: FakeZendesk | None = None  # tickets and notes
    drive_gmail: FakeDriveGmail | None = None  # Google Drive and Gmail

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


def mount(web_app: web.Application, setup: SandboxSetup, db: Database) -> Sandbox:
    """Mount the sandbox Slack API, Plisio and page under ``/sandbox`` on the bot's app.

    The caller restores ``Sandbox.world`` at start-up, before the bot posts anything, and
    flushes it once its workers have stopped (``bot.app``); every change in between is saved
    within a second, and again as the server shuts down.
    """
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
    world = SandboxWorld(db, workspace, plisio, changed=feed.bump)
    zendesk = FakeZendesk(
        settings.zendesk_email or "",
        _secret(settings.zendesk_api_token),
        public_url=base + ZENDESK_PREFIX,
    )
    zendesk.on_change.append(feed.bump)
    workspace.on_change.append(world.mark_changed)
    plisio.on_change.append(world.mark_changed)
    google = for_sandbox(
        settings.google_service_account_file,
        settings.google_sheets_spreadsheet_id,
        settings.google_sheets_tab,
        base + GOOGLE_PREFIX,
    )
    # One Google double: Sheets' token endpoint issues the tokens Drive and Gmail accept too.
    drive_gmail = FakeDriveGmail(
        token_subject=lambda token: (
            (google.tokens[token].subject or "") if google and token in google.tokens else None
        )
    )
    if google is not None:  # its writes show with the message update that follows each one
        google.app.add_routes([r for r in drive_gmail.routes() if r.path != "/token"])
        web_app.add_subapp(GOOGLE_PREFIX, google.app)
    responses = ResponseRouter(slack, settings.slack_api_url, changed=feed.bump)
    ui = SandboxUI(
        workspace=workspace,
        plisio=plisio,
        routing=setup.routing,
        feed=feed,
        interactions=Interactions(workspace, link, responses),
        world=world,
        sheet=google.page_state if google else None,
        zendesk=zendesk,
    )
    web_app.add_subapp(SLACK_PREFIX, slack.app)
    web_app.add_subapp(ZENDESK_PREFIX, zendesk.app)
    web_app.add_subapp(PLISIO_PREFIX, plisio.app)
    stripe = FakeStripe.demo(_secret(settings.stripe_api_key))
    web_app.add_subapp(STRIPE_PREFIX, stripe.app)
    hubspot = FakeHubSpot(_secret(settings.hubspot_access_token))
    hubspot.seed_demo(datetime.now(UTC).date())
    web_app.add_subapp(HUBSPOT_PREFIX, hubspot.app)
    quickbooks = FakeQuickBooks.for_sandbox(settings)
    web_app.add_subapp(QUICKBOOKS_PREFIX, quickbooks.app)
    # Kept across a restart with the workspace (the bot holds their ids in external_refs).
    world.keep("zendesk", zendesk)
    world.keep("quickbooks", quickbooks)
    world.keep("drive_gmail", drive_gmail)
    if google is not None:
        world.keep("google", google)
    ui.register(web_app, UI_PATH)
    ui.google_html = lambda: drive_gmail.page_html(GOOGLE_PREFIX)

    async def close_http(_app: web.Application) -> None:
        await http.aclose()

    web_app.on_shutdown.append(feed.close)
    # Saved while the bot's workers still run (their transactions whole); bot.app saves what
    # they did after this once they are stopped.
    web_app.on_shutdown.append(world.flush)
    web_app.on_cleanup.append(close_http)
    return Sandbox(
        setup,
        workspace,
        slack,
        plisio,
        feed,
        ui,
        world,
        stripe=stripe,
        hubspot=hubspot,
        google=google,
        quickbooks=quickbooks,
        zendesk=zendesk,
        drive_gmail=drive_gmail,
    )
