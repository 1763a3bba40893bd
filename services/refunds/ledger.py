"""The refunds table as services and connectors use it: what a handoff's refund is, what was
already refunded on a payment, and the outcome a payment system reported.

An outcome is applied once: each status change records one event (``refund_succeeded``,
``refund_failed``, ``refund_refused``) keyed by the refund's key and status, so a connector's retry
that reports the same outcome again changes nothing and tells nobody twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, RefundRow
from services.events import BOT, Event, EventLog, EventType

__all__ = [
    "COUNTED",
    "FINAL",
    "Refund",
    "RefundLedger",
    "RefundStatus",
    "RefundSystem",
    "record_once",
    "refund_key",
]


class RefundStatus(StrEnum):
    PENDING = "pending"  # waits for an approver (policy off, or a condition failed)
    SCHEDULED = "scheduled"  # allowed by policy; executes at ``execute_after`` unless reversed
    REVERSED = "reversed"  # a person stopped the automatic refund in its grace window
    RELEASED = "released"  # approved or grace over: the payment system is asked to refund
    PROCESSING = "processing"  # the payment system accepted it and has not finished
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the payment system refused it or it failed there
    REFUSED = "refused"  # a guardrail refused it (disputed charge, more than was paid, ...)
    MANUAL = "manual"  # no API can refund it (crypto): finance follows the checklist
    MARKED = "marked"  # an approver marked the manual refund done


class RefundSystem(StrEnum):
    STRIPE = "stripe"  # a Stripe charge or payment intent: refunded with POST /v1/refunds
    MANUAL = "manual"  # Plisio / crypto or unknown: refunded by hand, then marked


# What a later refund of the same payment must count as already refunded (or on its way).
COUNTED = frozenset(
    {RefundStatus.RELEASED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED, RefundStatus.MARKED}
)
FINAL = frozenset(
    {
        RefundStatus.REVERSED,
        RefundStatus.SUCCEEDED,
        RefundStatus.FAILED,
        RefundStatus.REFUSED,
        RefundStatus.MARKED,
    }
)
_OUTCOME_EVENTS = {
    RefundStatus.SUCCEEDED: EventType.REFUND_SUCCEEDED,
    RefundStatus.FAILED: EventType.REFUND_FAILED,
    RefundStatus.REFUSED: EventType.REFUND_REFUSED,
}
# Outcomes a payment system may report, from the states it may report them in.
_REPORTABLE_FROM = frozenset({RefundStatus.RELEASED, RefundStatus.PROCESSING})


def _event_key(event_type: EventType, refund: str) -> str:
    """One outcome event per refund (audit keys hold 64 characters; call ids may be longer)."""
    return f"{event_type.value}:{hashlib.sha256(refund.encode()).hexdigest()[:40]}"


async def record_once(
    session: AsyncSession,
    events: EventLog,
    event_type: EventType,
    refund: RefundRow,
    actor: str,
    now: datetime,
    detail: dict[str, Any],
) -> bool:
    """One event of ``event_type`` per refund (the ledger's keys): a repeat records nothing."""
    key = _event_key(event_type, refund.key)
    if await session.scalar(select(func.count()).where(AuditEntry.key == key)):
        return False
    events.record(session, Event(event_type, refund.handoff_id, actor, now, detail, key=key))
    return True


def refund_key(call_id: str) -> str:
    """The idempotency key of every external write about the call's refund."""
    return f"{call_id}:refund"


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    handoff_id: str
    key: str
    call_id: str
    customer_email: str | None
    system: RefundSystem
    payment_ref: str | None
    amount: Decimal
    currency: str
    status: RefundStatus
    automatic: bool
    policy_version: str | None
    rule: str | None
    decided_by: str | None
    execute_after: datetime | None
    external_id: str | None
    error: str | None

    @classmethod
    def of(cls, row: RefundRow, call_id: str) -> Refund:
        return cls(
            id=row.id,
            handoff_id=row.handoff_id,
            key=row.key,
            call_id=call_id,
            customer_email=row.customer_email,
            system=RefundSystem(row.system),
            payment_ref=row.payment_ref,
            amount=row.amount,
            currency=row.currency,
            status=RefundStatus(row.status),
            automatic=row.automatic,
            policy_version=row.policy_version,
            rule=row.rule,
            decided_by=row.decided_by,
            execute_after=row.execute_after,
            external_id=row.external_id,
            error=row.error,
        )


class RefundLedger:
    """Reads refunds and applies the outcomes payment systems report."""

    def __init__(
        self, db: Database, events: Callable[[], EventLog], clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._events = events  # late-bound: the event log is built after the connectors
        self._clock = clock

    async def for_handoff(self, handoff_id: str) -> Refund | None:
        async with self._db.reads() as session:
            found = (
                await session.execute(
                    select(RefundRow, HandoffRow.call_id)
                    .join(HandoffRow, HandoffRow.id == RefundRow.handoff_id)
                    .where(RefundRow.handoff_id == handoff_id)
                )
            ).first()
        return None if found is None else Refund.of(found[0], found[1])

    async def refunded_before(self, payment_ref: str, *, excluding: str) -> Decimal:
        """What other refunds of ``payment_ref`` have refunded or are refunding (``excluding``
        is the key of the refund asking)."""
        async with self._db.reads() as session:
            amounts = await session.scalars(
                select(RefundRow.amount).where(
                    RefundRow.payment_ref == payment_ref,
                    RefundRow.key != excluding,
                    RefundRow.status.in_([s.value for s in COUNTED]),
                )
            )
            return sum(amounts, Decimal(0))

    async def record_outcome(
        self,
        handoff_id: str,
        status: RefundStatus,
        *,
        external_id: str | None = None,
        error: str | None = None,
        actor: str = BOT,
    ) -> bool:
        """Apply what the payment system said: ``PROCESSING``, ``SUCCEEDED``, ``FAILED`` or
        ``REFUSED``. True when it changed the refund; a repeat or a report about a refund that
        is not out for execution changes nothing."""
        if status not in (RefundStatus.PROCESSING, *_OUTCOME_EVENTS):
            raise ValueError(f"{status} is not an outcome a payment system reports")
        async with self._db.sessions() as session, session.begin():
            row = await session.scalar(
                select(RefundRow).where(RefundRow.handoff_id == handoff_id).with_for_update()
            )
            if row is None or RefundStatus(row.status) not in _REPORTABLE_FROM:
                return False
            if row.status == status.value and row.external_id == (external_id or row.external_id):
                return False
            row.status = status.value
            row.external_id = external_id or row.external_id
            row.error = error if status in (RefundStatus.FAILED, RefundStatus.REFUSED) else None
            row.updated_at = self._clock()
            event_type = _OUTCOME_EVENTS.get(status)
            if event_type is not None:
                detail: dict[str, Any] = {
                    "amount": str(row.amount),
                    "currency": row.currency,
                    "system": row.system,
                    "payment_ref": row.payment_ref,
                    "external_id": row.external_id,
                }
                if row.error:
                    detail["reason"] = row.error
                await record_once(
                    session, self._events(), event_type, row, actor, self._clock(), detail
                )
            return True
