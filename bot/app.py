"""Builds the one aiohttp web application: Slack (Bolt), DialNexa and Plisio routes, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from blocks.audit import thread_note
from bot.container import Container, build_slack_client, utc_now
from bot.scheduler import (
    BotScheduler,
    build_scheduler,
    start_scheduler,
    stop_scheduler,
    wire_follow_ups,
)
from bot.settings import BotMode, Settings
from handlers import actions, commands, dialnexa, errors, health, plisio_callback, views
from handlers import home as home_tab
from sandbox.mount import mount as mount_sandbox
from sandbox.setup import SandboxSetup
from services.db.engine import Database
from services.delivery import Delivery
from services.directory import SlackDirectory
from services.handoffs import HandoffService
from services.intake import HandoffIntake
from services.outbox import Outbox
from services.payments import PaymentOutcome, PaymentResult, PaymentUpdates
from services.plisio import InvoiceLookup, PlisioClient, build_http_client
from services.routing import RoutingConfig, load_routing

__all__ = ["BotApp", "build_app"]

logger = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
CONTAINER_KEY: web.AppKey[Container] = web.AppKey("container", Container)

Worker = Callable[[Container], Coroutine[Any, Any, None]]
# Which thread note a Plisio status gets (others are noted with their raw status).
PAYMENT_NOTES = {
    "completed": "paid",
    "mismatch": "mismatch",
    "expired": "expired",
    "cancelled": "cancelled",
    "cancelled duplicate": "cancelled",
}


@dataclass
class BotApp:
    web: web.Application
    bolt: AsyncApp
    container: Container
    workers: list[Worker] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler: BotScheduler | None = None  # reminders and digests, when workers run
    readiness: health.Readiness = field(default_factory=health.Readiness)


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else ""


def build_bolt(container: Container) -> AsyncApp:
    """The Bolt app with every Slack listener registered."""
    settings = container.settings
    bolt = AsyncApp(
        client=container.slack,
        signing_secret=_secret(settings.slack_signing_secret),
        process_before_response=settings.slack_process_before_response,
    )
    actions.register(bolt, container)
    views.register(bolt, container)
    commands.register(bolt, container)
    home_tab.register(bolt, container)
    errors.register(bolt)
    return bolt


def build_app(
    settings: Settings,
    *,
    routing: RoutingConfig | None = None,
    clock: Callable[[], datetime] = utc_now,
    http: httpx.AsyncClient | None = None,
    run_workers: bool = True,
) -> BotApp:
    """Wire settings into services, listeners and routes; nothing runs until the app starts."""
    mode = settings.effective_mode()
    sandbox_setup = None
    if mode is BotMode.SANDBOX:
        # Per-process secrets, loopback URLs and the demo routing (see sandbox/setup.py).
        sandbox_setup = SandboxSetup.create(settings, routing)
        settings, routing = sandbox_setup.settings, sandbox_setup.routing
    routing_config = routing or load_routing(settings.routing_file)
    db = Database(settings.effective_database_url(), schema=settings.database_schema)
    intake = HandoffIntake(db, lambda: routing_config, clock=clock)
    slack = build_slack_client(_secret(settings.slack_bot_token), settings.slack_api_url)
    http_client = http or build_http_client()
    plisio = PlisioClient(
        _secret(settings.plisio_secret_key), http=http_client, base_url=settings.plisio_api_url
    )
    lookup = InvoiceLookup(plisio)
    handoffs = HandoffService(
        db, lambda: routing_config, clock=clock, sandbox=mode is BotMode.SANDBOX
    )
    outbox = Outbox(db, clock=clock, lease=timedelta(seconds=settings.outbox_lease_seconds))
    directory = SlackDirectory(slack)
    delivery = Delivery(
        db=db,
        outbox=outbox,
        handoffs=handoffs,
        slack=slack,
        directory=directory,
        plisio=plisio,
        lookup=lookup,
        public_url=settings.public_url,
        clock=clock,
        poll_seconds=settings.outbox_poll_seconds,
        fallback_channel=routing_config.channels.default,
        post_rate=settings.slack_post_rate_per_channel,
    )
    container = Container(
        settings=settings,
        mode=mode,
        db=db,
        routing=routing_config,
        intake=intake,
        slack=slack,
        http=http_client,
        handoffs=handoffs,
        outbox=outbox,
        directory=directory,
        plisio=plisio,
        lookup=lookup,
        delivery=delivery,
        clock=clock,
    )
    wire_follow_ups(container)
    bolt = build_bolt(container)

    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[CONTAINER_KEY] = container

    async def slack_events(request: web.Request) -> web.Response:
        try:
            response = await bolt.async_dispatch(await to_bolt_request(request))
        except Exception:
            # Bolt parses the payload before any listener runs: a signed but malformed body
            # (no actions, a view without state) must not surface as a 500 and a traceback.
            logger.exception("could not handle a Slack request")
            return web.json_response(
                {"error": "bad_request", "message": "the Slack payload could not be handled"},
                status=400,
            )
        if response.status >= 500:
            logger.error("Slack request answered %s", response.status)
        return await to_aiohttp_response(response)

    web_app.router.add_post(SLACK_EVENTS_PATH, slack_events)
    dialnexa.register(
        web_app, intake, _secret(settings.dialnexa_webhook_secret), on_accepted=outbox.kick
    )
    readiness = health.Readiness()
    health.register(web_app, db, mode=mode.value, readiness=readiness)
    payments = PaymentUpdates(db, clock=clock)

    async def show_payment(result: PaymentResult) -> None:
        if result.handoff_id is None or result.outcome is not PaymentOutcome.UPDATED:
            return
        action = PAYMENT_NOTES.get(result.status)
        note = (
            thread_note(action, "plisio", clock())
            if action
            else thread_note("payment_status", "plisio", clock(), detail=result.status)
        )
        await delivery.refresh(result.handoff_id, note=note)

    plisio_callback.register(
        web_app, payments, _secret(settings.plisio_secret_key), on_applied=show_payment
    )

    bot_app = BotApp(web=web_app, bolt=bolt, container=container, readiness=readiness)
    bot_app.workers.append(lambda c: c.delivery.run_forever())

    async def on_startup(_app: web.Application) -> None:
        await db.migrate()
        if run_workers:
            for worker in bot_app.workers:
                bot_app.tasks.append(asyncio.create_task(worker(container)))
            bot_app.scheduler = build_scheduler(container)
            start_scheduler(bot_app.scheduler)
        logger.info("bot ready", extra={"mode": mode.value, "database": db.backend})

    async def on_cleanup(_app: web.Application) -> None:
        if bot_app.scheduler is not None:
            await stop_scheduler(bot_app.scheduler)
        for task in bot_app.tasks:
            task.cancel()
        await asyncio.gather(*bot_app.tasks, return_exceptions=True)
        await container.http.aclose()
        await db.dispose()

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
    if sandbox_setup is not None:
        container.extras["sandbox"] = mount_sandbox(web_app, sandbox_setup)
        logger.warning(
            "SANDBOX MODE: no real Slack or Plisio is contacted; open %s", sandbox_setup.ui_url
        )
    return bot_app
