"""What the database knows about a handoff's Slack post: its channel, its ts, its owner's user id.

The Slack adapter posts; this records what it did (and what it needs to know to do it) in the
handoff's row and the audit log, so the adapter itself holds no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select, update

from services.db.engine import Database
from services.db.models import HandoffRow
from services.events import BOT, Event, EventLog, EventType

__all__ = ["PostRecords"]


class PostRecords:
    """Reads and records a handoff's post (one short transaction each)."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], events: EventLog | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events or EventLog()

    async def channels(self, handoff_ids: Iterable[str | None]) -> dict[str, str]:
        """The channel of each handoff (by id) that exists."""
        ids = [i for i in handoff_ids if i]
        if not ids:
            return {}
        async with self._db.reads() as session:
            rows = await session.execute(
                select(HandoffRow.id, HandoffRow.channel).where(HandoffRow.id.in_(ids))
            )
            return {row.id: row.channel for row in rows}

    async def owner_to_resolve(self, handoff_id: str) -> str | None:
        """The owner's email when their Slack user id is not known yet."""
        async with self._db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            owner = row.owner if row is not None and row.owner_slack_id is None else None
        return owner if owner and "@" in owner else None

    async def set_owner_user(self, handoff_id: str, user_id: str) -> None:
        """Record the owner's Slack user id (unless one is recorded already)."""
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.owner_slack_id.is_(None))
                .values(owner_slack_id=user_id)
            )

    async def reroute(self, handoff_id: str, channel: str, fallback: str, error: str) -> None:
        """An unposted handoff goes to ``fallback`` instead of ``channel`` (audited)."""
        now = self._clock()
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.message_ts.is_(None))
                .values(channel=fallback, updated_at=now)
            )
            self._events.record(
                session,
                Event(
                    EventType.REROUTED,
                    handoff_id,
                    BOT,
                    now,
                    {"from": channel, "to": fallback, "error": error},
                ),
            )

    async def record_post(self, handoff_id: str, channel: str, ts: str) -> bool:
        """Record where the handoff was posted; False if an earlier try recorded it already."""
        now = self._clock()
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.message_ts.is_(None))
                .values(channel=channel, message_ts=ts, updated_at=now)
            )
            recorded: bool = result.rowcount == 1  # type: ignore[attr-defined]
            if recorded:
                self._events.record(
                    session,
                    Event(EventType.POSTED, handoff_id, BOT, now, {"channel": channel, "ts": ts}),
                )
        return recorded
