"""``python -m bench.ceiling PORT [PROCESSES]``: the machine's ceiling for the intake benchmark.

The same web stack as the bot (aiohttp, one event loop per process, ``PROCESSES`` processes
sharing the port like the bot's ``WEB_PROCESSES``) answering ``POST /dialnexa/handoffs`` with the
bot's 202 body and doing no work: no signature check, no parsing, no database. Whatever the load
generator gets from it is the most this machine can give.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys

from aiohttp import web

__all__ = ["build", "main"]

_CHILD = "--child"


def build() -> web.Application:
    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"handoff_id": "0" * 32, "status": "accepted"}, status=202)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_post("/dialnexa/handoffs", accept)
    app.router.add_get("/healthz", healthz)
    return app


async def _serve(port: int, processes: int, child: bool) -> None:
    runner = web.AppRunner(build(), access_log=None, handle_signals=False)
    await runner.setup()
    children: list[subprocess.Popen[bytes]] = []
    if not child:
        # Children listen first, so /healthz answers only once every process takes connections.
        for _ in range(processes - 1):
            argv = [sys.executable, "-m", "bench.ceiling", str(port), "1", _CHILD]
            children.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        for process in children:
            assert process.stdout is not None
            await asyncio.to_thread(process.stdout.readline)
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_port=processes > 1 or child or None)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if child:
        print("ready", flush=True)
        # The parent holds our stdin: when it ends, so do we.
        loop.add_reader(sys.stdin.fileno(), stop.set)
    await stop.wait()
    for process in children:
        process.terminate()
    for process in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    await runner.cleanup()


def main(argv: list[str]) -> int:
    port = int(argv[1]) if len(argv) > 1 else 3900
    processes = int(argv[2]) if len(argv) > 2 else 1
    asyncio.run(_serve(port, processes, child=_CHILD in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
