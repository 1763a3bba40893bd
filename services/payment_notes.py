"""Whether Slack hears of an applied Plisio callback: a pure rule on the result.

The thread note itself comes from the payment's event (``services.notes.note_for``), queued in the
callback's own transaction.
"""

from __future__ import annotations

from services.payments import PaymentOutcome, PaymentResult

__all__ = ["shown_in_slack"]


def shown_in_slack(result: PaymentResult) -> bool:
    """Is the handoff's message refreshed (and its note posted) for this result? Only real
    updates are."""
    return result.handoff_id is not None and result.outcome is PaymentOutcome.UPDATED
