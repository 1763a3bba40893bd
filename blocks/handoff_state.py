"""The parts of a handoff message that say where it stands: labels, priority, state, review."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from blocks.common import (
    JSON,
    clip_mrkdwn,
    context,
    escape,
    format_money,
    humanize_duration,
    link,
    section,
    slack_date,
    truncate,
    who,
)
from blocks.ids import AuditAction
from services.cards import ActionMark, HandoffCard
from services.handoff_model import Urgency, Workflow
from services.routing import ReviewFlag
from services.states import HandoffStatus

__all__ = [
    "WORKFLOW_LABELS",
    "card_amount",
    "owner_ref",
    "priority_block",
    "review_block",
    "state_text",
]

WORKFLOW_LABELS = {
    Workflow.BILLING_QUESTION: "Billing question",
    Workflow.REFUND: "Refund",
    Workflow.DISPUTE: "Dispute",
    Workflow.TAX_OR_ADDRESS: "Tax or billing address correction",
    Workflow.VIP_PAYMENT_BLOCKER: "VIP payment blocker",
    Workflow.COLLECTIONS: "Collections",
    Workflow.RECEIPT_RESEND: "Receipt resend",
    Workflow.CREATE_INVOICE: "Create invoice",
    Workflow.INVOICE_LOOKUP: "Invoice lookup",
    Workflow.CREDIT_REQUEST: "Credit request",
    Workflow.SUBSCRIPTION_CHANGE: "Subscription change",
    Workflow.OTHER: "Finance request",
}
PRIORITY_NOTE = {Urgency.LOW: "Low priority", Urgency.NORMAL: "Normal priority"}
URGENT_LINE = "*Urgent:* {reasons}"
URGENT_NO_REASON = "marked {urgency} on the call"
NO_OWNER = "not set"
WAITING = "⏳ *Waiting for approval*"
WAITING_TWO = "⏳ *Waiting for approval* · needs two different approvers"
PARTLY = "👍 *Approved 1 of 2* by {who}, {when} · waiting for a second, different approver"
APPROVED_BY = "✅ *Approved* by {who}, {when}"
PROCESSING_INVOICE = "⏳ Creating Plisio invoice…"
PROCESSING_LOOKUP = "⏳ Looking up Plisio invoices…"
PROCESSING_OTHER = "⏳ Working on it…"
FAILED = "⚠️ *Plisio invoice failed:* {error} · use *Retry*"
FAILED_UNKNOWN = "no error message"
NEXT_WITH = "Next step is with {owner}"
INVOICED = "🧾 *Invoice created:* {invoice} · status {status}"
PAID = "*Paid* ✅ {amount}invoice {invoice}"
DECLINED_BY = "⛔ *Declined* by {who}, {when}: {reason}"
DECLINED = "⛔ *Declined*: {reason}"
NO_REASON = "no reason given"
DONE_BY = "☑️ *Done* · marked by {who}, {when}"
DONE = "☑️ *Done*"
ESCALATED_BY = "🔺 Escalated by {who}, {when}: {reason}"
OVERDUE = "⏰ *Overdue by {duration}*"
REVIEW = "⚠️ *Check before approving:* {flags}"
NEEDS_MAPPING = "🧩 *Needs mapping:* {fields}"
REMOVED = "🔒 *Removed from this handoff:* {items}"
FLAG_WORDS = {
    ReviewFlag.LOW_CONFIDENCE: "low match confidence",
    ReviewFlag.SENSITIVE_DATA: "sensitive data removed",
    ReviewFlag.HIGH_VALUE_CUSTOMER: "high-value customer",
    ReviewFlag.CHANGES_MONEY: "changes money",
    ReviewFlag.CHANGES_ACCESS: "changes access",
    ReviewFlag.LEGAL_TERMS: "legal terms",
    ReviewFlag.CUSTOMER_COMMITMENT: "customer commitment",
    ReviewFlag.UNVERIFIED_EMAIL: "unverified email",
}
REDACTED_WORDS = {"card_number": "card number", "bank_details": "bank details"}
# Per-piece budgets that keep the whole state section under Slack's 3000 characters.
REASON_MAX = 1000
ERROR_MAX = 500
INVOICE_URL_MAX = 1000


def card_amount(card: HandoffCard) -> str | None:
    """The amount the handoff is about, formatted, from the card or else the billing block."""
    amount: Decimal | None = card.amount
    currency = card.currency
    billing = card.handoff.billing
    if (amount is None or currency is None) and billing is not None:
        amount, currency = billing.amount_decimal, billing.currency
    return format_money(amount, escape(currency)) if amount is not None and currency else None


def owner_ref(card: HandoffCard) -> str:
    """The owner as a mention when a Slack id is known, else the escaped raw owner."""
    if card.owner_slack_id:
        return who(card.owner_slack_id)
    return clip_mrkdwn(card.owner, 254)[0] if card.owner else NO_OWNER


def priority_block(card: HandoffCard) -> JSON | None:
    """Urgent: a section mentioning the finance group with the reasons; else a quiet context."""
    if not card.urgent:
        note = PRIORITY_NOTE.get(card.urgency)
        return context(note) if note else None
    if card.closed:
        return None
    reasons = ", ".join(card.urgent_reasons) or URGENT_NO_REASON.format(urgency=card.urgency.value)
    text = URGENT_LINE.format(reasons=clip_mrkdwn(reasons, REASON_MAX)[0])
    return section(f"{who(card.mention_group)} {text}" if card.mention_group else text)


def state_text(card: HandoffCard, now: datetime) -> str:
    """Where the handoff stands, with who did what and when, plus escalation and overdue lines."""
    lines = _status_lines(card)
    escalated = _mark(card, AuditAction.ESCALATED)
    if escalated and not card.closed:
        reason = clip_mrkdwn(escalated.note or NO_REASON, ERROR_MAX)[0]
        when = slack_date(escalated.at)
        lines.append(ESCALATED_BY.format(who=who(escalated.user_id), when=when, reason=reason))
    if card.deadline is not None and not card.closed and card.deadline < now:
        lines.append(OVERDUE.format(duration=humanize_duration(now - card.deadline)))
    return "\n".join(lines)


def review_block(card: HandoffCard) -> JSON | None:
    """The review banner: flags (while decidable), fields that need mapping, what was removed."""
    lines = []
    if card.review_flags and card.decidable:  # once decided, the flags are history (thread)
        words = []
        for flag in card.review_flags:
            word = FLAG_WORDS.get(flag, escape(str(flag).replace("_", " ")))
            confidence = card.handoff.match_confidence
            if flag is ReviewFlag.LOW_CONFIDENCE and confidence is not None:
                word += f" ({confidence:.0%})"
            words.append(word)
        lines.append(REVIEW.format(flags=" · ".join(words)))
    if card.missing_fields:
        fields = clip_mrkdwn(", ".join(card.missing_fields), 800)[0]
        lines.append(NEEDS_MAPPING.format(fields=fields))
    if card.redacted:
        items = ", ".join(REDACTED_WORDS.get(r, r.replace("_", " ")) for r in card.redacted)
        lines.append(REMOVED.format(items=clip_mrkdwn(items, 800)[0]))
    return section("\n".join(lines)) if lines else None


def _mark(card: HandoffCard, action: AuditAction) -> ActionMark | None:
    marks = [m for m in card.actions if m.action == action.value]
    return marks[-1] if marks else None


def _approved_by(card: HandoffCard) -> list[str]:
    if not card.approvals:
        return []
    people = " and ".join(who(a.user_id) for a in card.approvals)
    return [APPROVED_BY.format(who=people, when=slack_date(card.approvals[-1].at))]


def _invoice_ref(card: HandoffCard) -> str:
    invoice = card.invoice
    if invoice is None:
        return "—"
    label = truncate(invoice.txn_id or invoice.order_number, 64)
    if invoice.url and len(invoice.url) <= INVOICE_URL_MAX:  # Plisio's are ~60 chars
        return link(invoice.url, label)
    return escape(label)


def _status_lines(card: HandoffCard) -> list[str]:
    status = card.status
    if status is HandoffStatus.OPEN or (
        status is HandoffStatus.PARTLY_APPROVED and not card.approvals
    ):
        return [WAITING_TWO if card.two_person else WAITING]
    if status is HandoffStatus.PARTLY_APPROVED:
        first = card.approvals[0]
        return [PARTLY.format(who=who(first.user_id), when=slack_date(first.at))]
    if status is HandoffStatus.DECLINED:
        mark = _mark(card, AuditAction.DECLINED)
        raw = (mark.note if mark else None) or card.decline_reason or NO_REASON
        reason = clip_mrkdwn(raw, REASON_MAX)[0]
        if mark is None:
            return [DECLINED.format(reason=reason)]
        return [DECLINED_BY.format(who=who(mark.user_id), when=slack_date(mark.at), reason=reason)]
    if status is HandoffStatus.PAID:
        amount = card_amount(card)
        paid = PAID.format(amount=f"{amount} · " if amount else "", invoice=_invoice_ref(card))
        return [paid, *_approved_by(card)]
    if status is HandoffStatus.DONE:
        mark = _mark(card, AuditAction.DONE)
        done = DONE_BY.format(who=who(mark.user_id), when=slack_date(mark.at)) if mark else DONE
        return [done, *_approved_by(card)]
    return [*_approved_by(card), _follow_up_line(card)]


def _follow_up_line(card: HandoffCard) -> str:
    if card.status is HandoffStatus.PROCESSING:
        if card.effect_moves_money:
            return PROCESSING_INVOICE
        lookup = card.workflow in {Workflow.RECEIPT_RESEND, Workflow.INVOICE_LOOKUP}
        return PROCESSING_LOOKUP if lookup else PROCESSING_OTHER
    if card.status is HandoffStatus.ACTION_FAILED:
        error = (card.invoice.error if card.invoice else None) or card.last_error or FAILED_UNKNOWN
        return FAILED.format(error=clip_mrkdwn(error, ERROR_MAX)[0])
    if card.status is HandoffStatus.INVOICED:
        status = clip_mrkdwn(card.invoice.status, 40)[0] if card.invoice else "unknown"
        return INVOICED.format(invoice=_invoice_ref(card), status=status)
    return NEXT_WITH.format(owner=owner_ref(card))
