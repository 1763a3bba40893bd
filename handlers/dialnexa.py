"""POST /dialnexa/handoffs: the signed finance handoff webhook."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web

from services.db.engine import DatabaseUnavailable
from services.intake import MAX_BODY_BYTES, HandoffIntake, IntakeError, parse_delivery
from services.telemetry import NO_TELEMETRY, Telemetry

__all__ = ["PATH", "register"]

logger = logging.getLogger(__name__)

PATH = "/dialnexa/handoffs"


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise IntakeError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    # read(n) returns what has arrived so far, not n bytes: read on to the end of the body.
    body = bytearray()
    while chunk := await request.content.read(MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise IntakeError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def make_handler(
    intake: HandoffIntake,
    secret: str,
    *,
    on_accepted: Callable[[], None] = lambda: None,
    now: Callable[[], float] = time.time,
) -> Callable[[web.Request], object]:
    """The aiohttp handler for one intake service and webhook secret."""

    async def handle(request: web.Request) -> web.Response:
        try:
            body = await _read_limited(request)
            handoff = parse_delivery(
                body=body,
                content_type=request.headers.get("Content-Type"),
                timestamp=request.headers.get("X-DialNexa-Timestamp"),
                signature=request.headers.get("X-DialNexa-Signature"),
                secret=secret,
                now=now(),
            )
            result = await intake.store(handoff)
        except IntakeError as exc:
            if exc.status == 401:
                logger.warning("refused DialNexa delivery: %s", exc.message)
            return web.json_response(exc.to_json(), status=exc.status)
        except DatabaseUnavailable:
            return web.json_response(
                {"error": "unavailable", "message": "storage is busy; retry shortly"},
                status=503,
                headers={"Retry-After": "5"},
            )
        if result.duplicate:
            return web.json_response(
                {"handoff_id": result.handoff_id, "status": "accepted", "duplicate": True},
                status=200,
            )
        on_accepted()
        return web.json_response(
            {"handoff_id": result.handoff_id, "status": "accepted"}, status=202
        )

    return handle


def register(
    web_app: web.Application,
    intake: HandoffIntake,
    secret: str,
    *,
    on_accepted: Callable[[], None] = lambda: None,
    telemetry: Telemetry = NO_TELEMETRY,
) -> None:
    """Add the webhook route; ``on_accepted`` wakes the poster after a new handoff is stored,
    ``telemetry`` counts every answer by its HTTP status."""
    handler = cast(
        Callable[[web.Request], Awaitable[web.StreamResponse]],
        make_handler(intake, secret, on_accepted=on_accepted),
    )

    async def counted(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            telemetry.intake_answered(exc.status)
            raise
        except Exception:
            telemetry.intake_answered(500)  # aiohttp answers an unhandled error with a 500
            raise
        telemetry.intake_answered(response.status)
        return response

    web_app.router.add_post(PATH, counted)
