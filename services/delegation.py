"""Delegation while an approver is away: who stands in for whom, until when. No Slack here.

An approver says "away until <time>, <delegate> approves for me". Until then the delegate may
approve and decline what the approver could (``services.permissions.Actor.acting_for``), and the
reminders that would reach the approver reach the delegate. One delegation is active per
approver: setting a new one ends the old one (both audited); "I'm back" ends it; ``until``
passing ends it by itself, because every reader compares with the clock at the time it asks.

Who may set one and who may stand in is the permission policy's
(``services.permissions.may_delegate``); this module checks only the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import Delegation
from services.events import Event, EventLog, EventType

__all__ = [
    "MAX_AWAY",
    "Away",
    "DelegationService",
    "UntilProblem",
    "until_problem",
]

MAX_AWAY = timedelta(days=90)  # longer than a quarter is a reassignment, not an absence


class UntilProblem(StrEnum):
    """Why an "away until" time cannot be used."""

    PAST = "past"
    TOO_FAR = "too_far"


def until_problem(until: datetime, now: datetime) -> UntilProblem | None:
    """None when ``until`` is in the future and within ``MAX_AWAY``."""
    if until <= now:
        return UntilProblem.PAST
    if until - now > MAX_AWAY:
        return UntilProblem.TOO_FAR
    return None


@dataclass(frozen=True, slots=True)
class Away:
    """One active delegation: ``approver`` is away until ``until``; ``delegate`` stands in."""

    approver: str
    delegate: str
    starts_at: datetime
    until: datetime
    created_by: str


def _away(row: Delegation) -> Away:
    return Away(row.approver, row.delegate, row.starts_at, row.until, row.created_by)


def _active(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Delegation.ended_at.is_(None),
        Delegation.starts_at <= now,
        Delegation.until > now,
    )


class DelegationService:
    """Sets, ends and reads delegations; every change is an audited event."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], events: EventLog | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events or EventLog()

    async def set(self, approver: str, delegate: str, until: datetime, *, by: str) -> Away:
        """``approver`` is away until ``until``; a delegation they had is replaced (audited)."""
        if until.tzinfo is None:
            raise ValueError("until must be an aware datetime")
        now = self._clock()
        async with self._db.sessions() as session, session.begin():
            replaced = await self._end_active(session, approver, now)
            row = Delegation(
                approver=approver,
                delegate=delegate,
                starts_at=now,
                until=until,
                created_by=by,
                created_at=now,
            )
            session.add(row)
            detail: dict[str, object] = {
                "approver": approver,
                "delegate": delegate,
                "until": until.isoformat(),
            }
            if replaced is not None:
                detail["replaced"] = {
                    "delegate": replaced.delegate,
                    "until": replaced.until.isoformat(),
                }
            self._events.record(session, Event(EventType.DELEGATION_SET, None, by, now, detail))
        return Away(approver, delegate, now, until, by)

    async def end(self, approver: str, *, by: str) -> Away | None:
        """ "I'm back": end ``approver``'s active delegation (None when there was none)."""
        now = self._clock()
        async with self._db.sessions() as session, session.begin():
            ended = await self._end_active(session, approver, now)
            if ended is not None:
                detail = {
                    "approver": approver,
                    "delegate": ended.delegate,
                    "until": ended.until.isoformat(),
                }
                self._events.record(
                    session, Event(EventType.DELEGATION_ENDED, None, by, now, detail)
                )
        return ended

    async def active_for(self, approver: str) -> Away | None:
        """``approver``'s delegation in force now, or None (not away, back, or ``until`` passed)."""
        now = self._clock()
        async with self._db.sessions() as session:
            row = await session.scalar(
                select(Delegation)
                .where(Delegation.approver == approver, *_active(now))
                .order_by(Delegation.id.desc())
                .limit(1)
            )
            return None if row is None else _away(row)

    async def acting_for(self, delegate: str) -> tuple[Away, ...]:
        """The away approvers ``delegate`` stands in for now (oldest delegation first)."""
        now = self._clock()
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(Delegation)
                .where(Delegation.delegate == delegate, *_active(now))
                .order_by(Delegation.id)
            )
            found = [_away(row) for row in rows]
        # Only the newest delegation of each approver counts (a replaced one is ended anyway).
        newest: dict[str, Away] = {}
        for away in found:
            newest[away.approver] = away
        return tuple(newest.values())

    async def delegate_for(self, approver: str) -> str | None:
        """Who gets ``approver``'s reminders now: their delegate while away, else None."""
        away = await self.active_for(approver)
        return None if away is None else away.delegate

    async def _end_active(self, session: AsyncSession, approver: str, now: datetime) -> Away | None:
        rows = list(
            await session.scalars(
                select(Delegation)
                .where(Delegation.approver == approver, *_active(now))
                .order_by(Delegation.id.desc())
                .with_for_update()
            )
        )
        if not rows:
            return None
        await session.execute(
            update(Delegation)
            .where(Delegation.id.in_([row.id for row in rows]))
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
        return _away(rows[0])
