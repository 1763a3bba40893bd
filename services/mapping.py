"""Which DialNexa fields arrive unmapped: a launch-configuration concern for admins.

A handoff that arrives without an owner, a record URL, a status, ... is routed anyway and its
message says only what matters to the reader ("No owner yet"). Which fields are missing across
open handoffs is what an admin fixes once in DialNexa's mapping, so it is counted here for the
approvers' Home tab and the start-up log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import select

from services.db.engine import Database
from services.db.models import HandoffRow
from services.states import CLOSED

__all__ = ["SCAN", "MappingGaps", "describe_gaps"]

SCAN = 500  # the newest open handoffs read: enough to show a pattern, cheap on every Home view


def describe_gaps(gaps: Mapping[str, int]) -> str:
    """``owner (3), record URL (2)``: most often missing first."""
    ordered = sorted(gaps.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} ({count})" for name, count in ordered)


class MappingGaps:
    """Counts, per field, the open handoffs that arrived without it."""

    def __init__(self, db: Database, *, scan: int = SCAN) -> None:
        self._db = db
        self._scan = scan

    async def counts(self) -> dict[str, int]:
        """Field name -> how many of the newest open handoffs lack it (empty: nothing missing)."""
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(HandoffRow.missing_fields)
                .where(HandoffRow.status.notin_([s.value for s in CLOSED]))
                .order_by(HandoffRow.created_at.desc())
                .limit(self._scan)
            )
            counted: Counter[str] = Counter()
            for missing in rows:
                counted.update(str(name) for name in missing or ())
        return dict(counted)
