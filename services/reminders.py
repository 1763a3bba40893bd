"""Follow-up reminders: which handoffs are due, the escalation ladder, and the atomic claim.

Reminder state lives in the handoffs table (``next_reminder_at`` + ``reminder_step``), so one
interval job serves any number of handoffs and a restart neither loses nor repeats a reminder. A
due step is claimed with a compare-and-set update (``FOR UPDATE SKIP LOCKED`` as well on
PostgreSQL) and its nudge is queued in the outbox in the same transaction, with a ``nudge_due``
event: a crash after the claim leaves the nudge queued, and two replicas never both claim one step.

An approver's open question (``info_requests``, "Request info") has the same reminder state and
is walked by the same ladder, counted from its ``due_at``: its nudges (payload ``info_request``)
go to the person asked, then the lead, then the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import HandoffRow, InfoRequestRow, OutboxItem
from services.events import BOT, Event, EventLog, EventType, OutboxKind
from services.outbox import Outbox
from services.routing import Reminders, RoutingConfig
from services.states import CLOSED, DECIDABLE

__all__ = [
    "NUDGE_KIND",
    "NudgeKind",
    "Plan",
    "ReminderService",
    "Step",
    "base_time",
    "due_query",
    "info_nudge_key",
    "ladder",
    "nudge_key",
    "plan",
]

logger = logging.getLogger(__name__)

NUDGE_KIND = OutboxKind.NUDGE  # the outbox kind that sends one reminder
CLOSED_VALUES = frozenset(s.value for s in CLOSED)
DECIDABLE_VALUES = frozenset(s.value for s in DECIDABLE)


class NudgeKind(StrEnum):
    """Who a reminder step tells."""

    HEADS_UP = "heads_up"  # the owner, before the deadline
    OWNER = "owner"
    LEAD = "lead"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Step:
    kind: NudgeKind
    offset: timedelta  # from the base time; negative for the heads-up


@dataclass(frozen=True, slots=True)
class Plan:
    """What one pass does with a due row: send ``send`` (a step index) and move the row on."""

    send: int | None
    next_step: int
    next_at: datetime | None


def ladder(reminders: Reminders) -> tuple[Step, ...]:
    """The steps in order: the optional heads-up, then routing.toml's escalation ladder."""
    steps: list[Step] = []
    if reminders.heads_up_before_minutes > 0:
        steps.append(
            Step(NudgeKind.HEADS_UP, -timedelta(minutes=reminders.heads_up_before_minutes))
        )
    steps.extend(
        Step(NudgeKind(s.notify), timedelta(minutes=s.after_minutes)) for s in reminders.ladder
    )
    return tuple(steps)


def base_time(deadline: datetime | None, snoozed_until: datetime | None) -> datetime | None:
    """The ladder counts from the end of a snooze when there was one, else from the deadline."""
    return snoozed_until or deadline


def plan(
    steps: Sequence[Step], *, step: int, base: datetime | None, now: datetime, closed: bool = False
) -> Plan:
    """Decide what a due row needs; pure, so every case is table-tested."""
    if closed or base is None:
        return Plan(None, step, None)
    index = step
    # A heads-up whose deadline has already come would only arrive beside the overdue nudge.
    while index < len(steps) and steps[index].kind is NudgeKind.HEADS_UP and now >= base:
        index += 1
    if index >= len(steps):
        return Plan(None, index, None)
    at = base + steps[index].offset
    if at > now:  # woken early (the ladder's first step is after the deadline): wait for it
        return Plan(None, index, at)
    following = index + 1
    if following >= len(steps):
        return Plan(index, following, None)
    planned = base + steps[following].offset
    # Whoever was just reminded gets the full gap before the next person hears, also when this
    # step went out late (the bot was down, or a reassign restarted the ladder after the deadline).
    if steps[index].kind is NudgeKind.HEADS_UP:  # the owner's own overdue nudge: at the deadline
        return Plan(index, following, planned)
    gap = steps[following].offset - steps[index].offset
    return Plan(index, following, max(planned, now + gap))


def nudge_key(handoff_id: str, step: int, base: datetime, version: int) -> str:
    """The outbox de-duplication key of one reminder step of one run of the ladder."""
    return f"nudge:{handoff_id}:{step}:{int(base.timestamp())}:v{version}"


def info_nudge_key(request_id: int, step: int, base: datetime) -> str:
    """The outbox de-duplication key of one reminder step of an open question's ladder."""
    return f"nudge:info:{request_id}:{step}:{int(base.timestamp())}"


def due_query(now: datetime, limit: int) -> Select[*tuple[Any, ...]]:
    """Rows whose reminder is due, oldest first; served by ix_handoffs_next_reminder_at."""
    return (
        select(
            HandoffRow.id,
            HandoffRow.status,
            HandoffRow.reminder_step,
            HandoffRow.next_reminder_at,
            HandoffRow.deadline,
            HandoffRow.snoozed_until,
            HandoffRow.owner_slack_id,
            HandoffRow.owner,
            HandoffRow.version,
        )
        .where(HandoffRow.next_reminder_at <= now)
        .order_by(HandoffRow.next_reminder_at)
        .limit(limit)
    )


class ReminderService:
    """Finds due reminders in batches and claims each step exactly once."""

    def __init__(
        self,
        db: Database,
        routing: Callable[[], RoutingConfig],
        outbox: Outbox,
        *,
        clock: Callable[[], datetime],
        batch_size: int = 200,
        max_batches: int = 50,
        events: EventLog | None = None,
    ) -> None:
        self._db = db
        self._routing = routing
        self._outbox = outbox
        self._clock = clock
        self._events = events or EventLog()
        self._batch = batch_size
        self._max_batches = max_batches

    async def run_once(self) -> int:
        """Claim every due step (up to batch_size * max_batches rows); return nudges queued."""
        now = self._clock()
        steps = ladder(self._routing().reminders)
        queued = 0
        for _ in range(self._max_batches):
            seen, sent = await self._claim_batch(now, steps)
            queued += sent
            if seen < self._batch:
                break
        for _ in range(self._max_batches):
            seen, sent = await self._claim_info_batch(now, steps)
            queued += sent
            if seen < self._batch:
                break
        if queued:
            logger.info("reminders queued", extra={"count": queued})
            self._outbox.kick()
        return queued

    async def _claim_batch(self, now: datetime, steps: Sequence[Step]) -> tuple[int, int]:
        async with self._db.sessions() as session, session.begin():
            # Other replicas skip the rows this one holds (PostgreSQL; SQLite serialises writers).
            query = due_query(now, self._batch).with_for_update(skip_locked=True, of=HandoffRow)
            rows = (await session.execute(query)).all()
            due: list[_Nudge] = []
            for row in rows:
                base = base_time(row.deadline, row.snoozed_until)
                decided = plan(
                    steps,
                    step=row.reminder_step,
                    base=base,
                    now=now,
                    closed=row.status in CLOSED_VALUES,
                )
                claimed = await session.execute(
                    update(HandoffRow)
                    .where(
                        HandoffRow.id == row.id,
                        HandoffRow.reminder_step == row.reminder_step,
                        HandoffRow.next_reminder_at == row.next_reminder_at,
                    )
                    .values(reminder_step=decided.next_step, next_reminder_at=decided.next_at)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount == 1 and decided.send is not None and base is not None:  # type: ignore[attr-defined]
                    due.append(_nudge(row, steps, decided.send, base))
            if due:
                # A key can only repeat if a ladder run were replayed; never queue it twice.
                keys = [nudge.key for nudge in due]
                existing = set(
                    await session.scalars(
                        select(OutboxItem.dedupe_key).where(OutboxItem.dedupe_key.in_(keys))
                    )
                )
                due = [nudge for nudge in due if nudge.key not in existing]
                for nudge in due:
                    self._queue(session, nudge, now)
        return len(rows), len(due)

    async def _claim_info_batch(self, now: datetime, steps: Sequence[Step]) -> tuple[int, int]:
        """The same claim for open questions: the ladder counts from the answer's ``due_at``;
        a question on a handoff decided since (approved, declined, closed) is not chased."""
        async with self._db.sessions() as session, session.begin():
            query = (
                select(
                    InfoRequestRow.id,
                    InfoRequestRow.handoff_id,
                    InfoRequestRow.asked_to,
                    InfoRequestRow.due_at,
                    InfoRequestRow.reminder_step,
                    InfoRequestRow.next_reminder_at,
                    HandoffRow.status,
                )
                .join(HandoffRow, HandoffRow.id == InfoRequestRow.handoff_id)
                .where(InfoRequestRow.next_reminder_at <= now)
                .order_by(InfoRequestRow.next_reminder_at)
                .limit(self._batch)
                .with_for_update(skip_locked=True, of=InfoRequestRow)
            )
            rows = (await session.execute(query)).all()
            due: list[_Nudge] = []
            for row in rows:
                decided = plan(
                    steps,
                    step=row.reminder_step,
                    base=row.due_at,
                    now=now,
                    closed=row.status not in DECIDABLE_VALUES,
                )
                claimed = await session.execute(
                    update(InfoRequestRow)
                    .where(
                        InfoRequestRow.id == row.id,
                        InfoRequestRow.reminder_step == row.reminder_step,
                        InfoRequestRow.next_reminder_at == row.next_reminder_at,
                    )
                    .values(reminder_step=decided.next_step, next_reminder_at=decided.next_at)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount == 1 and decided.send is not None:  # type: ignore[attr-defined]
                    due.append(_info_nudge(row, steps, decided.send))
            if due:
                keys = [nudge.key for nudge in due]
                existing = set(
                    await session.scalars(
                        select(OutboxItem.dedupe_key).where(OutboxItem.dedupe_key.in_(keys))
                    )
                )
                due = [nudge for nudge in due if nudge.key not in existing]
                for nudge in due:
                    self._queue(session, nudge, now)
        return len(rows), len(due)

    def _queue(self, session: AsyncSession, nudge: _Nudge, now: datetime) -> None:
        """Queue one nudge and record that it is due, in the claim's transaction."""
        Outbox.enqueue(
            session,
            kind=OutboxKind.NUDGE,
            key=nudge.key,
            handoff_id=nudge.handoff_id,
            now=now,
            payload=nudge.payload,
        )
        detail = {name: nudge.payload[name] for name in ("step", "kind", "due_at", "owner")}
        if "info_request" in nudge.payload:
            detail["info_request"] = nudge.payload["info_request"]
        self._events.record(session, Event(EventType.NUDGE_DUE, nudge.handoff_id, BOT, now, detail))


@dataclass(frozen=True, slots=True)
class _Nudge:
    """One claimed reminder step, before it is queued."""

    handoff_id: str
    key: str
    payload: dict[str, Any]


def _nudge(row: Any, steps: Sequence[Step], index: int, base: datetime) -> _Nudge:
    """The nudge that sends step ``index`` of ``row``'s ladder."""
    step = steps[index]
    key = nudge_key(row.id, index, base, row.version)
    return _Nudge(
        row.id,
        key,
        {
            "step": index,
            "kind": step.kind.value,
            "base": base.isoformat(),
            "due_at": (base + step.offset).isoformat(),
            "owner": row.owner_slack_id or row.owner,
            "key": key,
        },
    )


def _info_nudge(row: Any, steps: Sequence[Step], index: int) -> _Nudge:
    """The nudge that sends step ``index`` of an open question's ladder."""
    step, base = steps[index], row.due_at
    key = info_nudge_key(row.id, index, base)
    return _Nudge(
        row.handoff_id,
        key,
        {
            "step": index,
            "kind": step.kind.value,
            "base": base.isoformat(),
            "due_at": (base + step.offset).isoformat(),
            "owner": row.asked_to,  # the person the question waits for
            "info_request": row.id,
            "key": key,
        },
    )
