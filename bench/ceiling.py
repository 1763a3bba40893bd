"""``python -m bench.ceiling PORT``: the machine's ceiling for the intake benchmark.

The same web stack as the bot (aiohttp, one process, one event loop) answering
``POST /dialnexa/handoffs`` with the bot's 202 body and doing no work: no signature check, no
parsing, no database. Whatever the load generator gets from it is the most this machine can give.
"""

from __future__ import annotations

import sys

from aiohttp import web

__all__ = ["build", "main"]


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


def main(argv: list[str]) -> int:
    port = int(argv[1]) if len(argv) > 1 else 3900
    web.run_app(build(), host="127.0.0.1", port=port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
