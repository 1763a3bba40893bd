"""GET /metrics: Prometheus metrics, for a scraper that holds the bearer token (METRICS_TOKEN)."""

from __future__ import annotations

import hmac
import logging
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ["PATH", "MetricsSource", "register"]

logger = logging.getLogger(__name__)

PATH = "/metrics"
OFF = {
    "error": "metrics_disabled",
    "message": "metrics are off: set METRICS_TOKEN to serve GET /metrics",
}
UNAUTHORIZED = {
    "error": "unauthorized",
    "message": "send the metrics token as 'Authorization: Bearer <METRICS_TOKEN>'",
}


class MetricsSource(Protocol):
    """What the route exposes (``bot.metrics.PrometheusMetrics``)."""

    async def exposition(self) -> bytes: ...


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def register(
    web_app: web.Application, metrics: MetricsSource, token: str | None, *, path: str = PATH
) -> None:
    """Add the metrics route: 404 while the token is empty, 401 without the right one.

    ``token=None`` serves without one: only the sandbox does, for its made-up data.
    """
    expected = token.encode() if token is not None else None

    async def scrape(request: web.Request) -> web.Response:
        if expected is None:
            return await _exposition(metrics)
        if not expected:
            return web.json_response(OFF, status=404)
        given = _bearer(request)
        # Compared in constant time, as bytes: a wrong token reveals nothing by its timing.
        if given is None or not hmac.compare_digest(given.encode(), expected):
            logger.warning("refused a metrics scrape: %s token", "wrong" if given else "no")
            challenge = 'Bearer realm="metrics"'
            if given is not None:
                challenge += ', error="invalid_token"'
            return web.json_response(
                UNAUTHORIZED, status=401, headers={"WWW-Authenticate": challenge}
            )
        return await _exposition(metrics)

    web_app.router.add_get(path, scrape)


async def _exposition(metrics: MetricsSource) -> web.Response:
    body = await metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
