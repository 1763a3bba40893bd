from __future__ import annotations

from decimal import Decimal

import pytest

from services.cards import RefundInfo, approval_effect
from services.handoff_model import Handoff, Workflow
from services.routing import ReviewFlag
from tests.blocks.cards import example_card


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("18500.00", "EUR", "18,500.00 EUR"),
        ("4200", "USD", "4,200.00 USD"),
        ("0.00012345", "BTC", "0.00012345 BTC"),
        ("1234567.5", "GBP", "1,234,567.50 GBP"),
    ],
)
def test_confirm_dialog_states_the_exact_amount(amount: str, currency: str, shown: str) -> None:
    card = example_card("create_invoice", amount=Decimal(amount), currency=currency)
    assert (
        approval_effect(card) == f"Create a Plisio invoice for {shown} to ap@harborfinch.example."
    )


def test_effect_per_workflow() -> None:
    receipt = example_card("receipt_resend")
    assert receipt.email_verified
    assert approval_effect(receipt).startswith("Send the receipt to wen.liu@example.com once")
    unverified = example_card(
        "receipt_resend", handoff=_unverified(example_card("receipt_resend").handoff)
    )
    assert approval_effect(unverified).startswith("Look up wen.liu@example.com")
    dispute = approval_effect(example_card("duplicate_charge_dispute"))
    assert "No money moves automatically" in dispute
    unverified = example_card("create_invoice", workflow=Workflow.CREATE_INVOICE)
    assert "to ap@harborfinch.example" in approval_effect(unverified)


def test_unverified_email_is_not_named_as_the_invoice_target() -> None:
    card = example_card("vat_correction", workflow=Workflow.CREATE_INVOICE)
    assert approval_effect(card) == "Create a Plisio invoice for 860.00 EUR."
    assert card.identity_check_needed


def _unverified(handoff: Handoff) -> Handoff:
    assert handoff.customer is not None
    customer = handoff.customer.model_copy(update={"email_verified": False})
    return handoff.model_copy(update={"customer": customer})


def _refund(status: str = "pending", system: str = "stripe") -> RefundInfo:
    return RefundInfo(
        status=status, system=system, amount=Decimal("49"), currency="USD", payment_ref="ch_9"
    )


def test_approving_a_refund_says_where_the_money_goes_back() -> None:
    stripe = example_card("refund_with_bank_details", refund=_refund())
    assert approval_effect(stripe) == "Refund 49.00 USD through Stripe (ch_9), once."
    manual = example_card("refund_with_bank_details", refund=_refund(system="manual"))
    assert approval_effect(manual).startswith("Record the refund of 49.00 USD; finance sends it")
    # Once it is out for execution an approval no longer refunds anything.
    released = example_card("refund_with_bank_details", refund=_refund("released"))
    assert not released.approval_refunds
    assert "Refund" not in approval_effect(released)


def test_a_refund_waits_for_identity_confirmation_like_an_invoice() -> None:
    low = {"review_flags": (ReviewFlag.LOW_CONFIDENCE,)}
    assert example_card("refund_with_bank_details", refund=_refund(), **low).identity_check_needed
    assert not example_card("refund_with_bank_details", **low).identity_check_needed
