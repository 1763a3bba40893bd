"""GET /healthz: is the process up and can it reach its database."""

from __future__ import annotations

from aiohttp import web

from services.db.engine import Database

__all__ = ["register"]


def register(web_app: web.Application, db: Database, *, mode: str) -> None:
    """Add the health route."""

    async def healthz(_request: web.Request) -> web.Response:
        reachable = await db.ping()
        body = {
            "status": "ok" if reachable else "degraded",
            "database": {"backend": db.backend, "reachable": reachable},
            "mode": mode,
        }
        return web.json_response(body, status=200 if reachable else 503)

    web_app.router.add_get("/healthz", healthz)
