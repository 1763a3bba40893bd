"""The channel message of one handoff: what was asked, what is known, and the buttons that apply."""

from __future__ import annotations

from datetime import datetime

from blocks.common import (
    CONFIRM_TEXT_MAX,
    FIELD_TEXT_MAX,
    HEADER_MAX,
    JSON,
    SECTION_TEXT_MAX,
    URL_MAX,
    button,
    clip_mrkdwn,
    context,
    escape,
    link,
    plain,
    section,
    slack_date,
    truncate,
    who,
)
from blocks.handoff_state import (
    WORKFLOW_LABELS,
    card_amount,
    owner_ref,
    priority_block,
    review_block,
    state_text,
)
from blocks.ids import (
    ActionId,
    BlockId,
    SnoozeFor,
    encode_button_value,
    encode_snooze_value,
    link_action_id,
)
from services.cards import HandoffCard, approval_effect
from services.handoff_model import Urgency, Workflow
from services.states import HandoffStatus

__all__ = ["handoff_message", "handoff_text"]

SANDBOX_PREFIX = "[SANDBOX] "
URGENCY_EMOJI = {Urgency.URGENT: "🚨 ", Urgency.HIGH: "🔴 "}
STATUS_PREFIX = {
    HandoffStatus.PARTLY_APPROVED: "Approved 1 of 2",
    HandoffStatus.PROCESSING: "Approved",
    HandoffStatus.ACTION_FAILED: "Invoice failed",
    HandoffStatus.APPROVED: "Approved",
    HandoffStatus.INVOICED: "Invoiced",
    HandoffStatus.PAID: "Paid",
    HandoffStatus.DECLINED: "Declined",
    HandoffStatus.DONE: "Done",
}
TEXT_MAX = 300
UNKNOWN_CALLER = "unknown caller"
CALLER_TITLE = "*What the caller asked*"
FINDINGS_TITLE = "*What DialNexa learned*"
EXCERPT_TITLE = "*From the transcript*"
FULL_DETAILS = "Full details"
RECORD_TITLE = "*Affected record*"
RECORD_LINK = "Open record"
OWNER_LINE = "*Owner:* {owner}"
NEXT_STEP_LINE = "*Next step:* {step}"
DEADLINE_LINE = "*Deadline:* {when}"
ESCALATION_LINE = "*Escalation reason:* {reason}"
CUSTOMER_TITLE = "*Customer*"
BILLING_TITLE = "*Billing*"
VERIFIED, UNVERIFIED, VIP = "✓ verified", "unverified", "⭐ VIP"
LINK_LABELS = {
    "transcript": "Transcript",
    "recording": "Recording",
    "crm": "CRM record",
    "support_ticket": "Support ticket",
    "payment_platform": "Payment platform",
    "invoice": "Plisio invoice",
}
APPROVE, APPROVE_SECOND, DECLINE = "Approve", "Approve (2nd of 2)", "Decline"
ESCALATE, REASSIGN, RETRY, MARK_DONE = "Escalate", "Reassign", "Retry", "Mark done"
CONFIRM_TITLE, CONFIRM_YES, CONFIRM_NO = "Approve this handoff?", "Approve", "Cancel"
SNOOZE_LABELS = {
    SnoozeFor.ONE_HOUR: "Snooze reminders 1 hour",
    SnoozeFor.FOUR_HOURS: "Snooze reminders 4 hours",
    SnoozeFor.TOMORROW: "Snooze reminders until tomorrow",
}
CALL_CONTEXT = "Call ID `{call_id}` · handoff `{handoff_id}` · received {when}"
REQUEST_CONTEXT = "Requested by {who} · handoff `{handoff_id}` · received {when}"
SANDBOX_CONTEXT = "SANDBOX — not a real workspace"


def handoff_message(card: HandoffCard, *, now: datetime) -> JSON:
    """The whole channel message for a handoff card: ``{"text": ..., "blocks": [...]}``."""
    links = card.handoff.links
    more = str(links.transcript_url) if links and links.transcript_url else None
    blocks: list[JSON | None] = [
        {"type": "header", "text": plain(_header(card), HEADER_MAX)},
        priority_block(card),
        section(state_text(card, now)),
        review_block(card),
        *_conversation(card, more),
        _record(card),
        _owner(card),
        _customer(card, more),
        _billing(card, more),
        _links(card),
        _decisions(card),
        context(*_context(card)),
    ]
    return {"text": handoff_text(card), "blocks": [b for b in blocks if b is not None]}


def handoff_text(card: HandoffCard) -> str:
    """One notification line: workflow, urgency, caller, request, amount and owner."""
    customer = card.handoff.customer
    name = (customer.name or customer.account_id) if customer else None
    status = STATUS_PREFIX.get(card.status)
    head = (SANDBOX_PREFIX if card.sandbox else "") + (f"{status} · " if status else "")
    head += f"{WORKFLOW_LABELS[card.workflow]} ({card.urgency.value}) from "
    head += clip_mrkdwn(name or UNKNOWN_CALLER, 60)[0] + ": "
    amount = card_amount(card)
    tail = [amount] if amount else []
    if card.owner_slack_id or card.owner:
        tail.append(
            f"owner {owner_ref(card) if card.owner_slack_id else truncate(owner_ref(card), 80)}"
        )
    end = f" — {' · '.join(tail)}" if tail else ""
    budget = max(TEXT_MAX - len(head) - len(end), 40)
    return head + clip_mrkdwn(card.handoff.caller_request, budget)[0] + end


def _header(card: HandoffCard) -> str:
    prefix = SANDBOX_PREFIX if card.sandbox else ""
    emoji = URGENCY_EMOJI.get(card.urgency, "") if card.urgent else ""
    return f"{prefix}{emoji}{WORKFLOW_LABELS[card.workflow]} · {card.urgency.value}"


def _long(title: str, raw: str, more: str | None, *, limit: int, quote: bool = False) -> str:
    """Title, then the escaped text fitted to ``limit``, with a Full details link when cut."""
    tail = f" {link(more, FULL_DETAILS)}" if more else ""
    if len(tail) > limit // 2:  # a URL too long to leave room for the text: no link
        tail = ""
    budget = limit - len(title) - 1 - len(tail)
    if quote:  # every line gains "> "
        budget -= 2 * (raw.count("\n") + 1)
    text, cut = clip_mrkdwn(raw, budget)
    if quote:
        text = "\n".join(f"> {line}" for line in text.split("\n"))
    return f"{title}\n{text}{tail if cut else ''}"


def _conversation(card: HandoffCard, more: str | None) -> list[JSON]:
    handoff = card.handoff
    blocks = [section(_long(CALLER_TITLE, handoff.caller_request, more, limit=SECTION_TEXT_MAX))]
    if handoff.findings:
        blocks.append(
            section(_long(FINDINGS_TITLE, handoff.findings, more, limit=SECTION_TEXT_MAX))
        )
    # Collections shows factual notes only: what a struggling caller said stays in the recording.
    if handoff.transcript_excerpt and card.workflow is not Workflow.COLLECTIONS:
        excerpt = _long(
            EXCERPT_TITLE, handoff.transcript_excerpt, more, limit=SECTION_TEXT_MAX, quote=True
        )
        blocks.append(section(excerpt))
    return blocks


def _field(label: str, raw: str | None, more: str | None = None, *, badge: str = "") -> str | None:
    if not raw:
        return None
    return _long(f"*{label}*", raw, more, limit=FIELD_TEXT_MAX - len(badge)) + badge


def _fields_section(title: str, fields: list[str | None]) -> JSON | None:
    present = [f for f in fields if f]
    return section(title, fields=present) if present else None


def _record(card: HandoffCard) -> JSON | None:
    record = card.handoff.affected_record
    if record is None:
        return None
    url = str(record.url) if record.url else None
    ident = _field("ID", record.id)
    if url:
        linked = (
            f"*ID*\n{link(url, record.id)}" if record.id else f"*Link*\n{link(url, RECORD_LINK)}"
        )
        ident = linked if len(linked) <= FIELD_TEXT_MAX else ident  # else the id without its link
    return _fields_section(
        RECORD_TITLE, [_field("System", record.system), _field("Object", record.object), ident]
    )


def _owner(card: HandoffCard) -> JSON:
    follow_up = card.handoff.follow_up
    lines = [OWNER_LINE.format(owner=owner_ref(card))]
    if follow_up and follow_up.next_step:
        lines.append(NEXT_STEP_LINE.format(step=clip_mrkdwn(follow_up.next_step, 1000)[0]))
    if card.deadline is not None:
        lines.append(DEADLINE_LINE.format(when=slack_date(card.deadline)))
    if follow_up and follow_up.escalation_reason:
        lines.append(
            ESCALATION_LINE.format(reason=clip_mrkdwn(follow_up.escalation_reason, 1000)[0])
        )
    return section("\n".join(lines))


def _customer(card: HandoffCard, more: str | None) -> JSON | None:
    customer = card.handoff.customer
    if customer is None:
        return None
    email_badge = f" {VERIFIED}" if customer.email_verified else f" · {UNVERIFIED}"
    return _fields_section(
        CUSTOMER_TITLE,
        [
            _field("Name", customer.name, more, badge=f" {VIP}" if customer.vip else ""),
            _field("Account", customer.account_id),
            _field("Email", str(customer.email) if customer.email else None, badge=email_badge),
            _field("Tax region", customer.tax_region),
            _field("Phone", customer.phone),
        ],
    )


def _billing(card: HandoffCard, more: str | None) -> JSON | None:
    billing = card.handoff.billing
    amount = card_amount(card)
    if billing is None:
        return _fields_section(BILLING_TITLE, [f"*Amount*\n{amount}" if amount else None])
    status = (
        billing.payment_status.value.replace("_", " ").capitalize()
        if billing.payment_status
        else None
    )
    return _fields_section(
        BILLING_TITLE,
        [
            _field("Invoice", billing.invoice_number),
            _field("Payment", billing.payment_id),
            _field("Subscription", billing.subscription_id),
            f"*Amount*\n{amount}" if amount else None,
            _field("Due date", billing.due_date.isoformat() if billing.due_date else None),
            _field("Payment status on the call", status),
            _field("Refund reason", billing.refund_reason, more),
            _field("Dispute reason", billing.dispute_reason, more),
            _field("Credit request", billing.credit_request, more),
        ],
    )


def _links(card: HandoffCard) -> JSON | None:
    links = card.handoff.links
    urls = {
        "transcript": links.transcript_url if links else None,
        "recording": links.recording_url if links else None,
        "crm": links.crm_url if links else None,
        "support_ticket": links.support_ticket_url if links else None,
        "payment_platform": links.payment_platform_url if links else None,
        "invoice": card.invoice.url if card.invoice else None,
    }
    elements = [
        button(LINK_LABELS[kind], link_action_id(kind), url=str(url))
        for kind, url in urls.items()
        if url is not None and len(str(url)) <= URL_MAX
    ]
    return (
        {"type": "actions", "block_id": BlockId.LINKS.value, "elements": elements}
        if elements
        else None
    )


def _approve(card: HandoffCard, value: str) -> JSON:
    second = card.two_person and len(card.approvals) == 1
    text = APPROVE_SECOND if second else APPROVE
    if card.identity_check_needed:  # the handler opens the identity modal instead of a confirm
        return button(text, ActionId.APPROVE, value=value, style="primary")
    confirm = {
        "title": plain(CONFIRM_TITLE, 100),
        "text": plain(approval_effect(card), CONFIRM_TEXT_MAX),
        "confirm": plain(CONFIRM_YES, 30),
        "deny": plain(CONFIRM_NO, 30),
    }
    return button(text, ActionId.APPROVE, value=value, style="primary", confirm=confirm)


def _decisions(card: HandoffCard) -> JSON | None:
    value = encode_button_value(card.handoff_id)
    escalate = button(ESCALATE, ActionId.ESCALATE, value=value)
    reassign = button(REASSIGN, ActionId.REASSIGN, value=value)
    if card.decidable:
        decline = button(DECLINE, ActionId.DECLINE, value=value, style="danger")
        elements = [_approve(card, value), decline, escalate, reassign]
    elif card.status is HandoffStatus.ACTION_FAILED:
        elements = [button(RETRY, ActionId.RETRY, value=value, style="primary"), escalate, reassign]
    elif card.status in {HandoffStatus.APPROVED, HandoffStatus.INVOICED}:
        elements = [escalate, reassign, button(MARK_DONE, ActionId.DONE, value=value)]
    else:  # processing (in flight) and closed cards offer nothing to click
        return None
    if card.deadline is not None:  # reminders only run for handoffs with a deadline
        options = [
            {"text": plain(label, 75), "value": encode_snooze_value(card.handoff_id, duration)}
            for duration, label in SNOOZE_LABELS.items()
        ]
        elements.append(
            {"type": "overflow", "action_id": ActionId.SNOOZE.value, "options": options}
        )
    return {"type": "actions", "block_id": BlockId.DECISIONS.value, "elements": elements}


def _context(card: HandoffCard) -> list[str]:
    ids = {"handoff_id": escape(card.handoff_id), "when": slack_date(card.handoff.occurred_at)}
    if card.kind == "request" and card.requested_by:
        line = REQUEST_CONTEXT.format(who=who(card.requested_by), **ids)
    else:
        line = CALL_CONTEXT.format(call_id=escape(card.call_id), **ids)
    return [line, SANDBOX_CONTEXT] if card.sandbox else [line]
