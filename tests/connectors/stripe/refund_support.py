"""A refund handoff released for execution, as the refund service leaves it: the handoff stored
through intake, its ``refunds`` row ``released``, and the ``refund_released`` event recorded
(which queues the refund connector's outbox item when an event log subscribes it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from services.db.engine import Database
from services.db.models import RefundRow
from services.events import BOT, Event, EventLog, EventType
from services.handoff_model import Handoff
from services.intake import HandoffIntake
from services.refunds import RefundStatus, RefundSystem, refund_key
from tests.support.examples import example

__all__ = ["release_refund", "store_refund_handoff"]


async def store_refund_handoff(
    intake: HandoffIntake, call_id: str, *, payment_id: str, email: str, amount: str, currency: str
) -> str:
    data = example("refund_with_bank_details", call_id=call_id)
    data["customer"]["email"] = email
    data["billing"].update(payment_id=payment_id, amount=amount, currency=currency)
    stored = await intake.store(Handoff.model_validate(data))
    return stored.handoff_id


async def release_refund(
    db: Database,
    events: EventLog,
    handoff_id: str,
    call_id: str,
    *,
    payment_ref: str,
    amount: str,
    currency: str,
    now: datetime,
    system: RefundSystem = RefundSystem.STRIPE,
    status: RefundStatus = RefundStatus.RELEASED,
) -> Event:
    """The refund row, and the ``refund_released`` event (returned)."""
    event = Event(EventType.REFUND_RELEASED, handoff_id, BOT, now, {"amount": amount})
    async with db.sessions() as session, session.begin():
        # Intake stored the refund with the handoff (pending): the approval releases it.
        row = await session.scalar(select(RefundRow).where(RefundRow.handoff_id == handoff_id))
        if row is None:
            row = RefundRow(handoff_id=handoff_id, key=refund_key(call_id), created_at=now)
            session.add(row)
        row.customer_email = None
        row.system = system.value
        row.payment_ref = payment_ref
        row.amount = Decimal(amount)
        row.currency = currency
        row.status = status.value
        row.automatic = False
        row.decided_by = "U_APPROVER"
        row.updated_at = now
        events.record(session, event)
    return event
