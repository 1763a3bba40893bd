"""Plisio status callbacks applied to invoices and handoffs, idempotently.

The same callback delivered twice changes nothing the second time. Once an invoice has been paid
it is never shown as unpaid again: a later regression (completed, then pending) is recorded in
the audit log for finance to look at, but the invoice keeps its paid state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_, select

from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, InvoiceRow
from services.plisio import PlisioCallback, is_paid
from services.states import HandoffStatus

__all__ = ["PaymentOutcome", "PaymentResult", "PaymentUpdates"]


class PaymentOutcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # a repeat of the status already recorded
    REGRESSION = "regression"  # paid before; recorded, not shown
    UNKNOWN_INVOICE = "unknown_invoice"


@dataclass(frozen=True, slots=True)
class PaymentResult:
    outcome: PaymentOutcome
    status: str
    handoff_id: str | None = None
    paid: bool = False


class PaymentUpdates:
    """Applies verified Plisio callbacks."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def apply(self, callback: PlisioCallback) -> PaymentResult:
        """Record one verified callback."""
        now = self._clock()
        status = callback.status
        async with self._db.sessions() as session, session.begin():
            clauses = [InvoiceRow.txn_id == callback.txn_id]
            if callback.order_number:
                clauses.append(InvoiceRow.order_number == callback.order_number)
            invoice = await session.scalar(
                select(InvoiceRow).where(or_(*clauses)).with_for_update()
            )
            detail = {
                "txn_id": callback.txn_id,
                "status": status,
                "order_number": callback.order_number,
                "amount": str(callback.amount) if callback.amount is not None else None,
                "currency": callback.currency,
            }
            if invoice is None:
                session.add(
                    AuditEntry(
                        handoff_id=None,
                        at=now,
                        actor="plisio",
                        action="callback_unmatched",
                        detail=detail,
                    )
                )
                return PaymentResult(PaymentOutcome.UNKNOWN_INVOICE, status)
            if invoice.txn_id is None:
                invoice.txn_id = callback.txn_id
            already_paid = invoice.paid_at is not None
            if already_paid and not is_paid(status):
                session.add(
                    AuditEntry(
                        handoff_id=invoice.handoff_id,
                        at=now,
                        actor="plisio",
                        action="status_regression",
                        detail={**detail, "kept": invoice.status},
                    )
                )
                return PaymentResult(
                    PaymentOutcome.REGRESSION, invoice.status, invoice.handoff_id, paid=True
                )
            if invoice.status == status:
                return PaymentResult(
                    PaymentOutcome.UNCHANGED, status, invoice.handoff_id, paid=already_paid
                )
            invoice.status = status
            invoice.updated_at = now
            paid = is_paid(status)
            if paid and invoice.paid_at is None:
                invoice.paid_at = now
            session.add(
                AuditEntry(
                    handoff_id=invoice.handoff_id,
                    at=now,
                    actor="plisio",
                    action="payment_status",
                    detail=detail,
                )
            )
            if paid and invoice.handoff_id is not None:
                row = await session.get(HandoffRow, invoice.handoff_id, with_for_update=True)
                if row is not None and row.status not in {
                    HandoffStatus.PAID.value,
                    HandoffStatus.DECLINED.value,
                }:
                    row.status = HandoffStatus.PAID.value
                    row.next_reminder_at = None
                    row.updated_at = now
                    row.version += 1
            return PaymentResult(
                PaymentOutcome.UPDATED, status, invoice.handoff_id, paid=paid or already_paid
            )
