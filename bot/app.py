"""Builds the one aiohttp web application: Slack (Bolt), DialNexa and Plisio routes, health,
metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import httpx
from aiohttp import web, web_response
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse

from bot.container import Container, build_container, secret_value, utc_now
from bot.scheduler import BotScheduler, build_scheduler, start_scheduler, stop_scheduler
from bot.settings import BotMode, Settings
from connectors.base import Connector
from handlers import (
    actions,
    approver_dms,
    commands,
    delegation,
    dialnexa,
    errors,
    export,
    health,
    info,
    messages,
    metrics,
    plisio_callback,
    reissue,
    replays,
    request_confirmation,
    views,
)
from handlers import home as home_tab
from sandbox.mount import Sandbox
from sandbox.mount import mount as mount_sandbox
from sandbox.setup import METRICS_PATH, SandboxSetup
from services.db.engine import Database
from services.mapping import MappingGaps, describe_gaps
from services.payments import PaymentResult
from services.routing import RoutingConfig, load_routing
from services.workspaces import enter_team, in_team
from slack_adapter.workspaces import SlackClients, build_state_store

__all__ = ["SERVER_NAME", "BotApp", "build_app", "server_options"]

logger = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"  # Bolt's defaults (several workspaces only)
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
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
        oauth_settings=oauth_settings(container),
    )
    if container.workspaces is not None:
        bolt.middleware(in_request_team)
    register_uninstalls(bolt, container.workspaces)
    replays.register(bolt, container.seen)
    actions.register(bolt, container)
    reissue.register(bolt, container)
    views.register(bolt, container)
    info.register(bolt, container)
    commands.register(bolt, container)
    home_tab.register(bolt, container)
    approver_dms.register(bolt, container)
    export.register(bolt, container)
    delegation.register(bolt, container)
    messages.register(bolt, container)
    errors.register(bolt)
    return bolt


def oauth_settings(container: Container) -> AsyncOAuthSettings | None:
    """Slack's OAuth install flow, when several workspaces are served (else None: one token).

    Installs and install states live in the bot's database (slack_sdk's async SQLAlchemy stores,
    tables from migration 0011), bot tokens encrypted with CONNECTOR_ENCRYPTION_KEY.
    """
    workspaces = container.workspaces
    if workspaces is None:
        return None
    settings = container.settings
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret_value(settings.slack_client_secret),
        scopes=settings.bot_scopes(),
        user_scopes=[],
        redirect_uri=settings.install_redirect_uri(),
        install_path=INSTALL_PATH,
        redirect_uri_path=OAUTH_REDIRECT_PATH,
        authorization_url=settings.slack_authorize_url,
        installation_store=workspaces.store,
        installation_store_bot_only=True,
        state_store=build_state_store(container.db.engine, settings.slack_install_state_seconds),
        state_expiration_seconds=settings.slack_install_state_seconds,
        logger=logging.getLogger("slack_bolt.oauth"),
    )


async def in_request_team(
    context: AsyncBoltContext, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse | None:
    """Bolt middleware (several workspaces): the listener, and the work it starts, run for the
    team the request came from, so the bot's client uses that workspace's token.

    Bolt runs its listeners after the middleware has returned, so this sets the team for the rest
    of the dispatch; ``slack_events`` scopes the whole dispatch (``in_team``).
    """
    enter_team(context.team_id)
    return await next()


UNINSTALL_EVENTS = ("app_uninstalled", "tokens_revoked")


def register_uninstalls(bolt: AsyncApp, workspaces: SlackClients | None) -> None:
    """A workspace that uninstalls the app (or revokes its token) is forgotten: its install is
    deleted, so its deliveries are refused and nothing more is sent there. With one token these
    events are only acknowledged (the token stops working; nothing is stored)."""

    async def uninstalled(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if workspaces is None:
            return
        if event.get("type") == "tokens_revoked" and not (event.get("tokens") or {}).get("bot"):
            return  # a user's token: this bot keeps none
        await workspaces.store.async_delete_all(
            enterprise_id=context.enterprise_id, team_id=context.team_id
        )
        if context.team_id:
            workspaces.forget(context.team_id)
        logger.warning("Slack workspace %s uninstalled the app", context.team_id)

    for event in UNINSTALL_EVENTS:
        bolt.event(event)(uninstalled)


def add_install_routes(web_app: web.Application, bolt: AsyncApp) -> None:
    """``GET /slack/install`` (the Add to Slack page) and ``/slack/oauth_redirect`` (Slack sends
    the installer back here), when Bolt has an OAuth flow."""
    flow = bolt.oauth_flow
    if flow is None:
        return

    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def redirect(request: web.Request) -> web.Response:
        response = await flow.handle_callback(await to_bolt_request(request))
        if response.status != 200:
            logger.warning("refused a Slack install: answered %s", response.status)
        else:
            logger.info("Slack install completed")
        return await to_aiohttp_response(response)

    web_app.router.add_get(flow.install_path, install)
    web_app.router.add_get(flow.redirect_uri_path, redirect)


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
            with in_team(None):  # the team Bolt's middleware names is this request's only
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
    add_install_routes(web_app, bolt)
    dialnexa.register(
        web_app,
        container.intake,
        secret_value(settings.dialnexa_webhook_secret),
        on_accepted=outbox.kick,
        teams=container.workspaces,
        telemetry=container.metrics,
    )
    metrics.register(web_app, container.metrics, secret_value(settings.metrics_token))
    export.register_http(
        web_app,
        db,
        token=secret_value(settings.export_api_token),
        events=container.connectors.events,
        clock=container.clock,
    )
    readiness = health.Readiness()
    health.register(web_app, db, mode=mode.value, readiness=readiness)
    payments = container.payments

    async def show_payment(result: PaymentResult) -> None:
        team = None
        if container.worker.team_of is not None and result.handoff_id is not None:
            team = await container.worker.team_of(result.handoff_id)
        with in_team(team):
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
        metrics.register(web_app, container.metrics, token=None, path=METRICS_PATH)
        logger.warning(
            "SANDBOX MODE: no real Slack or Plisio is contacted; open %s", sandbox_setup.ui_url
        )
    return bot_app
