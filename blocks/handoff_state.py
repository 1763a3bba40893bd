"""The parts of a handoff message that say where it stands: labels, priority, state, review."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from blocks.common import (
    JSON,
    OWNER_MAX,
    clip_mrkdwn,
    escape,
    format_money,
    humanize_duration,
    section,
    slack_date,
    who,
)
from blocks.payment_words import (
    OVERPAID,
    PAID,
    amounts,
    invoice_ref,
    payment_line,
    superseded_lines,
)
from services.cards import ActionMark, HandoffCard
from services.events import EventType
from services.handoff_model import Urgency, Workflow
from services.routing import ReviewFlag
from services.states import HandoffStatus

__all__ = [
    "WORKFLOW_LABELS",
    "card_amount",
    "customer_name",
    "owner_ref",
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
URGENCY_WORDS = {Urgency.HIGH: "🔴 *High priority*", Urgency.URGENT: "🚨 *Urgent*"}
URGENT_LINE = "{urgency}: {reasons}"
URGENT_NO_REASON = "marked {urgency} on the call"
URGENT_MENTION = "cc {group}"
DUE = "due {when}"
NO_OWNER = "no owner yet"
WAITING = "⏳ *Waiting for approval*"
WAITING_TWO = "⏳ *Waiting for approval* from two different approvers"
PARTLY = "👍 *Approved 1 of 2* by {who}, {when} · waiting for a second, different approver"
APPROVED_BY = "✅ *Approved* by {who}, {when}"
# A delegate's approval says both people: the one who clicked and the away approver.
ON_BEHALF = "🤝 {delegate} approving for {approver} (away)"
PROCESSING_INVOICE = "⏳ Creating Plisio invoice…"
PROCESSING_LOOKUP = "⏳ Looking up Plisio invoices…"
PROCESSING_OTHER = "⏳ Working on it…"
FAILED = "⚠️ *Invoice failed:* {error} · use *Retry* or *Decline*"
FAILED_UNKNOWN = "no error message"
NEXT_WITH = "➡️ *Next step is with* {owner}"
DECLINED_BY = "⛔ *Declined* by {who}, {when}: {reason}"
DECLINED = "⛔ *Declined*: {reason}"
NO_REASON = "no reason given"
DONE_BY = "☑️ *Done* · marked by {who}, {when}"
DONE = "☑️ *Done*"
ESCALATED_BY = "🔺 Escalated by {who}, {when}: {reason}"
OVERDUE = "⏰ *Overdue by {duration}*"
WAITING_INFO = "❓ *Waiting for info from* {asked_to} · asked by {asked_by} · answer due {when}"
QUESTION_LINE = "> {question}"
QUESTION_MAX = 500
REVIEW = "⚠️ *Check before approving:* {flags}"
NO_OWNER_YET = "👤 *No owner yet* · use *Reassign* to give it one"
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
    ReviewFlag.PAST_DUE: "subscription past due",
    ReviewFlag.PAYMENT_FAILED: "latest payment failed",
    ReviewFlag.RENEWAL_SOON: "renewal coming up",
}
REDACTED_WORDS = {"card_number": "card number", "bank_details": "bank details"}
# Per-piece budgets that keep the whole state section under Slack's 3000 characters.
REASON_MAX = 1000
ERROR_MAX = 500


def card_amount(card: HandoffCard, *, escaped: bool = True) -> str | None:
    """The amount the handoff is about, formatted, from the card or else the billing block
    (``escaped``: for mrkdwn; else for plain text)."""
    amount: Decimal | None = card.amount
    currency = card.currency
    billing = card.handoff.billing
    if (amount is None or currency is None) and billing is not None:
        amount, currency = billing.amount_decimal, billing.currency
    if amount is None or not currency:
        return None
    return format_money(amount, escape(currency) if escaped else currency)


def customer_name(card: HandoffCard) -> str | None:
    """Who the handoff is about: the customer's name, else account id, else email (raw)."""
    customer = card.handoff.customer
    if customer is None:
        return None
    return customer.name or customer.account_id or card.customer_email


def owner_ref(card: HandoffCard) -> str:
    """The owner as a mention when a Slack id is known, else the escaped raw owner."""
    if card.owner_slack_id:
        return who(card.owner_slack_id)
    return clip_mrkdwn(card.owner, OWNER_MAX)[0] if card.owner else NO_OWNER


def _urgency(card: HandoffCard) -> str | None:
    """How urgent and why (urgent: with the finance group's mention); nothing once closed."""
    if card.closed:
        return None
    if not card.urgent:
        return PRIORITY_NOTE.get(card.urgency)
    reasons = ", ".join(card.urgent_reasons) or URGENT_NO_REASON.format(urgency=card.urgency.value)
    label = URGENCY_WORDS.get(card.urgency, URGENCY_WORDS[Urgency.HIGH])
    text = URGENT_LINE.format(urgency=label, reasons=clip_mrkdwn(reasons, REASON_MAX)[0])
    if card.mention_group:
        text += " · " + URGENT_MENTION.format(group=who(card.mention_group))
    return text


def _deadline(card: HandoffCard, now: datetime) -> str | None:
    if card.deadline is None or card.closed:
        return None
    if card.deadline < now:
        return OVERDUE.format(duration=humanize_duration(now - card.deadline))
    return DUE.format(when=slack_date(card.deadline))


def state_text(card: HandoffCard, now: datetime) -> str:
    """The status line (where it stands, for whom, deadline, urgency and why), then who did
    what: approvals, an escalation, replaced invoices."""
    lines = _status_lines(card)
    head = [lines[0], _deadline(card, now), _urgency(card)]
    lines[0] = " · ".join(part for part in head if part)
    info = card.info
    if info is not None and card.decidable:
        # The question leads until it is answered; where the handoff stood follows.
        waiting = WAITING_INFO.format(
            asked_to=who(info.asked_to), asked_by=who(info.asked_by), when=slack_date(info.due_at)
        )
        question = clip_mrkdwn(info.question, QUESTION_MAX, inert=True)[0]
        lines[:0] = [waiting, QUESTION_LINE.format(question=question)]
    escalated = _mark(card, EventType.ESCALATED)
    if escalated and not card.closed:
        reason = clip_mrkdwn(escalated.note or NO_REASON, ERROR_MAX)[0]
        when = slack_date(escalated.at)
        lines.append(ESCALATED_BY.format(who=who(escalated.user_id), when=when, reason=reason))
    return "\n".join(lines)


def review_block(card: HandoffCard) -> JSON | None:
    """What to check before deciding: review flags (while decidable), a missing owner, what
    was removed. Which DialNexa fields need mapping is for admins (Home tab, start-up log)."""
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
    if not (card.owner or card.owner_slack_id or card.closed):
        lines.append(NO_OWNER_YET)
    if card.redacted:
        items = ", ".join(REDACTED_WORDS.get(r, r.replace("_", " ")) for r in card.redacted)
        lines.append(REMOVED.format(items=clip_mrkdwn(items, 800)[0]))
    return section("\n".join(lines)) if lines else None


def _mark(card: HandoffCard, action: EventType) -> ActionMark | None:
    marks = [m for m in card.actions if m.action == action.value]
    return marks[-1] if marks else None


def _on_behalf(card: HandoffCard) -> list[str]:
    return [
        ON_BEHALF.format(delegate=who(a.user_id), approver=who(a.on_behalf_of))
        for a in card.approvals
        if a.on_behalf_of
    ]


def _approved_by(card: HandoffCard) -> list[str]:
    if not card.approvals:
        return []
    people = " and ".join(who(a.user_id) for a in card.approvals)
    return [
        APPROVED_BY.format(who=people, when=slack_date(card.approvals[-1].at)),
        *_on_behalf(card),
    ]


def _status_lines(card: HandoffCard) -> list[str]:
    status = card.status
    if status is HandoffStatus.OPEN or (
        status is HandoffStatus.PARTLY_APPROVED and not card.approvals
    ):
        return [WAITING_TWO if card.two_person else WAITING]
    if status is HandoffStatus.PARTLY_APPROVED:
        first = card.approvals[0]
        return [PARTLY.format(who=who(first.user_id), when=slack_date(first.at)), *_on_behalf(card)]
    if status is HandoffStatus.DECLINED:
        mark = _mark(card, EventType.DECLINED)
        raw = (mark.note if mark else None) or card.decline_reason or NO_REASON
        reason = clip_mrkdwn(raw, REASON_MAX)[0]
        if mark is None:
            return [DECLINED.format(reason=reason)]
        return [DECLINED_BY.format(who=who(mark.user_id), when=slack_date(mark.at), reason=reason)]
    if status is HandoffStatus.PAID:
        amount = card_amount(card)
        paid = PAID.format(amount=f"{amount} " if amount else "", invoice=invoice_ref(card.invoice))
        invoice = card.invoice
        lines = [paid]
        if invoice is not None and invoice.payment_state == "overpaid":
            lines.append(OVERPAID.format(**amounts(invoice)))
        return [*lines, *_approved_by(card), *superseded_lines(card)]
    if status is HandoffStatus.DONE:
        mark = _mark(card, EventType.DONE)
        done = DONE_BY.format(who=who(mark.user_id), when=slack_date(mark.at)) if mark else DONE
        return [done, *_approved_by(card)]
    # What is pending leads; who approved it follows.
    return [_follow_up_line(card), *_approved_by(card), *superseded_lines(card)]


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
        return payment_line(card)
    return NEXT_WITH.format(owner=owner_ref(card))
