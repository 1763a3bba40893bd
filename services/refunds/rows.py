"""The refund row a stored ``refund`` handoff gets (intake writes it in the handoff's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.handoff_model import Handoff, Workflow
from services.refunds.ledger import RefundStatus, RefundSystem, refund_key
from services.refunds.policy import round_amount

__all__ = ["STRIPE_PREFIXES", "refund_system", "refund_values"]

# Stripe ids a refund can be executed against (an invoice's payment is found by the connector).
STRIPE_PREFIXES = ("ch_", "pi_", "in_")


def refund_system(payment_ref: str | None) -> RefundSystem:
    """Stripe for a Stripe charge, payment intent or invoice id; anything else is refunded by
    hand (Plisio / crypto, or an id the bot cannot place)."""
    if payment_ref and payment_ref.startswith(STRIPE_PREFIXES):
        return RefundSystem.STRIPE
    return RefundSystem.MANUAL


def refund_values(
    handoff: Handoff, *, handoff_id: str, customer_email: str | None, now: datetime
) -> dict[str, Any] | None:
    """The ``refunds`` row of a refund handoff with an amount and a currency, else None.

    The amount is what the handoff says (a negative figure is the sum owed to the caller),
    rounded down to the currency's smallest unit: never more than the handoff asked for.
    """
    billing = handoff.billing
    amount = billing.amount_decimal if billing else None
    if handoff.effective_workflow is not Workflow.REFUND or billing is None:
        return None
    if amount is None or not billing.currency:
        return None
    amount = round_amount(abs(amount), billing.currency)
    if amount == 0:
        return None
    payment_ref = billing.payment_id
    return {
        "handoff_id": handoff_id,
        "key": refund_key(handoff.call_id),
        "customer_email": customer_email,
        "system": refund_system(payment_ref).value,
        "payment_ref": payment_ref,
        "amount": amount,
        "currency": billing.currency,
        "status": RefundStatus.PENDING.value,
        "automatic": False,
        "created_at": now,
        "updated_at": now,
    }
