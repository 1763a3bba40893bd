"""``python -m bot``: start the Finance Handoff Bot."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from bot.app import build_app
from bot.logging_setup import configure_logging
from bot.settings import BotMode, ConfigError, load_settings
from sandbox.mount import Sandbox
from services.routing import RoutingConfigError

logger = logging.getLogger("bot")


async def _serve() -> None:
    settings = load_settings()
    mode = settings.effective_mode()
    configure_logging(settings.log_level, label="SANDBOX" if mode is BotMode.SANDBOX else "")
    bot_app = build_app(settings)
    settings = bot_app.container.settings  # sandbox mode replaces secrets, URLs and host
    runner = web.AppRunner(bot_app.web, handle_signals=False, shutdown_timeout=10)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    logger.info("listening on http://%s:%s (%s mode)", settings.host, settings.port, mode.value)
    sandbox = bot_app.container.extras.get("sandbox")
    if isinstance(sandbox, Sandbox):
        print(sandbox.banner(), file=sys.stderr, flush=True)

    socket_handler = None
    if mode is BotMode.SLACK and settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket_handler = AsyncSocketModeHandler(
            bot_app.bolt, settings.slack_app_token.get_secret_value()
        )
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info("connected to Slack in Socket Mode")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("shutting down")
    if socket_handler is not None:
        await socket_handler.close_async()  # type: ignore[no-untyped-call]
    await runner.cleanup()


def main() -> int:
    try:
        asyncio.run(_serve())
    except (ConfigError, RoutingConfigError) as exc:
        print(f"finance-handoff-bot cannot start:\n{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
