"""POST /plisio/callback: Plisio's signed invoice status callbacks (JSON or form bodies)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

from aiohttp import web

from handlers.decisions import Kicker
from services.payment_notes import shown_in_slack
from services.payment_provider import CallbackRejected, PaymentProvider, PaymentProviderError
from services.payments import PaymentOutcome, PaymentResult, PaymentUpdates

__all__ = ["PATH", "PaymentDeps", "register", "show_payment"]

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
            raise CallbackRejected("body too large", http_status=413)
    media = (request.content_type or "").lower()
    if media == "application/json" or (
        request.query.get("json") == "true" and media != "application/x-www-form-urlencoded"
    ):
        try:
            data = json.loads(raw.decode("utf-8"))
            # A "\ud800" escape decodes to a lone surrogate, which no UTF-8 signature covers.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise CallbackRejected("body is not valid JSON", http_status=400) from None
        if not isinstance(data, dict):
            raise CallbackRejected("body must be a JSON object", http_status=422)
        return data, False
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise CallbackRejected("body is not valid UTF-8", http_status=400) from None
        return dict(pairs), True
    raise CallbackRejected("Content-Type must be JSON or form-encoded", http_status=415)


class PaymentRefresher(Protocol):
    """Brings a handoff's message up to date, leaving its queued notes to the worker."""

    async def refresh(self, handoff_id: str, *, flush_notes: bool = True) -> object: ...


class PaymentDeps(Protocol):
    """What showing a payment update in Slack needs."""

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def refresher(self) -> PaymentRefresher: ...

    @property
    def outbox(self) -> Kicker: ...


async def show_payment(result: PaymentResult, deps: PaymentDeps) -> None:
    """Refresh the handoff's message, with a thread note, after a real payment update."""
    if not shown_in_slack(result):
        return
    assert result.handoff_id is not None
    # The note of what Plisio concluded was queued with its event: the worker posts it at the
    # thread's pace, so Plisio gets its answer without waiting for Slack's posting limits.
    await deps.refresher.refresh(result.handoff_id, flush_notes=False)
    deps.outbox.kick()


def register(
    web_app: web.Application,
    payments: PaymentUpdates,
    provider: PaymentProvider,
    *,
    on_applied: Callable[[PaymentResult], Awaitable[None]],
) -> None:
    """Add the callback route; ``on_applied`` updates Slack after a status change."""

    async def callback(request: web.Request) -> web.Response:
        try:
            data, form = await _read(request)
            parsed = provider.verify_callback(data, form=form)
        except PaymentProviderError as exc:
            if exc.http_status == 401:
                logger.warning("refused a Plisio callback: %s", exc.message)
            return _error(exc.http_status, "invalid_callback", exc.message, exc.field)
        result = await payments.apply(parsed)
        if result.outcome is PaymentOutcome.CONFLICT:
            # Signed, but it names another invoice than the one on record: change nothing.
            return _error(409, "conflicting_callback", result.reason or "", "order_number")
        if result.outcome in {PaymentOutcome.UPDATED, PaymentOutcome.REGRESSION}:
            try:
                await on_applied(result)
            except Exception:
                logger.exception(
                    "could not show a payment update in Slack", extra={"txn_id": parsed.txn_id}
                )
        return web.json_response({"status": "ok", "outcome": result.outcome.value})

    web_app.router.add_post(PATH, callback)
