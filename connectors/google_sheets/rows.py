"""What one exception row says: pure functions from a handoff's state to the row's cells.

Which handoffs are exceptions comes from the routing policy's review flags
(``services.routing.ReviewFlag``, set at intake: the one source of truth), plus what happened
since: escalated, a failed Plisio invoice, an underpaid one. A handoff that stops being an
exception keeps its row; the row's status says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from blocks.handoff_state import FLAG_WORDS, WORKFLOW_LABELS
from services.handoff_model import Workflow
from services.payments import PaymentState
from services.routing import ReviewFlag
from services.states import HandoffStatus

__all__ = [
    "COLUMNS",
    "HEADER",
    "LAST_COLUMN",
    "Snapshot",
    "cells",
    "lines",
    "review_reasons",
    "status_words",
]

HEADER = (
    "Call ID",
    "Received at",
    "Workflow",
    "Customer",
    "Amount",
    "Currency",
    "Review reasons",
    "Owner",
    "Status",
    "Slack link",
    "Updated at",
)
COLUMNS = len(HEADER)
LAST_COLUMN = "K"
MISSING_MAPPING = "missing required mapping"
ESCALATED = "escalated"
INVOICE_FAILED = "Plisio invoice failed"
UNDERPAID = "underpaid"
NO_LONGER = " (no longer an exception)"
STATUS_WORDS = {
    HandoffStatus.OPEN: "Waiting for a decision",
    HandoffStatus.PARTLY_APPROVED: "Waiting for a second approval",
    HandoffStatus.PROCESSING: "Approved; creating the invoice",
    HandoffStatus.ACTION_FAILED: "Approved, but the invoice failed; Retry or Decline",
    HandoffStatus.APPROVED: "Approved; next step with the owner",
    HandoffStatus.INVOICED: "Invoice sent; awaiting payment",
    HandoffStatus.PAID: "Paid",
    HandoffStatus.DECLINED: "Declined",
    HandoffStatus.DONE: "Done",
}
PAYMENT_WORDS = {
    PaymentState.UNDERPAID: "Underpaid; waiting for review",
    PaymentState.REVIEW: "Payment differs from the invoice; waiting for review",
    PaymentState.EXPIRED: "Invoice expired unpaid",
    PaymentState.CANCELLED: "Invoice cancelled",
    PaymentState.ERROR: "Invoice in error at Plisio",
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the row is drawn from (read from the database in one transaction)."""

    handoff_id: str
    call_id: str
    received_at: datetime
    workflow: str
    customer: str
    amount: Decimal | None
    currency: str | None
    flags: tuple[str, ...]
    needs_mapping: bool
    status: str
    owner: str | None
    escalated: bool = False
    payment_state: str | None = None  # the newest invoice's concluded state
    channel: str | None = None
    message_ts: str | None = None


def review_reasons(snap: Snapshot) -> list[str]:
    """Why this handoff needs review, in plain words (empty: not an exception)."""
    known = {flag.value: flag for flag in ReviewFlag}
    words = [FLAG_WORDS[known[f]] for f in snap.flags if f in known]
    if snap.needs_mapping:
        words.append(MISSING_MAPPING)
    if snap.escalated:
        words.append(ESCALATED)
    if snap.status == HandoffStatus.ACTION_FAILED:
        words.append(INVOICE_FAILED)
    if snap.payment_state == PaymentState.UNDERPAID:
        words.append(UNDERPAID)
    return words


def status_words(snap: Snapshot, *, exception: bool) -> str:
    """The handoff's state as people say it."""
    statuses = {status.value: status for status in HandoffStatus}
    status = statuses.get(snap.status)
    words = STATUS_WORDS[status] if status is not None else snap.status
    if snap.status == HandoffStatus.INVOICED and snap.payment_state in PAYMENT_WORDS:
        words = PAYMENT_WORDS[PaymentState(snap.payment_state)]
    return words if exception else words + NO_LONGER


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _workflow(value: str) -> str:
    try:
        return WORKFLOW_LABELS.get(Workflow(value), value)
    except ValueError:
        return value


def cells(snap: Snapshot, slack_link: str | None, now: datetime) -> list[str]:
    """The row's eleven cells, in ``HEADER`` order (plain text: written with RAW)."""
    reasons = review_reasons(snap)
    return [
        snap.call_id,
        _when(snap.received_at),
        _workflow(snap.workflow),
        snap.customer,
        "" if snap.amount is None else format(snap.amount, "f"),
        snap.currency or "",
        ", ".join(reasons) if reasons else "none now",
        snap.owner or "",
        status_words(snap, exception=bool(reasons)),
        slack_link or "",
        _when(now),
    ]


def lines(row: Sequence[str]) -> list[str]:
    """The lines the handoff's message shows for its row (context section)."""
    return [f"Review: {row[6]}", f"Status: {row[8]}"]
