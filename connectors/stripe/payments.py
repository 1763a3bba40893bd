"""The payment a refund handoff names, as Stripe holds it now: what was paid, what is already
refunded, whether it is disputed; and the customer's open disputes.

Shared by the read connector (the ``refund_facts`` of the ``stripe`` context, which the refund
policy reads) and the refund connector (which re-reads the payment before it refunds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from connectors.stripe.client import StripeReader
from connectors.stripe.mapping import amount

__all__ = [
    "OPEN_DISPUTE",
    "PAYMENT_PREFIXES",
    "Payment",
    "customer_open_disputes",
    "open_disputes_of",
    "refund_facts",
    "resolve_payment",
]

PAYMENT_PREFIXES = ("ch_", "pi_", "in_")
# Dispute statuses that still need (or await) an answer: a refund would be refused.
OPEN_DISPUTE = frozenset(
    {"needs_response", "under_review", "warning_needs_response", "warning_under_review"}
)
DISPUTED_CHARGES_CHECKED = 20  # the customer's disputed charges whose disputes are read


def _id(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class Payment:
    """A charge or payment intent; amounts in Stripe's integer minor units."""

    id: str
    kind: str  # "charge" | "payment_intent"
    amount: int
    currency: str  # Stripe's lower-case code
    amount_refunded: int
    status: str
    disputed: bool
    customer: str | None
    charge_id: str | None  # the charge itself, or the payment intent's latest charge

    @property
    def refundable(self) -> int:
        return max(0, self.amount - self.amount_refunded)

    def fact(self) -> dict[str, Any]:
        """The ``refund_facts.payment`` shape."""
        return {
            "id": self.id,
            "kind": self.kind,
            "amount": amount(self.amount, self.currency),
            "currency": self.currency.upper(),
            "amount_refunded": amount(self.amount_refunded, self.currency),
            "status": self.status,
            "disputed": self.disputed,
        }


def _of_charge(charge: Mapping[str, Any], *, as_id: str | None = None) -> Payment:
    return Payment(
        id=as_id or str(charge.get("id") or ""),
        kind="charge",
        amount=_int(charge.get("amount")),
        currency=str(charge.get("currency") or ""),
        amount_refunded=_int(charge.get("amount_refunded")),
        status=str(charge.get("status") or ""),
        disputed=bool(charge.get("disputed")),
        customer=_id(charge.get("customer")),
        charge_id=str(charge.get("id") or "") or None,
    )


async def _named(reader: StripeReader, object_id: str) -> dict[str, Any] | None:
    try:
        return await reader.named(object_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise


async def _of_intent(reader: StripeReader, intent: Mapping[str, Any]) -> Payment:
    latest = intent.get("latest_charge")
    charge: Mapping[str, Any] | None = latest if isinstance(latest, Mapping) else None
    charge_id = _id(latest)
    if charge is None and charge_id:
        charge = await _named(reader, charge_id)
    charge = charge or {}
    return Payment(
        id=str(intent.get("id") or ""),
        kind="payment_intent",
        amount=_int(intent.get("amount")),
        currency=str(intent.get("currency") or ""),
        amount_refunded=_int(charge.get("amount_refunded")),
        status=str(intent.get("status") or ""),
        disputed=bool(charge.get("disputed")),
        customer=_id(intent.get("customer")),
        charge_id=charge_id,
    )


def _invoice_payment(invoice: Mapping[str, Any]) -> str | None:
    """The payment intent (or charge) that paid an invoice: ``payment_intent`` / ``charge``
    before API version 2025-03-31, the ``payments`` list since."""
    for field in ("payment_intent", "charge"):
        found = _id(invoice.get(field))
        if found:
            return found
    payments = (invoice.get("payments") or {}).get("data") or []
    for entry in payments:
        payment = entry.get("payment") or {}
        found = _id(payment.get("payment_intent")) or _id(payment.get("charge"))
        if found:
            return found
    return None


async def resolve_payment(reader: StripeReader, payment_id: str) -> Payment | None:
    """The charge or payment intent ``payment_id`` names (an ``in_`` invoice: the payment that
    paid it); None when Stripe has none."""
    if payment_id.startswith("in_"):
        invoice = await _named(reader, payment_id)
        paid_by = _invoice_payment(invoice) if invoice is not None else None
        if paid_by is None or paid_by.startswith("in_"):
            return None
        return await resolve_payment(reader, paid_by)
    if not payment_id.startswith(("ch_", "pi_")):
        return None
    obj = await _named(reader, payment_id)
    if obj is None:
        return None
    if payment_id.startswith("ch_"):
        return _of_charge(obj)
    return await _of_intent(reader, obj)


async def open_disputes_of(reader: StripeReader, payment: Payment) -> list[dict[str, Any]]:
    """The payment's disputes that are still open."""
    if payment.charge_id:
        found = await reader.disputes(charge=payment.charge_id)
    else:
        found = await reader.disputes(payment_intent=payment.id)
    return [d for d in found if d.get("status") in OPEN_DISPUTE]


async def customer_open_disputes(
    reader: StripeReader, customer_id: str | None, payment: Payment | None
) -> int:
    """Open disputes on the customer's charges (and on the named payment, whoever paid it)."""
    disputed: list[str] = []
    if customer_id:
        charges = await reader.charges(customer_id)
        disputed = [str(c["id"]) for c in charges if c.get("disputed") and c.get("id")]
    own = payment.charge_id if payment is not None and payment.disputed else None
    if own and own not in disputed:
        disputed.append(own)
    count = 0
    for charge_id in disputed[:DISPUTED_CHARGES_CHECKED]:
        found = await reader.disputes(charge=charge_id)
        count += sum(1 for d in found if d.get("status") in OPEN_DISPUTE)
    return count


def refund_facts(
    payment: Payment | None, open_disputes: int, *, looked_up_at: datetime
) -> dict[str, Any]:
    """The agreed ``stripe.refund_facts`` shape (read by the refund policy)."""
    return {
        "payment": payment.fact() if payment is not None else None,
        "open_disputes": open_disputes,
        "looked_up_at": looked_up_at.astimezone(UTC).isoformat(),
    }
