"""What a handoff message shows: a plain, Slack-free view of one handoff and its history.

Services build a ``HandoffCard`` from the database; the pure builders in ``blocks/`` turn it into
Block Kit. Keeping this boundary means the builders never touch storage or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.handoff_model import Handoff, Urgency, Workflow
from services.payments import REISSUABLE_STATES
from services.routing import INVOICE_WORKFLOWS, ReviewFlag
from services.states import CLOSED, DECIDABLE, HandoffStatus

__all__ = [
    "ActionMark",
    "ApprovalMark",
    "HandoffCard",
    "InfoWaiting",
    "InvoiceInfo",
    "RefundInfo",
    "approval_effect",
    "urgency_after_escalation",
]


@dataclass(frozen=True, slots=True)
class ApprovalMark:
    user_id: str
    at: datetime
    on_behalf_of: str | None = None  # the away approver a delegate approved for


@dataclass(frozen=True, slots=True)
class ActionMark:
    """One thing a person did to the handoff (escalated, reassigned, declined, ...)."""

    action: str
    user_id: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceInfo:
    order_number: str
    status: str  # Plisio's status as it came ("new", "completed", ... or "creating"/"failed")
    amount: Decimal
    currency: str
    txn_id: str | None = None
    url: str | None = None
    error: str | None = None
    paid: bool = False
    payment_state: str | None = None  # services.payments.PaymentState (None: no news yet)
    expected: Decimal | None = None
    expected_currency: str | None = None
    received: Decimal | None = None
    received_currency: str | None = None
    review_reason: str | None = None
    superseded: bool = False  # a reissue replaced it

    @property
    def reissuable(self) -> bool:
        """Expired, cancelled, underpaid or held for review: a fresh invoice may be issued."""
        return not self.superseded and self.payment_state in REISSUABLE_STATES


@dataclass(frozen=True, slots=True)
class RefundInfo:
    """The handoff's refund (``refunds`` row) as the message shows it."""

    status: str  # services.refunds.RefundStatus value
    system: str  # "stripe" | "manual"
    amount: Decimal
    currency: str
    payment_ref: str | None = None
    automatic: bool = False
    policy_version: str | None = None
    rule: str | None = None  # the policy rule that allowed it
    decided_by: str | None = None  # "policy" or the approver's Slack id
    execute_after: datetime | None = None  # an automatic refund's end of grace
    external_id: str | None = None  # e.g. Stripe's re_…
    error: str | None = None  # why it failed or was refused
    not_automatic: tuple[str, ...] = ()  # why the enabled policy left it to an approver


@dataclass(frozen=True, slots=True)
class InfoWaiting:
    """An approver's question still waiting for its answer (``services.info_requests``)."""

    asked_by: str
    asked_to: str
    question: str  # suppressed
    asked_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class HandoffCard:
    handoff_id: str
    call_id: str
    kind: str  # "handoff" (from DialNexa) or "request" (from /invoice new)
    handoff: Handoff  # already redacted
    workflow: Workflow
    urgency: Urgency
    urgent: bool
    status: HandoffStatus
    channel: str
    message_ts: str | None = None
    urgent_reasons: tuple[str, ...] = ()
    review_flags: tuple[ReviewFlag, ...] = ()
    missing_fields: tuple[str, ...] = ()
    redacted: tuple[str, ...] = ()
    owner: str | None = None  # as DialNexa gave it: an email or a Slack user id
    owner_slack_id: str | None = None
    requested_by: str | None = None  # the Slack user who asked, for /invoice new requests
    deadline: datetime | None = None
    amount: Decimal | None = None
    currency: str | None = None
    two_person: bool = False
    approvals: tuple[ApprovalMark, ...] = ()
    actions: tuple[ActionMark, ...] = ()  # newest last
    decline_reason: str | None = None
    invoice: InvoiceInfo | None = None  # the current invoice
    superseded_invoices: tuple[InvoiceInfo, ...] = ()  # replaced by reissues, oldest first
    last_error: str | None = None
    mention_group: str | None = None  # user group to mention when urgent
    sandbox: bool = False
    received_at: datetime | None = None  # when the bot stored it (the call time is occurred_at)
    extra: dict[str, str] = field(default_factory=dict)
    # What each connected system said about this handoff, by connector name ("stripe": {...}),
    # as the connector stored it (suppressed, JSON-ready); drawn by blocks.handoff_context.
    context: dict[str, dict[str, Any]] = field(default_factory=dict)
    refund: RefundInfo | None = None  # a refund handoff's refund (services/refunds)
    info: InfoWaiting | None = None  # an open "Request info" question

    @property
    def required_approvals(self) -> int:
        return 2 if self.two_person else 1

    @property
    def decidable(self) -> bool:
        return self.status in DECIDABLE

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    @property
    def identity_check_needed(self) -> bool:
        """Money actions (an invoice, a refund) wait for an approver to confirm who the caller
        is."""
        return bool(
            (self.effect_moves_money or self.approval_refunds)
            and (
                ReviewFlag.LOW_CONFIDENCE in self.review_flags
                or ReviewFlag.UNVERIFIED_EMAIL in self.review_flags
            )
        )

    @property
    def approval_refunds(self) -> bool:
        """Approving releases a refund (money goes back to the customer)."""
        return self.refund is not None and self.refund.status in APPROVABLE_REFUND

    @property
    def effect_moves_money(self) -> bool:
        return (
            self.workflow in INVOICE_WORKFLOWS
            and self.amount is not None
            and self.currency is not None
        )

    @property
    def customer_email(self) -> str | None:
        customer = self.handoff.customer
        return str(customer.email) if customer and customer.email else None

    @property
    def email_verified(self) -> bool:
        customer = self.handoff.customer
        return bool(customer and customer.email_verified)


# Refund states in which an approval releases the refund.
APPROVABLE_REFUND = frozenset({"pending", "reversed", "scheduled"})


def _money(amount: Decimal, currency: str) -> str:
    # Exact: at least two decimals, never rounded away (crypto amounts have eight).
    shown = amount if amount.as_tuple().exponent <= -2 else amount.quantize(Decimal("0.01"))  # type: ignore[operator]
    return f"{shown:,f} {currency}"


def approval_effect(card: HandoffCard) -> str:
    """One sentence saying exactly what approving will do, for the confirm dialog."""
    email = card.customer_email
    refund = card.refund
    if refund is not None and card.approval_refunds:
        amount = _money(refund.amount, refund.currency)
        if refund.system == "stripe":
            return f"Refund {amount} through Stripe ({refund.payment_ref}), once."
        return (
            f"Record the refund of {amount}; finance sends it by hand (no API can refund "
            "this payment), then marks it refunded."
        )
    if card.effect_moves_money and card.amount is not None and card.currency is not None:
        target = f" to {email}" if email and card.email_verified else ""
        return f"Create a Plisio invoice for {_money(card.amount, card.currency)}{target}."
    if card.workflow in {Workflow.RECEIPT_RESEND, Workflow.INVOICE_LOOKUP}:
        if card.workflow is Workflow.RECEIPT_RESEND and email and card.email_verified:
            return (
                f"Send the receipt to {email} once (when Gmail is connected) and post "
                "the customer's Plisio invoices in the thread."
            )
        if email:
            return f"Look up {email}'s Plisio invoices and post them in the thread."
        return "Record the approval; no customer email to look invoices up with."
    owner = card.owner or "the owner"
    return f"Record the approval and hand the next step to {owner}. No money moves automatically."


def urgency_after_escalation(urgency: Urgency) -> Urgency:
    """The urgency an escalation leaves: one step up to high, or urgent from high and above
    (what ``HandoffService.escalate`` stores; a test keeps the two in step)."""
    return Urgency.URGENT if urgency.rank >= Urgency.HIGH.rank else Urgency.HIGH
