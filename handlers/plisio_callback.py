"""POST /plisio/callback: Plisio's signed invoice status callbacks (JSON or form bodies)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from services.payments import PaymentOutcome, PaymentResult, PaymentUpdates
from services.plisio import PlisioCallbackError, verify_and_parse_callback

__all__ = ["PATH", "register"]

logger = logging.getLogger(__name__)

PATH = "/plisio/callback"
MAX_BODY = 64 * 1024


def _error(status: int, error: str, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if field:
        body["field"] = field
    return web.json_response(body, status=status)


async def _read(request: web.Request) -> tuple[dict[str, Any], bool]:
    """The body as a mapping, and whether it came form-encoded."""
    # read(n) returns what has arrived so far, not n bytes: read on to the end of the body.
    raw = bytearray()
    while chunk := await request.content.read(MAX_BODY + 1 - len(raw)):
        raw += chunk
        if len(raw) > MAX_BODY:
            raise PlisioCallbackError("body too large", http_status=413)
    media = (request.content_type or "").lower()
    if media == "application/json" or (
        request.query.get("json") == "true" and media != "application/x-www-form-urlencoded"
    ):
        try:
            data = json.loads(raw.decode("utf-8"))
            # A "\ud800" escape decodes to a lone surrogate, which no UTF-8 signature covers.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise PlisioCallbackError("body is not valid JSON", http_status=400) from None
        if not isinstance(data, dict):
            raise PlisioCallbackError("body must be a JSON object", http_status=422)
        return data, False
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise PlisioCallbackError("body is not valid UTF-8", http_status=400) from None
        return dict(pairs), True
    raise PlisioCallbackError("Content-Type must be JSON or form-encoded", http_status=415)


def register(
    web_app: web.Application,
    payments: PaymentUpdates,
    secret: str,
    *,
    on_applied: Callable[[PaymentResult], Awaitable[None]],
) -> None:
    """Add the callback route; ``on_applied`` updates Slack after a status change."""

    async def callback(request: web.Request) -> web.Response:
        try:
            data, form = await _read(request)
            parsed = verify_and_parse_callback(data, secret, form=form)
        except PlisioCallbackError as exc:
            if exc.http_status == 401:
                logger.warning("refused a Plisio callback: %s", exc.message)
            return _error(exc.http_status, "invalid_callback", exc.message, exc.field)
        result = await payments.apply(parsed)
        if result.outcome in {PaymentOutcome.UPDATED, PaymentOutcome.REGRESSION}:
            try:
                await on_applied(result)
            except Exception:
                logger.exception(
                    "could not show a payment update in Slack", extra={"txn_id": parsed.txn_id}
                )
        return web.json_response({"status": "ok", "outcome": result.outcome.value})

    web_app.router.add_post(PATH, callback)
