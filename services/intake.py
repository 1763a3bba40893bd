"""Handoff intake: check a DialNexa delivery, clean it, route it and store it exactly once.

Errors are ``IntakeError`` carrying the HTTP status, a short code and, for schema problems, every
offending field, so the web handler only has to serialise them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import ReturningInsert

from services.db.engine import Database, DatabaseUnavailable, is_unavailable
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.digest import post_at
from services.handoff_model import Handoff
from services.redaction import RedactedHandoff, redact_handoff
from services.routing import RouteDecision, RoutingConfig, decide
from services.signing import SignatureError, verify
from services.states import HandoffStatus

__all__ = [
    "MAX_BODY_BYTES",
    "FieldProblem",
    "HandoffIntake",
    "IntakeError",
    "IntakeResult",
    "parse_delivery",
    "post_outbox_key",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
# Handoffs per transaction: ~32 parameters each keeps a batch far below every driver's limit.
MAX_BATCH = 64
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# Bytes that send a delivery down the careful path: explicit nulls, escaped NULs, NaN/Infinity.
_NEEDS_CAREFUL_READ = re.compile(rb"null|\\u0000|NaN|Infinity")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str


@dataclass(slots=True)
class IntakeError(Exception):
    status: int
    error: str
    message: str
    fields: list[FieldProblem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.fields:
            body["fields"] = [{"field": p.field, "reason": p.reason} for p in self.fields]
        return body


@dataclass(frozen=True, slots=True)
class IntakeResult:
    handoff_id: str
    duplicate: bool


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    # Iterative so hostile nesting cannot exhaust the stack.
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not parts:
            parts.append(part)
        else:
            parts.append(f".{part}")
    return "".join(parts) or "(body)"


def _schema_problems(exc: ValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's internal union/type markers from the location.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        problems.append(FieldProblem(_field_path(loc), reason))
    return problems


def parse_delivery(
    *,
    body: bytes,
    content_type: str | None,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    now: float,
) -> Handoff:
    """Verify and parse one webhook delivery; raise IntakeError with the right status."""
    if len(body) > MAX_BODY_BYTES:
        raise IntakeError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        verify(secret, timestamp=timestamp, signature=signature, body=body, now=now)
    except SignatureError as exc:
        raise IntakeError(401, "invalid_signature", str(exc)) from None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise IntakeError(415, "unsupported_media_type", "Content-Type must be application/json")
    if not _NEEDS_CAREFUL_READ.search(body):
        # The common case in one pass: the model's own JSON parser validates the whole handoff.
        # Without "null", an escaped NUL or NaN/Infinity in the bytes, the checks below cannot
        # find anything the model lets through (it has no free-form objects, so its depth is
        # bounded); any refusal falls through to them for the field-by-field answer.
        with contextlib.suppress(ValidationError):
            return Handoff.model_validate_json(body, strict=True)
    try:
        text = body.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise IntakeError(400, "invalid_json", "body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise IntakeError(
            400, "invalid_json", f"body is not valid JSON: {exc.msg} at {where}"
        ) from None
    except (ValueError, RecursionError):  # NaN or Infinity, a huge integer, hostile nesting
        raise IntakeError(400, "invalid_json", "body is not valid JSON") from None
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise IntakeError(400, "invalid_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict):
        raise IntakeError(
            422,
            "invalid_handoff",
            "body must be a JSON object",
            [FieldProblem("(body)", "must be an object")],
        )
    problems = _unstorable(data)
    handoff: Handoff | None = None
    try:
        # Strict, as JSON Schema is: no "1" for true, no numbers for strings.
        handoff = Handoff.model_validate_json(text, strict=True)
    except ValidationError as exc:
        named = {p.field for p in problems}
        problems += [p for p in _schema_problems(exc) if p.field not in named]
    if handoff is None or problems:
        raise IntakeError(
            422, "invalid_handoff", f"{len(problems)} field(s) refused by the schema", problems
        )
    return handoff


def _unstorable(data: dict[str, Any]) -> list[FieldProblem]:
    """Explicit nulls (the schema allows none) and U+0000 (PostgreSQL cannot store it)."""
    problems: list[FieldProblem] = []
    stack: list[tuple[str, Any]] = [(key, value) for key, value in data.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif value is None:
            problems.append(FieldProblem(path, "must not be null"))
        elif isinstance(value, str) and "\x00" in value:
            problems.append(FieldProblem(path, "must not contain the NUL character (U+0000)"))
    return sorted(problems, key=lambda p: p.field)


def post_outbox_key(call_id: str) -> str:
    """The outbox de-duplication key of a handoff's Slack post."""
    return f"post_handoff:{call_id}"


def first_reminder_at(decision_deadline: datetime | None, heads_up_minutes: int) -> datetime | None:
    """When the reminder loop should first look at a handoff."""
    if decision_deadline is None:
        return None
    try:
        return decision_deadline - timedelta(minutes=heads_up_minutes)
    except OverflowError:  # a deadline in the first minutes of year 1: look at it at once
        return decision_deadline


class HandoffIntake:
    """Stores cleaned handoffs once per call ID, with their outbox post and audit entry.

    Concurrent deliveries share transactions (group commit): each request prepares its rows,
    queues them and waits; one writer task takes everything queued, inserts it in a single
    transaction and answers every waiter once that transaction has committed. A caller is told
    "stored" only after its transaction has committed, and one commit (one WAL flush on
    PostgreSQL) covers the whole batch, so throughput grows with concurrency instead of queueing
    on the database's write lock.
    """

    def __init__(
        self,
        db: Database,
        routing: Callable[[], RoutingConfig],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._db = db
        self._routing = routing
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(
        self,
        handoff: Handoff,
        *,
        actor: str = "dialnexa",
        kind: str = "handoff",
        requested_by: str | None = None,
    ) -> IntakeResult:
        """Redact, route and store; a call ID already stored returns the first handoff's id."""
        pending = self._prepare(handoff, actor=actor, kind=kind, requested_by=requested_by)
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        # Shielded: a caller that goes away does not cancel a write other callers share.
        return await asyncio.shield(pending.result)

    def _prepare(
        self, handoff: Handoff, *, actor: str, kind: str, requested_by: str | None
    ) -> _Pending:
        cleaned = redact_handoff(handoff)
        routing = self._routing()
        now = self._clock()
        decision = decide(cleaned.handoff, routing, now=now, sensitive_found=bool(cleaned.found))
        row = _handoff_values(
            cleaned,
            decision,
            now,
            routing.reminders.heads_up_before_minutes,
            kind=kind,
            requested_by=requested_by,
        )
        outbox = {
            "handoff_id": row["id"],
            "kind": "post_handoff",
            "dedupe_key": post_outbox_key(row["call_id"]),
            "payload": {},
            "status": "pending",
            "attempts": 0,
            # Non-urgent handoffs wait for the digest when [digest] is enabled.
            "available_at": post_at(
                urgent=row["urgent"], kind=kind, deadline=row["deadline"], routing=routing, now=now
            ),
            "locked_until": None,
            "last_error": None,
            "created_at": now,
            "done_at": None,
        }
        audit = {
            "handoff_id": row["id"],
            "at": now,
            "actor": actor,
            "action": "received",
            "detail": {
                "workflow": row["workflow"],
                "urgency": row["urgency"],
                "channel": row["channel"],
                "redacted": row["redacted"],
                "hidden_links": list(cleaned.hidden_links),
                "needs_mapping": row["needs_mapping"],
            },
        }
        future: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        return _Pending(row, outbox, audit, future)

    async def _drain(self) -> None:
        """Write queued handoffs, a batch per transaction, until the queue is empty."""
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            results: list[IntakeResult | BaseException]
            try:
                results = list(await self._write(batch))
            except IntegrityError:
                # Something other than a repeated call ID (which the insert skips) broke the
                # batch: write each handoff alone so one bad row fails only its own request.
                results = [await self._write_alone(pending) for pending in batch]
            except Exception as exc:  # every waiter must hear about it
                if is_unavailable(exc):
                    logger.warning("%d handoff(s) not stored: database unavailable", len(batch))
                    results = [DatabaseUnavailable(exc.__class__.__name__) for _ in batch]
                else:
                    logger.exception("%d handoff(s) not stored", len(batch))
                    results = [exc for _ in batch]
            _log_stored(batch, results)
            for pending, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    pending.result.set_exception(result)
                else:
                    pending.result.set_result(result)

    async def _write_alone(self, pending: _Pending) -> IntakeResult | BaseException:
        try:
            return (await self._write([pending]))[0]
        except Exception as exc:  # handed to the one waiting request
            if is_unavailable(exc):
                return DatabaseUnavailable(exc.__class__.__name__)
            logger.exception("handoff %s not stored", pending.row["call_id"])
            return exc

    async def _write(self, batch: list[_Pending]) -> list[IntakeResult]:
        """Insert a batch in one transaction; repeated call IDs resolve to the stored handoff."""
        first: dict[str, _Pending] = {}
        for pending in batch:
            first.setdefault(pending.row["call_id"], pending)
        fresh = list(first.values())
        async with self._db.engine.begin() as connection:
            inserted = set(
                (
                    await connection.execute(
                        _insert_handoffs(self._db.is_sqlite), [p.row for p in fresh]
                    )
                ).scalars()
            )
            new = [p for p in fresh if p.row["id"] in inserted]
            if new:
                await connection.execute(insert(OutboxItem), [p.outbox for p in new])
                await connection.execute(insert(AuditEntry), [p.audit for p in new])
            existing: dict[str, str] = {}
            repeated = [call_id for call_id, p in first.items() if p.row["id"] not in inserted]
            if repeated:
                rows = await connection.execute(
                    select(HandoffRow.call_id, HandoffRow.id).where(
                        HandoffRow.call_id.in_(repeated)
                    )
                )
                existing = {call_id: handoff_id for call_id, handoff_id in rows}
        results = []
        for pending in batch:
            call_id = pending.row["call_id"]
            if pending is first[call_id] and pending.row["id"] in inserted:
                results.append(IntakeResult(pending.row["id"], duplicate=False))
            elif call_id in existing:
                results.append(IntakeResult(existing[call_id], duplicate=True))
            elif first[call_id].row["id"] in inserted:  # repeated inside this very batch
                results.append(IntakeResult(first[call_id].row["id"], duplicate=True))
            else:  # pragma: no cover - a skipped insert implies the row exists
                raise RuntimeError(f"handoff {call_id} neither inserted nor found")
        return results


@dataclass(slots=True)
class _Pending:
    """One handoff's rows, waiting for the writer, and where its answer goes."""

    row: dict[str, Any]
    outbox: dict[str, Any]
    audit: dict[str, Any]
    result: asyncio.Future[IntakeResult]


def _log_stored(batch: list[_Pending], results: list[IntakeResult | BaseException]) -> None:
    """One line per transaction: the handoff, or every handoff the batch stored."""
    stored = [
        (pending, result)
        for pending, result in zip(batch, results, strict=True)
        if isinstance(result, IntakeResult) and not result.duplicate
    ]
    if len(stored) == 1:
        pending, result = stored[0]
        logger.info(
            "handoff stored",
            extra={
                "call_id": pending.row["call_id"],
                "handoff_id": result.handoff_id,
                "workflow": pending.row["workflow"],
            },
        )
    elif stored:
        logger.info(
            "handoff stored",
            extra={
                "count": len(stored),
                "handoffs": {p.row["call_id"]: r.handoff_id for p, r in stored},
            },
        )


@functools.cache
def _insert_handoffs(sqlite: bool) -> ReturningInsert[tuple[str]]:
    """INSERT that skips call IDs already stored and returns the ids it did insert."""
    table = cast(Table, HandoffRow.__table__)
    statement = sqlite_insert(table) if sqlite else postgresql_insert(table)
    return statement.on_conflict_do_nothing(index_elements=[table.c.call_id]).returning(table.c.id)


def _handoff_values(
    cleaned: RedactedHandoff,
    decision: RouteDecision,
    now: datetime,
    heads_up_minutes: int,
    *,
    kind: str,
    requested_by: str | None,
) -> dict[str, Any]:
    """The ``handoffs`` row of a cleaned handoff, column by column."""
    handoff = cleaned.handoff
    customer = handoff.customer
    billing = handoff.billing
    follow_up = handoff.follow_up
    owner = follow_up.finance_owner if follow_up else None
    deadline = follow_up.deadline if follow_up else None
    payload = handoff.model_dump(mode="json", exclude_none=True)
    payload["workflow"] = handoff.effective_workflow.value
    return {
        "id": uuid.uuid4().hex,
        "call_id": handoff.call_id,
        "kind": kind,
        "workflow": handoff.effective_workflow.value,
        "urgency": decision.urgency.value,
        "urgent": decision.urgent,
        "status": HandoffStatus.OPEN.value,
        "channel": decision.channel,
        "message_ts": None,
        "owner": owner,
        "owner_slack_id": owner if owner and SLACK_USER_ID.match(owner) else None,
        "requested_by": requested_by,
        "deadline": deadline,
        "amount": billing.amount_decimal if billing else None,
        "currency": billing.currency if billing else None,
        "customer_email": str(customer.email).lower() if customer and customer.email else None,
        "email_verified": bool(customer and customer.email_verified),
        "two_person": decision.two_person,
        "needs_mapping": decision.needs_mapping,
        "review_flags": [flag.value for flag in decision.review_flags],
        "missing_fields": list(decision.missing_fields),
        "redacted": sorted(c.value for c in cleaned.found),
        "payload": payload,
        "resolution": {"urgent_reasons": list(decision.urgent_reasons)},
        "occurred_at": handoff.occurred_at,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "next_reminder_at": first_reminder_at(deadline, heads_up_minutes),
        "reminder_step": 0,
        "snoozed_until": None,
    }
