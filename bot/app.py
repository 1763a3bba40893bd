"""Builds the one aiohttp web application: Slack (Bolt), DialNexa and Plisio routes, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import httpx
from aiohttp import web, web_response
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.container import Container, build_container, secret_value, utc_now
from bot.scheduler import BotScheduler, build_scheduler, start_scheduler, stop_scheduler
from bot.settings import BotMode, Settings
from connectors.base import Connector
from handlers import (
    actions,
    commands,
    delegation,
    dialnexa,
    errors,
    health,
    messages,
    plisio_callback,
    reissue,
    replays,
    request_confirmation,
    views,
)
from handlers import home as home_tab
from sandbox.mount import Sandbox
from sandbox.mount import mount as mount_sandbox
from sandbox.setup import SandboxSetup
from services.db.engine import Database
from services.mapping import MappingGaps, describe_gaps
from services.payments import PaymentResult
from services.routing import RoutingConfig, load_routing

__all__ = ["SERVER_NAME", "BotApp", "build_app", "server_options"]

logger = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
# What the Server header says: no framework, no versions.
SERVER_NAME = "finance-handoff-bot"
WORKER_STOP_SECONDS = 5.0  # how long shut-down lets the outbox pass under way finish
CONTAINER_KEY: web.AppKey[Container] = web.AppKey("container", Container)

Worker = Callable[[Container], Coroutine[Any, Any, None]]


@dataclass
class BotApp:
    web: web.Application
    bolt: AsyncApp
    container: Container
    workers: list[Worker] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler: BotScheduler | None = None  # reminders and digests, when workers run
    readiness: health.Readiness = field(default_factory=health.Readiness)
    sandbox: Sandbox | None = None  # the sandbox's fakes and page, in sandbox mode only


def server_options(settings: Settings) -> dict[str, Any]:
    """aiohttp server (AppRunner / TestServer) options that cut off slow or idle clients.

    ``keepalive_timeout`` is aiohttp's only deadline before a request's head is complete: the
    connection is closed if a whole request line and headers have not arrived that long after it
    opened (or after the previous answer), however slowly bytes trickle in. ``lingering_time``
    bounds how long an unread body is drained after an early answer (a 408, 413 or 401).
    """
    return {
        "keepalive_timeout": settings.http_header_timeout_seconds,
        "lingering_time": min(2.0, settings.http_body_timeout_seconds),
    }


def body_deadline(seconds: float) -> Any:
    """aiohttp middleware: a request whose body has not fully arrived in ``seconds`` gets 408.

    The handler runs as usual (it reads the body itself); if the body is still incomplete when
    the deadline passes, the handler is cancelled, which is safe because nothing is acted on
    before the body has been read and verified.
    """

    @web.middleware
    async def cap(
        request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if not request.body_exists or request.content.is_eof():
            return cast(web.StreamResponse, await handler(request))
        received: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def arrived() -> None:
            if not received.done():
                received.set_result(None)

        request.content.on_eof(arrived)
        work = asyncio.ensure_future(handler(request))
        try:
            done, _pending = await asyncio.wait(
                {work, received}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            work.cancel()
            raise
        if done:
            return cast(web.StreamResponse, await work)
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        logger.warning(
            "refused a request: body not received within %s s",
            seconds,
            extra={"path": request.path},
        )
        return web.json_response(
            {"error": "request_timeout", "message": f"body not received within {seconds:g} s"},
            status=408,
            headers={"Connection": "close"},
        )

    return cap


async def _server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


def _hide_server_version() -> None:
    """Make aiohttp's own answers (a 400 for a malformed request line, written before any app
    code runs) say SERVER_NAME too: they take the header from this module constant, for which
    aiohttp has no setting. Only server responses read it; the client's User-Agent does not."""
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]


def build_bolt(container: Container) -> AsyncApp:
    """The Bolt app with every Slack listener registered, behind the replay check.

    Each ``register`` only wires ids to module-level listeners; the container is handed in as
    the narrow dependencies each module declares.
    """
    settings = container.settings
    bolt = AsyncApp(
        client=container.slack,
        signing_secret=secret_value(settings.slack_signing_secret),
        process_before_response=settings.slack_process_before_response,
    )
    replays.register(bolt, container.seen)
    actions.register(bolt, container)
    reissue.register(bolt, container)
    views.register(bolt, container)
    commands.register(bolt, container)
    home_tab.register(bolt, container)
    delegation.register(bolt, container)
    messages.register(bolt, container)
    errors.register(bolt)
    return bolt


async def _log_mapping_gaps(db: Database) -> None:
    """One line for whoever launches the bot: DialNexa fields open handoffs arrived without."""
    try:
        gaps = await MappingGaps(db).counts()
    except Exception:
        logger.exception("could not count the DialNexa fields that need mapping")
        return
    if gaps:
        logger.warning(
            "DialNexa fields need mapping; open handoffs arrived without: %s", describe_gaps(gaps)
        )


def build_app(
    settings: Settings,
    *,
    routing: RoutingConfig | None = None,
    clock: Callable[[], datetime] = utc_now,
    http: httpx.AsyncClient | None = None,
    run_workers: bool = True,
    extra_connectors: Iterable[Connector] = (),
) -> BotApp:
    """Wire settings into services, listeners and routes; nothing runs until the app starts."""
    mode = settings.effective_mode()
    sandbox_setup = None
    if mode is BotMode.SANDBOX:
        # Per-process secrets, loopback URLs and the demo routing (see sandbox/setup.py).
        sandbox_setup = SandboxSetup.create(settings, routing)
        settings, routing = sandbox_setup.settings, sandbox_setup.routing
    container = build_container(
        settings,
        mode,
        routing or load_routing(settings.routing_file),
        clock=clock,
        http=http,
        extra_connectors=extra_connectors,
    )
    db, outbox, seen = container.db, container.outbox, container.seen
    bolt = build_bolt(container)

    web_app = web.Application(
        client_max_size=2 * 1024 * 1024,
        middlewares=[body_deadline(settings.http_body_timeout_seconds)],
    )
    web_app.on_response_prepare.append(_server_header)
    _hide_server_version()
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
        elif response.status == 401:
            # Bolt's own line about it carries the unverified body; this one is rate-limited.
            logger.warning("refused a Slack request: invalid or missing signature")
        return await to_aiohttp_response(response)

    web_app.router.add_post(SLACK_EVENTS_PATH, slack_events)
    dialnexa.register(
        web_app,
        container.intake,
        secret_value(settings.dialnexa_webhook_secret),
        on_accepted=outbox.kick,
    )
    readiness = health.Readiness()
    health.register(web_app, db, mode=mode.value, readiness=readiness)
    payments = container.payments

    async def show_payment(result: PaymentResult) -> None:
        await plisio_callback.show_payment(result, container)

    plisio_callback.register(
        web_app, payments, container.connectors.provider, on_applied=show_payment
    )

    bot_app = BotApp(web=web_app, bolt=bolt, container=container, readiness=readiness)
    bot_app.workers.append(lambda c: c.worker.run_forever())

    async def on_startup(_app: web.Application) -> None:
        await db.migrate()
        if bot_app.sandbox is not None:  # the pretend workspace and Plisio, before any post
            await bot_app.sandbox.world.restore()
        if run_workers:
            for worker in bot_app.workers:
                bot_app.tasks.append(asyncio.create_task(worker(container)))
            bot_app.scheduler = build_scheduler(container)
            start_scheduler(bot_app.scheduler)
        logger.info("bot ready", extra={"mode": mode.value, "database": db.backend})
        await _log_mapping_gaps(db)

    async def on_cleanup(_app: web.Application) -> None:
        await request_confirmation.stop_follow_ups()
        if bot_app.scheduler is not None:
            await stop_scheduler(bot_app.scheduler)
        # The outbox pass under way finishes first: a task cancelled in the middle of a SQLite
        # query leaves aiosqlite's close waiting forever (the loop then never closes).
        container.worker.stop()
        if bot_app.tasks:
            await asyncio.wait(bot_app.tasks, timeout=WORKER_STOP_SECONDS)
        for task in bot_app.tasks:
            task.cancel()
        await asyncio.gather(*bot_app.tasks, return_exceptions=True)
        if bot_app.sandbox is not None:  # what the workers did since the sandbox's own save
            await bot_app.sandbox.world.flush()
        await container.http.aclose()
        await seen.close()
        await db.dispose()

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
    if sandbox_setup is not None:
        bot_app.sandbox = mount_sandbox(web_app, sandbox_setup, db)
        logger.warning(
            "SANDBOX MODE: no real Slack or Plisio is contacted; open %s", sandbox_setup.ui_url
        )
    return bot_app
