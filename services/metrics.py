"""The finance leads' numbers: how fast handoffs are acted on, decided and paid, from the audit log.

Over a period (the last 7 days by default), for the handoffs *received* in it:

- time to first action: from receipt to the first thing a person did to it (approve, decline,
  escalate, reassign, mark done, retry, snooze);
- time to decision: from receipt to the approval that completed it (the second of a two-person
  approval) or its decline;
- time to payment: from receipt to the money moving (a Plisio invoice concluded paid, a refund
  the payment system made, a manual refund marked done);
- escalations: how often they were escalated.

Each as a count, a median and a 90th percentile, in total, per workflow and per approver (the
person who took the first action, or the decision; payment counts for whoever decided). Overdue
counts are now, not over the period: open handoffs past their deadline.

Plain queries and pure functions, Slack-free: the Home tab, the weekly summary DM and
``GET /metrics`` all read them, so they always agree. Also here: the outbox backlog for
``GET /metrics``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.events import BOT, PLISIO, EventType, OutboxKind
from services.states import CLOSED

__all__ = [
    "DEFAULT_PERIOD",
    "FIRST_ACTIONS",
    "PAYMENTS",
    "STAGES",
    "Backlog",
    "GroupMetrics",
    "HandoffTimes",
    "Mark",
    "MetricsQueries",
    "MetricsReport",
    "Timing",
    "handoff_times",
    "quantile",
    "summarize",
    "timing",
]

DEFAULT_PERIOD = timedelta(days=7)
STAGES = ("first_action", "decision", "payment")
FIRST_ACTIONS = frozenset(
    {
        EventType.APPROVED,
        EventType.DECLINED,
        EventType.ESCALATED,
        EventType.REASSIGNED,
        EventType.DONE,
        EventType.RETRIED,
        EventType.SNOOZED,
    }
)
PAYMENTS = frozenset({EventType.PAID, EventType.REFUND_SUCCEEDED, EventType.REFUND_MARKED})
READ_ACTIONS = sorted(e.value for e in FIRST_ACTIONS | PAYMENTS)
NOT_PEOPLE = frozenset({BOT, PLISIO})
CLOSED_VALUES = sorted(s.value for s in CLOSED)


@dataclass(frozen=True, slots=True)
class Mark:
    """When a stage was reached and by whom."""

    at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class HandoffTimes:
    """One handoff's way through the stages."""

    handoff_id: str
    workflow: str
    received_at: datetime
    first_action: Mark | None = None
    decision: Mark | None = None
    payment: Mark | None = None
    escalated_by: tuple[str, ...] = ()

    def seconds(self, stage: str) -> float | None:
        """Seconds from receipt to ``stage`` (None while it has not happened)."""
        mark: Mark | None = getattr(self, stage)
        if mark is None:
            return None
        return max(0.0, (mark.at - self.received_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a stage took: how many reached it, median and 90th percentile in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    """The numbers of one group (all, a workflow, an approver)."""

    received: int = 0
    first_action: Timing = field(default_factory=Timing)
    decision: Timing = field(default_factory=Timing)
    payment: Timing = field(default_factory=Timing)
    escalations: int = 0
    overdue: int = 0

    def stage(self, name: str) -> Timing:
        """The timing of stage ``name`` (one of ``STAGES``)."""
        value: Timing = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """The period's numbers, in total, per workflow and per approver."""

    since: datetime
    until: datetime
    total: GroupMetrics
    by_workflow: dict[str, GroupMetrics]
    by_approver: dict[str, GroupMetrics]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Outbox work of one kind not done yet."""

    pending: int = 0
    oldest_due_seconds: float = 0.0  # how long the oldest due item has waited (0: none due)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values`` by linear interpolation (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timing(values: Sequence[float]) -> Timing:
    """Count, median and 90th percentile of ``values`` (seconds)."""
    return Timing(len(values), quantile(values, 0.5), quantile(values, 0.9))


def _final(action: str, detail: Mapping[str, Any]) -> bool:
    """Does this entry decide the handoff (a decline, or the approval that completes it)?"""
    if action == EventType.DECLINED.value:
        return True
    if action != EventType.APPROVED.value:
        return False
    count, required = detail.get("approval"), detail.get("of")
    if isinstance(count, int) and isinstance(required, int):
        return count >= required
    return True  # entries older than "approval n of m": one approval decided


def handoff_times(
    handoffs: Iterable[tuple[str, str, datetime]],
    entries: Iterable[tuple[str, datetime, str, str, Mapping[str, Any] | None]],
) -> list[HandoffTimes]:
    """Each handoff's stages from its audit entries.

    ``handoffs``: (id, workflow, received at); ``entries``: (handoff id, at, actor, action,
    detail), in the order they happened.
    """
    marks: dict[str, dict[str, Mark]] = defaultdict(dict)
    escalated: dict[str, list[str]] = defaultdict(list)
    for handoff_id, at, actor, action, detail in entries:
        found = marks[handoff_id]
        person = actor not in NOT_PEOPLE
        if person and action in FIRST_ACTIONS and "first_action" not in found:
            found["first_action"] = Mark(at, actor)
        if person and "decision" not in found and _final(action, detail or {}):
            found["decision"] = Mark(at, actor)
        if action in PAYMENTS and "payment" not in found:
            decider = found.get("decision")
            found["payment"] = Mark(at, decider.actor if decider else actor)
        if person and action == EventType.ESCALATED.value:
            escalated[handoff_id].append(actor)
    return [
        HandoffTimes(
            handoff_id=handoff_id,
            workflow=workflow,
            received_at=received_at,
            first_action=marks[handoff_id].get("first_action"),
            decision=marks[handoff_id].get("decision"),
            payment=marks[handoff_id].get("payment"),
            escalated_by=tuple(escalated[handoff_id]),
        )
        for handoff_id, workflow, received_at in handoffs
    ]


def _group(
    received: int, stages: Mapping[str, list[float]], *, escalations: int, overdue: int = 0
) -> GroupMetrics:
    return GroupMetrics(
        received=received,
        first_action=timing(stages["first_action"]),
        decision=timing(stages["decision"]),
        payment=timing(stages["payment"]),
        escalations=escalations,
        overdue=overdue,
    )


def _stages(times: Iterable[HandoffTimes]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for handoff in times:
        for stage in STAGES:
            seconds = handoff.seconds(stage)
            if seconds is not None:
                found[stage].append(seconds)
    return found


def summarize(
    times: Sequence[HandoffTimes],
    *,
    overdue: Mapping[str, int],
    since: datetime,
    until: datetime,
) -> MetricsReport:
    """The report of the handoffs received between ``since`` and ``until`` (``overdue``: open
    handoffs past their deadline now, by workflow)."""
    by_workflow: dict[str, list[HandoffTimes]] = defaultdict(list)
    for handoff in times:
        by_workflow[handoff.workflow].append(handoff)
    workflows = {
        workflow: _group(
            len(group),
            _stages(group),
            escalations=sum(len(h.escalated_by) for h in group),
            overdue=int(overdue.get(workflow, 0)),
        )
        for workflow, group in by_workflow.items()
    }
    for workflow, count in overdue.items():  # overdue work received before the period
        if workflow not in workflows and count:
            workflows[workflow] = GroupMetrics(overdue=int(count))
    # Per approver: each stage counts for the person who reached it.
    people: dict[str, dict[str, list[float]]] = defaultdict(lambda: {s: [] for s in STAGES})
    handled: dict[str, set[str]] = defaultdict(set)
    escalations: dict[str, int] = defaultdict(int)
    for handoff in times:
        for stage in STAGES:
            mark: Mark | None = getattr(handoff, stage)
            seconds = handoff.seconds(stage)
            if mark is not None and seconds is not None and mark.actor not in NOT_PEOPLE:
                people[mark.actor][stage].append(seconds)
                handled[mark.actor].add(handoff.handoff_id)
        for actor in handoff.escalated_by:
            escalations[actor] += 1
            handled[actor].add(handoff.handoff_id)
    # "received" of a person: the handoffs they handled (acted on, decided or escalated).
    approvers = {
        person: _group(
            len(handled[person]),
            people.get(person) or {s: [] for s in STAGES},
            escalations=escalations.get(person, 0),
        )
        for person in handled
    }
    total = _group(
        len(times),
        _stages(times),
        escalations=sum(len(h.escalated_by) for h in times),
        overdue=sum(int(n) for n in overdue.values()),
    )
    return MetricsReport(
        since=since,
        until=until,
        total=total,
        by_workflow=dict(sorted(workflows.items())),
        by_approver=dict(sorted(approvers.items())),
    )


class MetricsQueries:
    """Reads what the report and ``GET /metrics`` need; each read is one short query or two."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def report(self, now: datetime, period: timedelta = DEFAULT_PERIOD) -> MetricsReport:
        """The numbers of the handoffs received in the ``period`` up to ``now``."""
        since = now - period
        async with self._db.reads() as session:
            handoffs = [
                (str(h_id), str(workflow), created_at)
                for h_id, workflow, created_at in await session.execute(
                    select(HandoffRow.id, HandoffRow.workflow, HandoffRow.created_at).where(
                        HandoffRow.created_at >= since, HandoffRow.created_at <= now
                    )
                )
            ]
            # Through the audit log's handoff index: only the period's handoffs are read.
            ids = select(HandoffRow.id).where(
                HandoffRow.created_at >= since, HandoffRow.created_at <= now
            )
            entries = [
                (str(h_id), at, str(actor), str(action), detail)
                for h_id, at, actor, action, detail in await session.execute(
                    select(
                        AuditEntry.handoff_id,
                        AuditEntry.at,
                        AuditEntry.actor,
                        AuditEntry.action,
                        AuditEntry.detail,
                    )
                    .where(AuditEntry.handoff_id.in_(ids), AuditEntry.action.in_(READ_ACTIONS))
                    .order_by(AuditEntry.at, AuditEntry.id)
                )
            ]
            overdue = await self._overdue(session, now)
        return summarize(handoff_times(handoffs, entries), overdue=overdue, since=since, until=now)

    async def overdue(self, now: datetime) -> dict[str, int]:
        """Open handoffs past their deadline now, by workflow."""
        async with self._db.reads() as session:
            return await self._overdue(session, now)

    @staticmethod
    async def _overdue(session: Any, now: datetime) -> dict[str, int]:
        rows = await session.execute(
            select(HandoffRow.workflow, func.count())
            .where(HandoffRow.status.notin_(CLOSED_VALUES), HandoffRow.deadline < now)
            .group_by(HandoffRow.workflow)
        )
        return {str(workflow): int(n) for workflow, n in rows}

    async def backlog(self, now: datetime) -> dict[str, Backlog]:
        """Pending outbox work by kind (every kind, zero when none): how much, and how long the
        oldest item that is due has waited (a held digest post is not due yet, so not late)."""
        async with self._db.reads() as session:
            pending = {
                str(kind): int(n)
                for kind, n in await session.execute(
                    select(OutboxItem.kind, func.count())
                    .where(OutboxItem.status == "pending")
                    .group_by(OutboxItem.kind)
                )
            }
            oldest = {
                str(kind): at
                for kind, at in await session.execute(
                    select(OutboxItem.kind, func.min(OutboxItem.available_at))
                    .where(OutboxItem.status == "pending", OutboxItem.available_at <= now)
                    .group_by(OutboxItem.kind)
                )
            }
        kinds = sorted({k.value for k in OutboxKind} | set(pending))
        return {
            kind: Backlog(
                pending=pending.get(kind, 0),
                oldest_due_seconds=_age(oldest.get(kind), now),
            )
            for kind in kinds
        }


def _age(at: datetime | None, now: datetime) -> float:
    return 0.0 if at is None else max(0.0, (now - at).total_seconds())
