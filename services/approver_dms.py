"""Approval requests in approvers' DMs: who gets a copy, their choice, and each copy's record.

A handoff that waits for a specific person (the second approval of a two-person handoff, an
escalation to the finance lead, a delegate standing in) is also sent to that person's DM, with
the same decision message as the channel (same buttons, same handlers, same permission policy).

``approver_dm_work`` is an ``EventLog`` hook: the event that makes a handoff wait for someone
queues one ``OutboxKind.APPROVER_DM`` item, keyed by the event, in the event's transaction. The
Slack adapter (``slack_adapter.approver_dms``) resolves the targets when it runs and posts each
copy once per (handoff, approver, reason): the copy's row (``approver_dms``) is written before
the post, so a retry looks for the copy an interrupted try may have sent instead of sending
another. ``HandoffMessages.refresh`` updates every recorded copy with the channel message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.db.engine import Database
from services.db.models import ApproverDm, ApproverPref
from services.events import BOT, Event, EventLog, EventType, OutboxKind, Work
from services.routing import RoutingConfig

__all__ = [
    "APPROVER_DM_KIND",
    "ApproverDmRecords",
    "ApproverPrefs",
    "DmCopy",
    "DmReason",
    "approver_dm_work",
    "dm_key",
    "dm_targets",
    "reason_for",
    "wants_dm",
]

APPROVER_DM_KIND = OutboxKind.APPROVER_DM
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class DmReason(StrEnum):
    """Why a handoff waits for one person (the copy's key says which)."""

    SECOND_APPROVAL = "second_approval"  # a two-person handoff after its first approval
    ESCALATION = "escalation"  # escalated: the finance lead
    DELEGATE = "delegate"  # standing in for an approver who is away (delegation)


def reason_for(event: Event) -> DmReason | None:
    """The reason ``event`` makes its handoff wait for someone, if it does."""
    if event.handoff_id is None:
        return None
    if event.type is EventType.APPROVED:
        approval, of = event.detail.get("approval"), event.detail.get("of")
        if isinstance(approval, int) and isinstance(of, int) and approval < of:
            return DmReason.SECOND_APPROVAL
        return None
    if event.type is EventType.ESCALATED:
        return DmReason.ESCALATION
    return None


def approver_dm_work(event: Event) -> Work | None:
    """``EventLog`` hook: the DM copies ``event`` asks for, as one keyed outbox item."""
    reason = reason_for(event)
    if reason is None:
        return None
    return Work(
        kind=APPROVER_DM_KIND,
        key=f"approver_dm:{event.key}",
        payload={"reason": reason.value, "actor": event.actor, "event": event.key},
    )


def dm_key(handoff_id: str, approver: str, reason: DmReason | str) -> str:
    """The key of one copy: in its Slack metadata, so a retry can find it."""
    return f"approver_dm:{handoff_id}:{approver}:{DmReason(reason).value}"


def wants_dm(user_id: str, routing: RoutingConfig, choice: bool | None) -> bool:
    """Does ``user_id`` want approval requests in their DM too? Their own Home-tab ``choice``
    wins; else ``[approvers] dm`` names them; else ``[approvers] dm_default``."""
    if choice is not None:
        return choice
    if user_id in routing.approvers.dm:
        return True
    return routing.approvers.dm_default == "dm"


def _identity(user_id: str) -> str:
    return user_id


def dm_targets(
    reason: DmReason,
    *,
    routing: RoutingConfig,
    actor: str,
    requested_by: str | None = None,
    choices: Mapping[str, bool] | None = None,
    delegate: Callable[[str], str] = _identity,
) -> list[str]:
    """Who gets a DM copy, in order, each once.

    ``SECOND_APPROVAL``: every named approver (``[approvers] users``) but the first one;
    ``ESCALATION``: the finance lead (a Slack user, not a user group); ``DELEGATE``: nobody by
    itself (delegation names its delegate through ``delegate``). Each person is mapped through
    ``delegate`` (an approver to their active delegate; the identity by default), then kept
    when they want DMs (``wants_dm`` with their stored ``choices``). Never the requester, and
    never the person whose action made it wait (the first approver: two approvals need two
    people; the lead who escalated it themselves).
    """
    if reason is DmReason.SECOND_APPROVAL:
        candidates: Iterable[str] = routing.approvers.users
    elif reason is DmReason.ESCALATION:
        lead = routing.mentions.finance_lead
        candidates = [lead] if lead and SLACK_USER.match(lead) else []
    else:
        candidates = []
    stored = choices or {}
    targets: list[str] = []
    for person in candidates:
        if person == actor:
            continue
        target = delegate(person)
        if target in targets or target in {requested_by, actor}:
            continue
        if wants_dm(target, routing, stored.get(target)):
            targets.append(target)
    return targets


class ApproverPrefs:
    """Each person's Home-tab choice: approval requests in the channel only, or in a DM too."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def choices(self, users: Iterable[str]) -> dict[str, bool]:
        """The stored choices of ``users`` (those who never chose are absent)."""
        wanted = sorted(set(users))
        if not wanted:
            return {}
        async with self._db.reads() as session:
            rows = await session.scalars(
                select(ApproverPref).where(ApproverPref.user_id.in_(wanted))
            )
            return {row.user_id: row.approval_dms for row in rows}

    async def wants_dm(self, user_id: str, routing: RoutingConfig) -> bool:
        """What the Home tab shows: the person's choice, else what routing.toml says."""
        return wants_dm(user_id, routing, (await self.choices([user_id])).get(user_id))

    async def choose(self, user_id: str, approval_dms: bool) -> None:
        async with self._db.sessions() as session, session.begin():
            row = await session.get(ApproverPref, user_id)
            if row is None:
                session.add(
                    ApproverPref(
                        user_id=user_id, approval_dms=approval_dms, updated_at=self._clock()
                    )
                )
            else:
                row.approval_dms = approval_dms
                row.updated_at = self._clock()


@dataclass(frozen=True, slots=True)
class DmCopy:
    """One DM copy of a handoff's message (``ts`` None: not posted yet)."""

    id: int
    handoff_id: str
    approver: str
    reason: DmReason
    channel: str | None
    ts: str | None
    claimed_before: bool = False  # an earlier try wrote the row: it may have posted

    @property
    def key(self) -> str:
        return dm_key(self.handoff_id, self.approver, self.reason)


def _copy(row: ApproverDm, *, claimed_before: bool = False) -> DmCopy:
    return DmCopy(
        row.id,
        row.handoff_id,
        row.approver,
        DmReason(row.reason),
        row.channel,
        row.ts,
        claimed_before,
    )


class ApproverDmRecords:
    """The record of each DM copy: claimed before it is posted, completed with its ts (and an
    ``approval_dm_sent`` event in the audit log)."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], events: EventLog | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events or EventLog()

    async def claim(self, handoff_id: str, approver: str, reason: DmReason) -> DmCopy:
        """The copy's row, written now unless an earlier try wrote it (``claimed_before``)."""
        now = self._clock()
        try:
            async with self._db.sessions() as session, session.begin():
                row = ApproverDm(
                    handoff_id=handoff_id,
                    approver=approver,
                    reason=reason.value,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                return _copy(row)
        except IntegrityError:
            pass
        async with self._db.reads() as session:
            found = await session.scalar(
                select(ApproverDm).where(
                    ApproverDm.handoff_id == handoff_id,
                    ApproverDm.approver == approver,
                    ApproverDm.reason == reason.value,
                )
            )
        assert found is not None
        return _copy(found, claimed_before=True)

    async def posted(self, copy_id: int, channel: str, ts: str | None) -> None:
        """The copy is in ``channel`` at ``ts`` (None: it could not be sent, and never will)."""
        now = self._clock()
        async with self._db.sessions() as session, session.begin():
            row = await session.get(ApproverDm, copy_id)
            if row is None:
                return
            row.channel, row.ts, row.updated_at = channel, ts, now
            if ts is not None:
                detail = {"to": row.approver, "reason": row.reason}
                sent = Event(EventType.APPROVAL_DM_SENT, row.handoff_id, BOT, now, detail)
                self._events.record(session, sent)

    async def copies(self, handoff_id: str) -> Sequence[DmCopy]:
        """The handoff's posted copies, oldest first (what a refresh updates)."""
        async with self._db.reads() as session:
            rows = await session.scalars(
                select(ApproverDm)
                .where(ApproverDm.handoff_id == handoff_id, ApproverDm.ts.is_not(None))
                .order_by(ApproverDm.id)
            )
            return [_copy(row) for row in rows]

    async def is_copy(self, channel: str, ts: str) -> bool:
        """Is the message at (``channel``, ``ts``) a DM copy of a handoff message?"""
        async with self._db.reads() as session:
            found = await session.scalar(
                select(ApproverDm.id).where(ApproverDm.channel == channel, ApproverDm.ts == ts)
            )
            return found is not None
