"""The audit export: ``/handoff export [from] [to]``, the Home tab button, and the HTTP route.

Slack surfaces ask the one permission policy (finance lead only), answer at once and queue the
export; ``slack_adapter.exports`` builds the CSV and uploads it to the requester's DM. The HTTP
route ``GET /export/handoffs.csv?from=&to=`` streams the same CSV to scripts holding the
``EXPORT_API_TOKEN`` bearer token (no token set: the route answers 404).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.export import (
    EXPORT_USAGE,
    HOME_EXPORT_VALUE,
    export_queued_message,
    export_range_error,
)
from blocks.ids import ActionId
from handlers.decisions import Kicker, RefusalDeps, permitted
from handlers.payloads import SlashCommand, read_action
from services.db.engine import Database
from services.events import Event, EventLog, EventType
from services.export import (
    AuditExport,
    ExportRange,
    ExportRangeError,
    RowCount,
    export_filename,
    parse_range,
)
from services.permissions import Action

__all__ = [
    "EXPORT_PATH",
    "HTTP_ACTOR",
    "ExportCommandDeps",
    "ExportDeps",
    "ExportQueue",
    "export_command",
    "home_export",
    "register",
    "register_http",
]

logger = logging.getLogger(__name__)

EXPORT_PATH = "/export/handoffs.csv"
HTTP_ACTOR = "export_api"  # the audit log's actor of an export made with the bearer token
VIA_COMMAND, VIA_HOME, VIA_HTTP = "slash_command", "home", "http"


class ExportQueue(Protocol):
    """Queues an export for the outbox (``services.export.ExportRequests``)."""

    async def request(self, user: str, span: ExportRange, *, via: str, key: str) -> bool: ...


class ExportCommandDeps(Protocol):
    """What queueing an export needs."""

    @property
    def exports(self) -> ExportQueue: ...

    @property
    def outbox(self) -> Kicker: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


class ExportDeps(ExportCommandDeps, RefusalDeps, Protocol):
    """What the Home tab's export button needs."""


def _ephemeral(message: dict[str, Any]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": message["text"], "blocks": message["blocks"]}


async def _queue(
    deps: ExportCommandDeps, user: str, span: ExportRange, *, via: str, key: str
) -> bool:
    try:
        await deps.exports.request(user, span, via=via, key=key)
    except Exception:
        logger.exception("could not queue an audit export", extra={"user": user})
        return False
    deps.outbox.kick()
    return True


async def export_command(
    ack: AsyncAck,
    asked: SlashCommand,
    respond: AsyncRespond,
    deps: ExportCommandDeps,
    args: list[str],
) -> None:
    """/handoff export [from] [to], once the policy allowed it: queued for the lead's DM."""
    if len(args) > 2:
        await ack(response_type="ephemeral", text=EXPORT_USAGE)
        return
    first, last = [*args, "", ""][:2]
    try:
        span = parse_range(first, last, today=deps.clock().date())
    except ExportRangeError as exc:
        await ack(**_ephemeral(export_range_error(exc)))
        return
    await ack(**_ephemeral(export_queued_message(span)))
    if not await _queue(deps, asked.user_id, span, via=VIA_COMMAND, key=asked.trigger_id):
        await respond(**_ephemeral(refusal("error")))


async def home_export(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ExportDeps
) -> None:
    """The Home tab's "Export audit trail (last 30 days)" button."""
    await ack()
    click = read_action(body)
    if click is None:
        return
    if click.value != HOME_EXPORT_VALUE:  # not what the button sends: malformed, dropped
        logger.warning("ignored an export click with an unexpected value")
        return
    actor = await permitted(
        deps, client, Action.EXPORT, user=click.user_id, channel=None, card=None
    )
    if actor is None:
        return
    span = parse_range(None, None, today=deps.clock().date())
    await _queue(deps, click.user_id, span, via=VIA_HOME, key=click.trigger_id)


def register(app: AsyncApp, deps: ExportDeps) -> None:
    """Wire the Home tab's export button (``/handoff export`` is routed by ``commands``)."""

    async def on_home_export(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await home_export(ack, body, client, deps)

    app.action(ActionId.EXPORT_AUDIT.value)(on_home_export)


def _token_matches(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def register_http(
    web_app: web.Application,
    db: Database,
    *,
    token: str,
    events: EventLog,
    clock: Callable[[], datetime],
) -> None:
    """Add ``GET /export/handoffs.csv`` (404 while ``token`` is empty)."""
    export = AuditExport(db)

    async def handoffs_csv(request: web.Request) -> web.StreamResponse:
        if not token:
            raise web.HTTPNotFound()
        if not _token_matches(request, token):
            return web.json_response(
                {"error": "unauthorized", "message": "a valid bearer token is required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="export"'},
            )
        try:
            span = parse_range(
                request.query.get("from"), request.query.get("to"), today=clock().date()
            )
        except ExportRangeError as exc:
            return web.json_response(
                {"error": "invalid_date", "field": exc.field, "message": exc.message}, status=400
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{export_filename(span)}"',
                "Cache-Control": "no-store",
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        count = RowCount()
        complete = False
        try:
            async for chunk in export.csv_chunks(span, count):
                await response.write(chunk)
            await response.write_eof()
            complete = True
        finally:
            await _audit(db, events, clock, span, count.rows, complete)
        return response

    web_app.router.add_get(EXPORT_PATH, handoffs_csv)


async def _audit(
    db: Database,
    events: EventLog,
    clock: Callable[[], datetime],
    span: ExportRange,
    rows: int,
    complete: bool,
) -> None:
    detail = {"via": VIA_HTTP, **span.describe(), "rows": rows, "complete": complete}
    try:
        async with db.sessions() as session, session.begin():
            events.record(session, Event(EventType.EXPORTED, None, HTTP_ACTOR, clock(), detail))
    except Exception:
        logger.exception("could not audit an export", extra=detail)
