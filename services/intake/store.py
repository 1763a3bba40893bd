"""Storing handoffs exactly once per call ID, many per transaction (group commit)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import ReturningInsert

from services.db.engine import Database, DatabaseUnavailable, is_unavailable
from services.db.models import AuditEntry, HandoffRow, OutboxItem, RefundRow
from services.events import Event, EventLog
from services.handoff_model import Handoff
from services.intake.rows import prepare
from services.redaction import redact_handoff
from services.routing import RoutingConfig, decide
from services.workspaces import current_team

__all__ = ["MAX_BATCH", "HandoffIntake", "IntakeResult"]

logger = logging.getLogger(__name__)

# Handoffs per transaction: ~32 parameters each keeps a batch far below every driver's limit.
MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class IntakeResult:
    handoff_id: str
    duplicate: bool


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
        events: EventLog | None = None,
    ) -> None:
        self._db = db
        self._routing = routing
        self._clock = clock
        self._max_batch = max_batch
        self._events = events or EventLog()
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(
        self,
        handoff: Handoff,
        *,
        actor: str = "dialnexa",
        kind: str = "handoff",
        requested_by: str | None = None,
        team_id: str | None = None,
    ) -> IntakeResult:
        """Redact, route and store; a call ID already stored returns the first handoff's id.

        ``team_id`` names the Slack workspace when several are installed (default: the one the
        work under way is for, ``services.workspaces.current_team``; None in single-token mode).
        """
        pending = self._prepare(handoff, actor=actor, kind=kind, requested_by=requested_by)
        pending.row["team_id"] = team_id or current_team()
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
        decision = decide(
            cleaned.handoff,
            routing,
            now=now,
            sensitive_found=bool(cleaned.found),
            from_slack=kind == "request",
        )
        rows = prepare(
            cleaned, decision, routing, now, actor=actor, kind=kind, requested_by=requested_by
        )
        future: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        return _Pending(rows.row, rows.outbox, rows.event, future, rows.refund)

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
                # One executemany per table: the events' rows and every piece of work (the posts
                # and any connector's work on the RECEIVED events).
                audit, work = self._events.rows(p.event for p in new)
                await connection.execute(insert(OutboxItem), [p.outbox for p in new] + work)
                await connection.execute(insert(AuditEntry), audit)
                # A refund handoff's refund row, in the same transaction as the handoff.
                refunds = [p.refund for p in new if p.refund is not None]
                if refunds:
                    await connection.execute(insert(RefundRow), refunds)
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
    event: Event
    result: asyncio.Future[IntakeResult]
    refund: dict[str, Any] | None = None


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
