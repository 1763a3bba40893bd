"""The outbox: durable work queued in the same transaction as the change that needs it.

A worker claims an item with a compare-and-set on its lease, so two bot processes on one database
never run the same item at once; a process that dies mid-item leaves a lease that expires, and the
item runs again (its handler checks what already happened before acting twice).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import OutboxItem
from services.events import OutboxKind

__all__ = ["ClaimedItem", "Outbox"]

LEASE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    id: int
    handoff_id: str | None
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one: above 1 means an earlier try may have had an effect


class Outbox:
    """Claim, finish and reschedule outbox items."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], lease: timedelta = LEASE
    ) -> None:
        self._db = db
        self._clock = clock
        self._lease = lease
        self.wake = asyncio.Event()
        # Where this process has no poster of its own (a web helper), tell the one that does.
        self.forward: Callable[[], None] | None = None

    @staticmethod
    def values(
        *,
        kind: OutboxKind,
        key: str,
        handoff_id: str | None,
        now: datetime,
        payload: dict[str, Any] | None = None,
        available_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The row of one piece of work, for a bulk insert (intake's batches)."""
        return {
            "handoff_id": handoff_id,
            "kind": OutboxKind(kind).value,
            "dedupe_key": key,
            "payload": dict(payload or {}),
            "status": "pending",
            "attempts": 0,
            "available_at": available_at or now,
            "created_at": now,
        }

    @staticmethod
    def enqueue(
        session: AsyncSession,
        *,
        kind: OutboxKind,
        key: str,
        handoff_id: str | None,
        now: datetime,
        payload: dict[str, Any] | None = None,
        available_at: datetime | None = None,
    ) -> OutboxItem:
        """Queue work in ``session``'s transaction: the only way work is created.

        ``key`` is unique across the outbox: the same work queued twice (a retry, a double click,
        a second replica) fails the transaction instead of running twice.
        """
        item = OutboxItem(
            **Outbox.values(
                kind=kind,
                key=key,
                handoff_id=handoff_id,
                now=now,
                payload=payload,
                available_at=available_at,
            )
        )
        session.add(item)
        return item

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts; work on a claimed item should finish well inside it."""
        return self._lease

    def kick(self) -> None:
        """Tell the worker there is new work (it also polls)."""
        self.wake.set()
        if self.forward is not None:
            self.forward()

    def _due(self, now: datetime) -> Any:
        return and_(
            OutboxItem.status == "pending",
            OutboxItem.available_at <= now,
            or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
        )

    async def claim(
        self,
        limit: int = 20,
        *,
        kind: OutboxKind | None = None,
        handoff_id: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> list[ClaimedItem]:
        """Claim up to ``limit`` due items for this process, in one short transaction.

        ``kind`` and ``handoff_id`` narrow it to one handoff's work of one kind (a thread's
        notes, posted right after the decision that queued them); ``exclude`` leaves kinds out.
        """
        now = self._clock()
        due = self._due(now)
        if kind is not None:
            due = and_(due, OutboxItem.kind == OutboxKind(kind).value)
        if handoff_id is not None:
            due = and_(due, OutboxItem.handoff_id == handoff_id)
        if exclude:
            due = and_(due, OutboxItem.kind.not_in(sorted(exclude)))
        async with self._db.sessions() as session, session.begin():
            # PostgreSQL: rows another worker is claiming right now are skipped, not waited for
            # (SQLite serialises writers anyway, and ignores the clause).
            candidates = (
                select(OutboxItem.id)
                .where(due)
                .order_by(OutboxItem.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.execute(candidates)).scalars())
            if not ids:
                return []
            rows = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids), self._due(now))
                .values(locked_until=now + self._lease, attempts=OutboxItem.attempts + 1)
                .returning(
                    OutboxItem.id,
                    OutboxItem.handoff_id,
                    OutboxItem.kind,
                    OutboxItem.payload,
                    OutboxItem.attempts,
                )
                .execution_options(synchronize_session=False)
            )
            claimed = [
                ClaimedItem(row.id, row.handoff_id, row.kind, dict(row.payload), row.attempts)
                for row in rows
            ]
        return sorted(claimed, key=lambda item: item.id)

    async def release(self, item_id: int) -> None:
        """Give back a just-claimed item that was not started; its attempt does not count."""
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.status == "pending")
                .values(locked_until=None, attempts=OutboxItem.attempts - 1)
            )

    async def complete(self, item_id: int) -> None:
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id)
                .values(status="done", done_at=self._clock(), locked_until=None, last_error=None)
            )

    async def retry_later(self, item_id: int, error: str, delay: timedelta) -> None:
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id)
                .values(
                    available_at=self._clock() + delay, locked_until=None, last_error=error[:2000]
                )
            )

    async def give_up(self, item_id: int, error: str) -> None:
        """Stop retrying; a person must act (the item stays for the record)."""
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id)
                .values(status="failed", locked_until=None, last_error=error[:2000])
            )

    async def pending_count(self) -> int:
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(OutboxItem.id).where(OutboxItem.status == "pending")
            )
            return len(rows.all())
