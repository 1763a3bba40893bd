"""What the database knows about queued reminders (outbox kind "nudge").

The Slack adapter (``slack_adapter.dm``) sends them; this says whether a claimed reminder is still
wanted (a ladder restarted by a snooze or a reassignment, or a handoff closed after the claim,
drops it unsent), whether an earlier try already recorded it, and records who heard it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, InfoRequestRow
from services.events import BOT, Event, EventLog, EventType
from services.info_requests import InfoRequest
from services.reminders import base_time

__all__ = ["AUDIT_ACTION", "NudgeRecords"]

AUDIT_ACTION = EventType.NUDGE_SENT


class NudgeRecords:
    """Reads and records reminders in the handoff's row and the audit log."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], events: EventLog | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events or EventLog()

    async def stale(self, handoff_id: str, payload: dict[str, Any]) -> bool:
        """Has the reminder's ladder moved on since it was queued (or the handoff gone)?"""
        async with self._db.reads() as session:
            row = await session.get(HandoffRow, handoff_id)
        if row is None:
            return True
        base = base_time(row.deadline, row.snoozed_until)
        restarted = base is None or base != datetime.fromisoformat(str(payload["base"]))
        rewound = row.reminder_step <= int(payload["step"])
        owner_changed = payload.get("owner") not in {row.owner_slack_id, row.owner}
        return restarted or rewound or owner_changed

    async def info_request(self, payload: dict[str, Any]) -> InfoRequest | None:
        """The open question a reminder is about, while that reminder is still wanted (not
        answered since, its ladder not moved on); None drops the reminder unsent."""
        async with self._db.reads() as session:
            row = await session.get(InfoRequestRow, int(payload["info_request"]))
        if row is None or row.answered_at is not None:
            return None
        moved = row.reminder_step <= int(payload["step"])
        if moved or row.due_at != datetime.fromisoformat(str(payload["base"])):
            return None
        return InfoRequest.from_row(row)

    async def recorded(self, handoff_id: str, key: str) -> bool:
        """Did an earlier try send and record the reminder with ``key``?"""
        async with self._db.reads() as session:
            details = await session.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.handoff_id == handoff_id, AuditEntry.action == AUDIT_ACTION
                )
            )
            return any((d or {}).get("key") == key for d in details)

    async def record(
        self, handoff_id: str, payload: dict[str, Any], sent_to: str, now: datetime
    ) -> None:
        """Audit one sent reminder: which step, who heard it (a user id or "channel")."""
        detail = {
            "step": payload["step"],
            "kind": payload["kind"],
            "notified": sent_to,
            "due_at": payload.get("due_at"),
            "key": payload["key"],
        }
        if "info_request" in payload:
            detail["info_request"] = payload["info_request"]
        async with self._db.sessions() as session, session.begin():
            self._events.record(session, Event(AUDIT_ACTION, handoff_id, BOT, now, detail))
