"""Plisio status callbacks applied to invoices and handoffs: what the money really says.

Every verified callback is checked against the stored invoice before anything changes:

- ``txn_id`` and ``order_number`` must belong to the same stored invoice (else 409, audited);
- ``source_currency`` / ``source_amount`` must be the invoice's fiat currency and total (else the
  payment is never "paid": it is held for review with the reason);
- statuses only move forward (new < pending < final): a replayed earlier status changes nothing
  and is audited;
- paid or not is decided from the amounts, not the status word: received below the invoice total
  is underpaid (also for a ``completed`` callback), at or above it is paid (an overpayment is
  flagged for review).

Once an invoice has been paid it is never shown as unpaid again: a later regression is recorded in
the audit log, and the invoice keeps its paid state. The same callback twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from services.db.engine import Database
from services.db.models import HandoffRow, InvoiceRow
from services.events import PLISIO, Event, EventLog, EventType
from services.payment_provider import PaymentCallback
from services.states import HandoffStatus

__all__ = [
    "PAID_STATES",
    "REISSUABLE_STATES",
    "Assessment",
    "PaymentOutcome",
    "PaymentResult",
    "PaymentState",
    "PaymentUpdates",
    "assess",
    "payment_event",
    "status_rank",
]


class PaymentState(StrEnum):
    """What the bot concluded about an invoice's money."""

    AWAITING = "awaiting"  # new or pending: nothing (final) received yet
    PAID = "paid"
    OVERPAID = "overpaid"  # paid; more than the total arrived: flagged for review
    UNDERPAID = "underpaid"  # less than the total arrived: not paid
    REVIEW = "review"  # amount or currency differs from the invoice, or cannot be compared
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ERROR = "error"
    OTHER = "other"  # a status Plisio has not documented: shown as it came


PAID_STATES = frozenset({PaymentState.PAID, PaymentState.OVERPAID})
# States after which finance may ask for a fresh invoice.
REISSUABLE_STATES = frozenset(
    {
        PaymentState.EXPIRED,
        PaymentState.CANCELLED,
        PaymentState.UNDERPAID,
        PaymentState.REVIEW,
        PaymentState.ERROR,
    }
)
_FINAL = frozenset(
    {"completed", "mismatch", "expired", "cancelled", "cancelled duplicate", "error"}
)
_EARLY = {"new": 0, "pending": 1, "pending internal": 1}
_CENT = Decimal("0.01")


def status_rank(status: str | None) -> int:
    """Where a status sits in an invoice's life: new 0, pending (or unknown) 1, final 2."""
    word = (status or "").strip().lower()
    if word in _FINAL:
        return 2
    if word in _EARLY:
        return _EARLY[word]
    if word in {"creating", "unknown", "failed", ""}:  # the bot's own, before Plisio spoke
        return -1
    return 1


@dataclass(frozen=True, slots=True)
class Assessment:
    """One callback judged against the stored invoice."""

    state: PaymentState
    expected: Decimal | None = None
    expected_currency: str | None = None
    received: Decimal | None = None
    received_currency: str | None = None
    reason: str | None = None

    @property
    def paid(self) -> bool:
        return self.state in PAID_STATES


def _upper(value: str | None) -> str | None:
    return value.strip().upper() if value and value.strip() else None


def assess(callback: PaymentCallback, total: Decimal, currency: str) -> Assessment:
    """Judge a callback against the invoice's fiat ``total`` and ``currency`` (pure)."""
    status = callback.status.strip().lower()
    crypto = _upper(callback.currency) or _upper(callback.psys_cid)
    # Plain callbacks carry one ``amount``: what was received. Callbacks that also carry
    # ``received_amount`` use ``amount`` for the invoice's own crypto amount (Plisio's C# SDK).
    received = callback.received_amount
    expected = callback.invoice_total_sum
    if received is None:
        received = callback.amount
    elif expected is None:
        expected = callback.amount
    fiat = _upper(callback.source_currency)
    if fiat is not None and fiat != currency.upper():
        return Assessment(
            PaymentState.REVIEW,
            total,
            currency,
            received,
            crypto,
            reason=f"Plisio reports the invoice in {fiat}, but it was issued in {currency}",
        )
    if callback.source_amount is not None and callback.source_amount != total:
        return Assessment(
            PaymentState.REVIEW,
            total,
            currency,
            received,
            crypto,
            reason=(
                f"Plisio reports an invoice total of {callback.source_amount} "
                f"{fiat or currency}, but it was issued for {total} {currency}"
            ),
        )
    if status in {"completed", "mismatch"}:
        return _settled(status, total, currency, expected, received, crypto, callback.source_rate)
    states = {
        "new": PaymentState.AWAITING,
        "pending": PaymentState.AWAITING,
        "pending internal": PaymentState.AWAITING,
        "expired": PaymentState.EXPIRED,
        "cancelled": PaymentState.CANCELLED,
        "cancelled duplicate": PaymentState.CANCELLED,
        "error": PaymentState.ERROR,
    }
    return Assessment(states.get(status, PaymentState.OTHER), expected, crypto, received, crypto)


def _settled(
    status: str,
    total: Decimal,
    currency: str,
    expected: Decimal | None,
    received: Decimal | None,
    crypto: str | None,
    rate: Decimal | None,
) -> Assessment:
    """A completed or mismatch callback: paid, over- or underpaid, decided from amounts."""
    if expected is not None and received is not None:
        compare, shown = (received, expected), (expected, crypto, received, crypto)
    elif received is not None and rate is not None and rate > 0:
        # 1 unit of the crypto is worth ``source_rate`` of the fiat (Plisio's definition).
        in_fiat = (received * rate).quantize(_CENT, rounding=ROUND_HALF_UP)
        compare, shown = (in_fiat, total), (total, currency, in_fiat, currency)
    else:
        if status == "completed":  # nothing contradicts Plisio's word
            return Assessment(PaymentState.PAID, total, currency, received, crypto)
        return Assessment(
            PaymentState.REVIEW,
            total,
            currency,
            received,
            crypto,
            reason="Plisio reports a payment mismatch without amounts to compare",
        )
    got, want = compare
    if got < want:
        state = PaymentState.UNDERPAID
    elif got > want:
        state = PaymentState.OVERPAID
    else:
        state = PaymentState.PAID
    return Assessment(state, shown[0], shown[1], shown[2], shown[3])


class PaymentOutcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # a repeat of what is already recorded
    REGRESSION = "regression"  # paid before; recorded, not shown
    OUT_OF_ORDER = "out_of_order"  # an earlier status after a later one; recorded, not shown
    CONFLICT = "conflict"  # txn_id and order_number name different invoices; recorded
    UNKNOWN_INVOICE = "unknown_invoice"


@dataclass(frozen=True, slots=True)
class PaymentResult:
    outcome: PaymentOutcome
    status: str
    handoff_id: str | None = None
    paid: bool = False
    assessment: Assessment | None = None
    reason: str | None = None  # for a conflict: what did not match


class PaymentUpdates:
    """Applies verified Plisio callbacks."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], events: EventLog | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events or EventLog()

    async def apply(self, callback: PaymentCallback) -> PaymentResult:
        """Record one verified callback."""
        now = self._clock()
        status = callback.status
        detail: dict[str, Any] = {
            "txn_id": callback.txn_id,
            "status": status,
            "order_number": callback.order_number,
            "amount": _text(callback.amount),
            "currency": callback.currency,
            "source_amount": _text(callback.source_amount),
            "source_currency": callback.source_currency,
        }
        async with self._db.sessions() as session, session.begin():

            def audit(handoff_id: str | None, event: EventType, **more: Any) -> None:
                self._events.record(
                    session, Event(event, handoff_id, PLISIO, now, {**detail, **more})
                )

            invoice = await session.scalar(
                select(InvoiceRow).where(InvoiceRow.txn_id == callback.txn_id).with_for_update()
            )
            conflict = None
            if invoice is not None:
                if callback.order_number and callback.order_number != invoice.order_number:
                    conflict = (
                        f"txn_id {callback.txn_id} belongs to order {invoice.order_number}, "
                        f"not {callback.order_number}"
                    )
            elif callback.order_number:
                invoice = await session.scalar(
                    select(InvoiceRow)
                    .where(InvoiceRow.order_number == callback.order_number)
                    .with_for_update()
                )
                if invoice is not None and invoice.txn_id not in (None, callback.txn_id):
                    # Plisio gives an invoice a new id when the payer switches coin on its page;
                    # the order's invoice keeps its first id, and the audit entry names both.
                    detail["invoice_txn_id"] = invoice.txn_id
            if invoice is None:
                audit(None, EventType.CALLBACK_UNMATCHED)
                return PaymentResult(PaymentOutcome.UNKNOWN_INVOICE, status)
            if conflict is not None:
                audit(invoice.handoff_id, EventType.CALLBACK_CONFLICT, reason=conflict)
                return PaymentResult(
                    PaymentOutcome.CONFLICT, status, invoice.handoff_id, reason=conflict
                )
            if invoice.txn_id is None:
                invoice.txn_id = callback.txn_id
            judged = assess(callback, invoice.amount, invoice.currency)
            judged_detail = {
                "state": judged.state.value,
                "expected": _text(judged.expected),
                "expected_currency": judged.expected_currency,
                "received": _text(judged.received),
                "received_currency": judged.received_currency,
                "reason": judged.reason,
            }
            already_paid = invoice.paid_at is not None
            if already_paid and not judged.paid:
                audit(invoice.handoff_id, EventType.STATUS_REGRESSION, kept=invoice.status)
                return PaymentResult(
                    PaymentOutcome.REGRESSION, invoice.status, invoice.handoff_id, paid=True
                )
            if status_rank(status) < status_rank(invoice.status):
                audit(invoice.handoff_id, EventType.STATUS_OUT_OF_ORDER, kept=invoice.status)
                return PaymentResult(
                    PaymentOutcome.OUT_OF_ORDER, invoice.status, invoice.handoff_id
                )
            recorded = invoice.payment_state or PaymentState.AWAITING.value
            if (
                invoice.status == status
                and recorded == judged.state.value
                # Amounts matter once something was (or should have been) paid.
                and (
                    judged.state is PaymentState.AWAITING
                    or invoice.received_amount == judged.received
                )
            ):
                return PaymentResult(
                    PaymentOutcome.UNCHANGED, status, invoice.handoff_id, paid=already_paid
                )
            invoice.status = status
            invoice.payment_state = judged.state.value
            invoice.expected_amount = judged.expected
            invoice.expected_currency = judged.expected_currency
            invoice.received_amount = judged.received
            invoice.received_currency = judged.received_currency
            invoice.review_reason = judged.reason
            invoice.updated_at = now
            if judged.paid and invoice.paid_at is None:
                invoice.paid_at = now
            audit(invoice.handoff_id, payment_event(judged.state), **judged_detail)
            if invoice.handoff_id is not None:
                row = await session.get(HandoffRow, invoice.handoff_id, with_for_update=True)
                if row is not None:
                    row.updated_at = now
                    row.version += 1
                    if judged.paid and row.status not in {
                        HandoffStatus.PAID.value,
                        HandoffStatus.DECLINED.value,
                    }:
                        row.status = HandoffStatus.PAID.value
                        row.next_reminder_at = None
            return PaymentResult(
                PaymentOutcome.UPDATED,
                status,
                invoice.handoff_id,
                paid=judged.paid or already_paid,
                assessment=judged,
            )


# The event a concluded payment state is recorded as: connectors subscribe to "paid" or
# "mismatch", not to a status word they would have to interpret again.
_STATE_EVENTS = {
    PaymentState.PAID: EventType.PAID,
    PaymentState.OVERPAID: EventType.MISMATCH,
    PaymentState.UNDERPAID: EventType.MISMATCH,
    PaymentState.REVIEW: EventType.MISMATCH,
    PaymentState.EXPIRED: EventType.EXPIRED,
    PaymentState.CANCELLED: EventType.CANCELLED,
}


def payment_event(state: PaymentState) -> EventType:
    """The domain event of an invoice reaching ``state`` (awaiting, error, other: a status)."""
    return _STATE_EVENTS.get(state, EventType.PAYMENT_STATUS)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
