"""The loopback Slack and Plisio in a process of their own, so benchmarks measure the bot and the
load generator rather than the fakes sharing the load generator's event loop.

``python -m bench.fakes`` prints one JSON line, ``{"slack": ..., "plisio": ..., "control": ...}``,
once it serves, and runs until SIGTERM. The control API: ``POST /config`` with ``slack_rate``,
``slack_burst`` and ``plisio_delay``; ``GET /stats`` for what the fakes saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from bench.stack import PLISIO_KEY, ROOT, SLACK_TOKEN, posted_handoffs
from sandbox.plisio import FakePlisio
from sandbox.slack_api import SlackAPI, SlackWorkspace

__all__ = ["Fakes", "main"]


def _stats(slack: SlackAPI, plisio: FakePlisio) -> dict[str, Any]:
    posts = [
        c.at
        for c in slack.calls_to("chat.postMessage")
        if c.ok and isinstance(c.args.get("metadata"), dict) and not c.args.get("thread_ts")
    ]
    posted = posted_handoffs(slack)
    return {
        "clock": time.monotonic(),
        "post_times": posts,  # CLOCK_MONOTONIC, shared by every process on a Linux machine
        "posted": {h: [[m.channel, m.ts] for m in ms] for h, ms in posted.items()},
        "rate_limited": slack.rate_limited_count,
        "calls": dict(Counter(c.method for c in slack.calls)),
        "invoices": Counter(i.order_number for i in plisio.invoices.values()),
    }


async def _serve() -> None:
    slack = SlackAPI(SlackWorkspace.demo(), bot_token=SLACK_TOKEN)
    plisio = FakePlisio(PLISIO_KEY)

    async def configure(request: web.Request) -> web.Response:
        body = await request.json()
        if "slack_rate" in body:
            slack.per_channel_post_rate = body["slack_rate"]
        if "slack_burst" in body:
            slack.per_channel_burst = float(body["slack_burst"])
        if "plisio_delay" in body:
            plisio.delay_seconds = float(body["plisio_delay"])
        return web.json_response({"ok": True})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(_stats(slack, plisio))

    control = web.Application()
    control.router.add_post("/config", configure)
    control.router.add_get("/stats", stats)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with slack.serve() as slack_url, plisio.running() as plisio_url:
            line = {"slack": slack_url, "plisio": plisio_url, "control": control_url}
            print(json.dumps(line), flush=True)
            await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    asyncio.run(_serve())
    return 0


class Fakes:
    """The fakes' process, seen from a benchmark."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.slack_url = self.plisio_url = self.control_url = ""
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 20.0) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fakes",
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), timeout=timeout)
        if not line:
            raise RuntimeError("the fakes' process exited before serving")
        urls = json.loads(line)
        self.slack_url, self.plisio_url, self.control_url = (
            urls["slack"],
            urls["plisio"],
            urls["control"],
        )

    async def configure(self, **values: float | None) -> None:
        async with self.session.post(f"{self.control_url}/config", json=values) as response:
            response.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.control_url}/stats") as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def close(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.wait_for(proc.wait(), timeout=10)


@contextlib.asynccontextmanager
async def running_fakes(
    session: aiohttp.ClientSession, **config: float | None
) -> AsyncIterator[Fakes]:
    """Start the fakes' process (configured), and stop it afterwards whatever happens."""
    fakes = Fakes(session)
    try:
        await fakes.start()
        if config:
            await fakes.configure(**config)
        yield fakes
    finally:
        await fakes.close()


if __name__ == "__main__":
    sys.exit(main())
