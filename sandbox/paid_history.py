"""The demo customers' past Plisio payments, so a receipt resend has something to be a receipt of.

A receipt-resend call is about a payment made before the call (the example's caller wants "the
receipt for the September payment" of invoice INV-15502). A fresh sandbox's Plisio starts empty,
so when the page sends a receipt resend naming a payment listed here, that payment is added to
the fake Plisio first, as completed (paid in full) on the most recent date of that month and day
before now. It is added once: sending the example again finds it there. Handoffs naming anything
else are sent untouched (and their receipt resend says that nothing paid was found).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sandbox.plisio import FakeInvoice, FakePlisio

__all__ = ["DEMO_PAYMENTS", "PastPayment", "add_paid_history"]


@dataclass(frozen=True, slots=True)
class PastPayment:
    amount: Decimal
    currency: str  # what the shop priced it in
    month: int  # when it was paid (the latest such date before now)
    day: int


# (verified email, invoice number) -> the payment (the examples in examples/handoffs).
DEMO_PAYMENTS: dict[tuple[str, str], PastPayment] = {
    ("wen.liu@example.com", "INV-15502"): PastPayment(Decimal("89.00"), "USD", 9, 14),
}


def _paid_on(payment: PastPayment, now: datetime) -> datetime:
    year = now.year
    while True:
        at = datetime(year, payment.month, payment.day, 15, 42, tzinfo=UTC)
        if at < now:
            return at
        year -= 1


def add_paid_history(plisio: FakePlisio, raw: bytes, now: datetime) -> FakeInvoice | None:
    """Add the completed Plisio invoice the receipt resend ``raw`` names, if it is a demo
    payment not in the fake yet; the invoice added, else None."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("workflow") != "receipt_resend":
        return None
    customer, billing = data.get("customer"), data.get("billing")
    if not isinstance(customer, dict) or not isinstance(billing, dict):
        return None
    email, number = customer.get("email"), billing.get("invoice_number")
    if not isinstance(email, str) or not isinstance(number, str):
        return None
    payment = DEMO_PAYMENTS.get((email.strip().lower(), number))
    if payment is None:
        return None
    if any(inv.email == email for inv in plisio.invoices_for_order(number)):
        return None
    paid_at = _paid_on(payment, now)
    name = customer.get("name") if isinstance(customer.get("name"), str) else None
    invoice = plisio.add_invoice(
        order_number=number,
        order_name=f"Invoice {number} for {name}" if name else f"Invoice {number}",
        source_amount=payment.amount,
        source_currency=payment.currency,
        email=email,
        created_at=int((paid_at - timedelta(minutes=12)).timestamp()),
    )
    invoice.status = "completed"
    invoice.received_amount = invoice.amount
    invoice.finished_at = int(paid_at.timestamp())
    plisio._changed()  # tell the page and the persisted world
    return invoice
