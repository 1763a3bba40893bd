"""GET /healthz: is the process up and can it reach its database."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.db.engine import Database

__all__ = ["Readiness", "register"]


@dataclass
class Readiness:
    """Whether this process reports ready: a web helper waits for its primary's word."""

    starting: bool = False


def register(
    web_app: web.Application, db: Database, *, mode: str, readiness: Readiness | None = None
) -> None:
    """Add the health route."""
    state = readiness or Readiness()

    async def healthz(_request: web.Request) -> web.Response:
        if state.starting:
            return web.json_response({"status": "starting", "mode": mode}, status=503)
        reachable = await db.ping()
        body = {
            "status": "ok" if reachable else "degraded",
            "database": {"backend": db.backend, "reachable": reachable},
            "mode": mode,
        }
        return web.json_response(body, status=200 if reachable else 503)

    web_app.router.add_get("/healthz", healthz)
