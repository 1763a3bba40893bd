"""Whether Slack hears of a Plisio callback (its note: tests/services/test_notes.py)."""

from __future__ import annotations

import pytest

from services.payment_notes import shown_in_slack
from services.payments import PaymentOutcome, PaymentResult


@pytest.mark.parametrize(
    ("outcome", "handoff_id", "shown"),
    [
        (PaymentOutcome.UPDATED, "h_1", True),
        (PaymentOutcome.UPDATED, None, False),
        (PaymentOutcome.REGRESSION, "h_1", False),
        (PaymentOutcome.UNCHANGED, "h_1", False),
        (PaymentOutcome.OUT_OF_ORDER, "h_1", False),
        (PaymentOutcome.CONFLICT, "h_1", False),
        (PaymentOutcome.UNKNOWN_INVOICE, None, False),
    ],
)
def test_only_real_updates_are_shown(
    outcome: PaymentOutcome, handoff_id: str | None, shown: bool
) -> None:
    assert shown_in_slack(PaymentResult(outcome, status="x", handoff_id=handoff_id)) is shown
