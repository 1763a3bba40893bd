"""The life of a handoff: its statuses and which of them are still open."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CLOSED", "DECIDABLE", "HandoffStatus"]


class HandoffStatus(StrEnum):
    OPEN = "open"  # waiting for a finance decision
    PARTLY_APPROVED = "partly_approved"  # 1 of 2 approvals recorded
    PROCESSING = "processing"  # approved; the Plisio call is in flight
    ACTION_FAILED = "action_failed"  # approved, but Plisio failed: Retry offered
    APPROVED = "approved"  # decision recorded; the owner carries out the next step
    INVOICED = "invoiced"  # Plisio invoice created, awaiting payment
    PAID = "paid"
    DECLINED = "declined"
    DONE = "done"  # the owner marked the follow-up done


# Buttons that decide (approve / decline) only apply while the handoff waits for a decision.
DECIDABLE = frozenset({HandoffStatus.OPEN, HandoffStatus.PARTLY_APPROVED})
CLOSED = frozenset({HandoffStatus.PAID, HandoffStatus.DECLINED, HandoffStatus.DONE})
