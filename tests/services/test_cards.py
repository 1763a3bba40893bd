from __future__ import annotations

from decimal import Decimal

import pytest

from services.cards import approval_effect
from services.handoff_model import Workflow
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
    assert approval_effect(example_card("receipt_resend")).startswith("Look up wen.liu@example.com")
    dispute = approval_effect(example_card("duplicate_charge_dispute"))
    assert "No money moves automatically" in dispute
    unverified = example_card("create_invoice", workflow=Workflow.CREATE_INVOICE)
    assert "to ap@harborfinch.example" in approval_effect(unverified)


def test_unverified_email_is_not_named_as_the_invoice_target() -> None:
    card = example_card("vat_correction", workflow=Workflow.CREATE_INVOICE)
    assert approval_effect(card) == "Create a Plisio invoice for 860.00 EUR."
    assert card.identity_check_needed
