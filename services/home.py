"""What a person's App Home shows: their open handoffs, approvals waiting for them, recent work.

Plain queries over the database, Slack-free; ``blocks/home.py`` renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import Approval, AuditEntry, HandoffRow
from services.events import EventType
from services.handoff_model import Urgency, Workflow
from services.states import CLOSED, DECIDABLE, HandoffStatus

__all__ = ["HomeItem", "HomeQueries", "HomeRefresher", "HomeSnapshot", "RecentItem"]

CLOSED_VALUES = [s.value for s in CLOSED]
DECIDABLE_VALUES = [s.value for s in DECIDABLE]
# What a person did that counts as "acted on" (the bot's own entries are left out by actor).
PERSON_ACTIONS = (
    EventType.APPROVED,
    EventType.DECLINED,
    EventType.ESCALATED,
    EventType.REASSIGNED,
    EventType.DONE,
    EventType.RETRIED,
    EventType.SNOOZED,
)
RECENT_SCAN = 200  # newest audit entries read to find the distinct recent handoffs


class HomeRefresher(Protocol):
    """Republishes one person's Home tab; never raises."""

    async def refresh(self, user_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class HomeItem:
    handoff_id: str
    call_id: str
    workflow: Workflow
    urgency: Urgency
    urgent: bool
    status: HandoffStatus
    channel: str
    message_ts: str | None
    deadline: datetime | None
    customer: str | None
    next_step: str | None
    amount: Decimal | None
    currency: str | None
    two_person: bool
    approvals: int = 0
    # What the connected systems said (``handoffs.context``), drawn like on the message.
    context: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecentItem:
    item: HomeItem
    action: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HomeSnapshot:
    user_id: str
    mine: tuple[HomeItem, ...]
    mine_total: int
    overdue: int
    counts: dict[str, int]  # the viewer's handoffs by status
    approver: bool
    awaiting: tuple[HomeItem, ...] = ()
    awaiting_total: int = 0
    recent: tuple[RecentItem, ...] = field(default_factory=tuple)


def _text(payload: dict[str, Any], *path: str) -> str | None:
    node: Any = payload
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return str(node) if isinstance(node, str) and node else None


def _item(row: HandoffRow, approvals: int = 0) -> HomeItem:
    payload = row.payload or {}
    customer = _text(payload, "customer", "name") or _text(payload, "customer", "account_id")
    return HomeItem(
        handoff_id=row.id,
        call_id=row.call_id,
        workflow=Workflow(row.workflow),
        urgency=Urgency(row.urgency),
        urgent=row.urgent,
        status=HandoffStatus(row.status),
        channel=row.channel,
        message_ts=row.message_ts,
        deadline=row.deadline,
        customer=customer,
        next_step=_text(payload, "follow_up", "next_step"),
        amount=row.amount,
        currency=row.currency,
        two_person=row.two_person,
        approvals=approvals,
        context=dict(row.context or {}),
    )


class HomeQueries:
    """Reads one person's queue."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def snapshot(
        self, user_id: str, *, approver: bool, now: datetime, limit: int = 20
    ) -> HomeSnapshot:
        """Everything the Home tab shows for ``user_id``, each list cut to ``limit``."""
        open_mine = and_(
            HandoffRow.owner_slack_id == user_id, HandoffRow.status.notin_(CLOSED_VALUES)
        )
        async with self._db.sessions() as session:
            # Deadline order puts the overdue ones first; handoffs without one come last.
            mine_rows = await session.scalars(
                select(HandoffRow)
                .where(open_mine)
                .order_by(HandoffRow.deadline.is_(None), HandoffRow.deadline, HandoffRow.created_at)
                .limit(limit)
            )
            mine = tuple(_item(r) for r in mine_rows)
            counts = {
                str(status): int(n)
                for status, n in await session.execute(
                    select(HandoffRow.status, func.count())
                    .where(HandoffRow.owner_slack_id == user_id)
                    .group_by(HandoffRow.status)
                )
            }
            overdue = await session.scalar(
                select(func.count())
                .select_from(HandoffRow)
                .where(open_mine, HandoffRow.deadline < now)
            )
            awaiting, awaiting_total = (
                await self._awaiting(session, user_id, limit) if approver else ((), 0)
            )
            recent = await self._recent(session, user_id, limit=min(limit, 10))
        mine_total = sum(n for s, n in counts.items() if s not in CLOSED_VALUES)
        return HomeSnapshot(
            user_id=user_id,
            mine=mine,
            mine_total=mine_total,
            overdue=int(overdue or 0),
            counts=counts,
            approver=approver,
            awaiting=awaiting,
            awaiting_total=awaiting_total,
            recent=recent,
        )

    async def _awaiting(
        self, session: AsyncSession, user_id: str, limit: int
    ) -> tuple[tuple[HomeItem, ...], int]:
        """Decidable handoffs this approver has not approved and did not request themselves."""
        approved_by_me = exists().where(
            Approval.handoff_id == HandoffRow.id, Approval.approver == user_id
        )
        condition = and_(
            HandoffRow.status.in_(DECIDABLE_VALUES),
            or_(HandoffRow.requested_by.is_(None), HandoffRow.requested_by != user_id),
            ~approved_by_me,
        )
        total = await session.scalar(select(func.count()).select_from(HandoffRow).where(condition))
        approvals = (
            select(func.count())
            .select_from(Approval)
            .where(Approval.handoff_id == HandoffRow.id)
            .scalar_subquery()
        )
        rows = await session.execute(
            select(HandoffRow, approvals)
            .where(condition)
            .order_by(HandoffRow.urgent.desc(), HandoffRow.created_at, HandoffRow.id)
            .limit(limit)
        )
        return tuple(_item(row, int(n or 0)) for row, n in rows), int(total or 0)

    async def _recent(
        self, session: AsyncSession, user_id: str, *, limit: int
    ) -> tuple[RecentItem, ...]:
        """The handoffs this person acted on last, newest first, each once."""
        entries = await session.execute(
            select(AuditEntry.handoff_id, AuditEntry.action, AuditEntry.at)
            .where(
                AuditEntry.actor == user_id,
                AuditEntry.handoff_id.is_not(None),
                AuditEntry.action.in_([action.value for action in PERSON_ACTIONS]),
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(RECENT_SCAN)
        )
        latest: dict[str, tuple[str, datetime]] = {}
        for handoff_id, action, at in entries:
            if handoff_id is not None and handoff_id not in latest:
                latest[handoff_id] = (action, at)
            if len(latest) >= limit:
                break
        if not latest:
            return ()
        rows = await session.scalars(select(HandoffRow).where(HandoffRow.id.in_(list(latest))))
        by_id = {row.id: _item(row) for row in rows}
        return tuple(
            RecentItem(by_id[h], action, at) for h, (action, at) in latest.items() if h in by_id
        )
