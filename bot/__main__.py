"""``python -m bot``: start the Finance Handoff Bot."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from bot.app import BotApp, build_app, server_options
from bot.logging_setup import configure_logging
from bot.processes import (
    READY,
    Helpers,
    HelperStartError,
    KickSender,
    helper_role,
    watch_primary,
)
from bot.settings import BotMode, ConfigError, load_settings
from services.routing import RoutingConfigError

logger = logging.getLogger("bot")


class ListenError(RuntimeError):
    """The web server could not open its port (taken by another program, say)."""


def _ready(bot_app: BotApp) -> Callable[[], None]:
    def mark() -> None:
        bot_app.readiness.starting = False

    return mark


async def _serve() -> None:
    settings = load_settings()
    mode = settings.effective_mode()
    role = helper_role()
    label = "SANDBOX" if mode is BotMode.SANDBOX else f"web-{role.index}" if role else ""
    configure_logging(settings.log_level, label=label)
    processes = settings.web_processes
    if processes > 1 and mode is BotMode.SANDBOX:
        logger.warning("WEB_PROCESSES=%d ignored: the sandbox runs in one process", processes)
        processes = 1
    # Helpers answer HTTP only; the primary runs the poster and the scheduler (bot/processes.py).
    bot_app = build_app(settings, run_workers=role is None)
    settings = bot_app.container.settings  # sandbox mode replaces secrets, URLs and host
    tell_primary = KickSender(role.kick_port) if role else None
    if tell_primary is not None:
        bot_app.container.outbox.forward = tell_primary
    runner = web.AppRunner(
        bot_app.web, handle_signals=False, shutdown_timeout=10, **server_options(settings)
    )
    await runner.setup()
    helpers = None
    socket_handler = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if role is None and processes > 1:
            helpers = Helpers(processes - 1, kick=bot_app.container.outbox.kick)
            await helpers.start()
        shared_port = processes > 1 or role is not None
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=shared_port or None)
        if role is not None:
            # Not "ready" until the primary says the group is up; gone when the primary is.
            bot_app.readiness.starting = True
            await watch_primary(on_up=_ready(bot_app), on_exit=stop.set)
        try:
            await site.start()
        except OSError as exc:
            raise ListenError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
            ) from None
        logger.info(
            "listening on http://%s:%s (%s mode%s)",
            settings.host,
            settings.port,
            mode.value,
            f", {processes} web processes" if processes > 1 else "",
        )
        if bot_app.sandbox is not None:
            print(bot_app.sandbox.banner(), file=sys.stderr, flush=True)

        if role is not None and tell_primary is not None:
            tell_primary(READY + str(role.index).encode())
        if helpers is not None:
            helpers.confirm()

        if role is None and mode is BotMode.SLACK and settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(
                bot_app.bolt, settings.slack_app_token.get_secret_value()
            )
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]
            logger.info("connected to Slack in Socket Mode")

        await stop.wait()
        logger.info("shutting down")
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        if helpers is not None:
            await helpers.stop()
        await runner.cleanup()


def main() -> int:
    try:
        asyncio.run(_serve())
    except (ConfigError, RoutingConfigError, HelperStartError, ListenError) as exc:
        print(f"finance-handoff-bot cannot start:\n{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
