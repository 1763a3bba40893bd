"""The channel message of one handoff: the decision first, then what was asked, the buttons, details."""

from __future__ import annotations

from datetime import datetime

from blocks.common import (
    CONFIRM_BUTTON_MAX,
    CONFIRM_TEXT_MAX,
    CONFIRM_TITLE_MAX,
    HEADER_MAX,
    JSON,
    OPTION_TEXT_MAX,
    SECTION_TEXT_MAX,
    button,
    clip_mrkdwn,
    context,
    escape,
    plain,
    section,
    slack_date,
    truncate,
    who,
)
from blocks.handoff_context import context_blocks, refresh_block
from blocks.handoff_details import (
    billing_block,
    customer_block,
    links_block,
    long_text,
    owner_block,
    record_block,
)
from blocks.handoff_state import (
    WORKFLOW_LABELS,
    card_amount,
    customer_name,
    owner_ref,
    review_block,
    state_text,
)
from blocks.ids import (
    ActionId,
    BlockId,
    SnoozeFor,
    encode_button_value,
    encode_snooze_value,
)
from blocks.payment_words import payment_word
from blocks.refund import refund_blocks
from services.cards import HandoffCard
from services.handoff_model import Urgency, Workflow
from services.states import HandoffStatus

__all__ = ["handoff_message", "handoff_text", "mark_done_button"]

SANDBOX_PREFIX = "[SANDBOX] "
URGENCY_EMOJI = {Urgency.URGENT: "🚨 ", Urgency.HIGH: "🔴 "}
STATUS_PREFIX = {
    HandoffStatus.PARTLY_APPROVED: "Approved 1 of 2",
    HandoffStatus.PROCESSING: "Approved",
    HandoffStatus.ACTION_FAILED: "Invoice failed",
    HandoffStatus.APPROVED: "Approved",
    HandoffStatus.INVOICED: "Awaiting payment",
    HandoffStatus.PAID: "Paid",
    HandoffStatus.DECLINED: "Declined",
    HandoffStatus.DONE: "Done",
}
TEXT_MAX = 300
HEADER_NAME_MAX = 60
UNKNOWN_CALLER = "unknown caller"
CALLER_TITLE = "*What the caller asked*"
FINDINGS_TITLE = "*What DialNexa learned*"
REQUEST_TITLE = "*What was requested*"
EXCERPT_TITLE = "*From the transcript*"
APPROVE, APPROVE_SECOND, DECLINE = "Approve", "Approve (2nd of 2)", "Decline"
ESCALATE, REASSIGN, RETRY, MARK_DONE = "Escalate", "Reassign", "Retry", "Mark done"
REISSUE = "Reissue invoice"
REQUEST_INFO = "Request info"
CONFIRM_NO = "Cancel"
DONE_CONFIRM_TITLE, DONE_CONFIRM_YES = "Mark this handoff done?", "Mark done"
DONE_CONFIRM_TEXT = "This closes the handoff and stops its follow-up reminders."
SNOOZE_LABELS = {
    SnoozeFor.ONE_HOUR: "Snooze reminders 1 hour",
    SnoozeFor.FOUR_HOURS: "Snooze reminders 4 hours",
    SnoozeFor.TOMORROW: "Snooze reminders until tomorrow",
}
CALL_CONTEXT = "Call `{call_id}` · handoff `{handoff_id}` · call at {when}"
REQUEST_CONTEXT = (
    "Requested by {who} in Slack {when} · request `{call_id}` · handoff `{handoff_id}`"
)
RECEIVED_CONTEXT = "received {when}"
INVOICE_CONTEXT = "Plisio invoice `{txn_id}` · order `{order}`"
PLISIO_CODE = "Plisio status code: {code}"
SANDBOX_CONTEXT = "SANDBOX — not a real workspace"


def handoff_message(card: HandoffCard, *, now: datetime) -> JSON:
    """The whole channel message for a handoff card: ``{"text": ..., "blocks": [...]}``.

    The decision leads: the header (what, for whom, how much), one status line (where it
    stands, deadline, urgency and why), what to check, what was asked and learned, the buttons;
    the details (owner, customer, billing, record, links) and the ids come after.
    """
    links = card.handoff.links
    more = str(links.transcript_url) if links and links.transcript_url else None
    blocks: list[JSON | None] = [
        {"type": "header", "text": plain(_header(card), HEADER_MAX)},
        section(state_text(card, now)),
        *refund_blocks(card),
        review_block(card),
        *_conversation(card, more),
        *context_blocks(card),
        refresh_block(card),
        _decisions(card),
        owner_block(card),
        customer_block(card, more),
        billing_block(card, more),
        record_block(card),
        links_block(card),
        context(*_context(card)),
    ]
    return {"text": handoff_text(card), "blocks": [b for b in blocks if b is not None]}


def handoff_text(card: HandoffCard) -> str:
    """One notification line that leads with the decision: status, workflow, customer, amount,
    then urgency, the request and the owner."""
    status = STATUS_PREFIX.get(card.status)
    if card.status in {HandoffStatus.INVOICED, HandoffStatus.PAID}:
        status = payment_word(card) or status  # "Underpaid", "Overpaid — check", ...
    head = (SANDBOX_PREFIX if card.sandbox else "") + (f"{status} · " if status else "")
    head += _what(card, escaped=True) + f" ({card.urgency.value}): "
    tail = []
    if card.owner_slack_id or card.owner:
        tail.append(
            f"owner {owner_ref(card) if card.owner_slack_id else truncate(owner_ref(card), 80)}"
        )
    end = f" — {' · '.join(tail)}" if tail else ""
    budget = max(TEXT_MAX - len(head) - len(end), 40)
    return head + clip_mrkdwn(card.handoff.caller_request, budget, inert=True)[0] + end


def _what(card: HandoffCard, *, escaped: bool) -> str:
    """``Create invoice · Harbor & Finch LLC · 4,200.00 USD``, leaving out what is unknown."""
    name = customer_name(card)
    if name:
        name = clip_mrkdwn(name, HEADER_NAME_MAX)[0] if escaped else truncate(name, HEADER_NAME_MAX)
    amount = card_amount(card, escaped=escaped)
    return " · ".join(part for part in (WORKFLOW_LABELS[card.workflow], name, amount) if part)


def _header(card: HandoffCard) -> str:
    prefix = SANDBOX_PREFIX if card.sandbox else ""
    emoji = URGENCY_EMOJI.get(card.urgency, "") if card.urgent and not card.closed else ""
    return f"{prefix}{emoji}{_what(card, escaped=False)}"


def _conversation(card: HandoffCard, more: str | None) -> list[JSON]:
    handoff = card.handoff
    if card.kind == "request":  # typed in Slack: no caller, nothing learned on a call
        return [
            section(long_text(REQUEST_TITLE, handoff.caller_request, None, limit=SECTION_TEXT_MAX))
        ]
    blocks = [
        section(long_text(CALLER_TITLE, handoff.caller_request, more, limit=SECTION_TEXT_MAX))
    ]
    if handoff.findings:
        blocks.append(
            section(long_text(FINDINGS_TITLE, handoff.findings, more, limit=SECTION_TEXT_MAX))
        )
    # Collections shows factual notes only: what a struggling caller said stays in the recording.
    if handoff.transcript_excerpt and card.workflow is not Workflow.COLLECTIONS:
        excerpt = long_text(
            EXCERPT_TITLE, handoff.transcript_excerpt, more, limit=SECTION_TEXT_MAX, quote=True
        )
        blocks.append(section(excerpt))
    return blocks


def _approve(card: HandoffCard, value: str) -> JSON:
    # No confirm dialog here: the click is checked first, then a modal says what it will do.
    second = card.two_person and len(card.approvals) == 1
    return button(
        APPROVE_SECOND if second else APPROVE, ActionId.APPROVE, value=value, style="primary"
    )


def mark_done_button(value: str) -> JSON:
    """Mark done, behind a confirm dialog (it closes the handoff and stops its reminders)."""
    confirm = {
        "title": plain(DONE_CONFIRM_TITLE, CONFIRM_TITLE_MAX),
        "text": plain(DONE_CONFIRM_TEXT, CONFIRM_TEXT_MAX),
        "confirm": plain(DONE_CONFIRM_YES, CONFIRM_BUTTON_MAX),
        "deny": plain(CONFIRM_NO, CONFIRM_BUTTON_MAX),
    }
    return button(MARK_DONE, ActionId.DONE, value=value, confirm=confirm)


def _decisions(card: HandoffCard) -> JSON | None:
    value = encode_button_value(card.handoff_id)
    escalate = button(ESCALATE, ActionId.ESCALATE, value=value)
    reassign = button(REASSIGN, ActionId.REASSIGN, value=value)
    if card.decidable:
        decline = button(DECLINE, ActionId.DECLINE, value=value, style="danger")
        elements = [_approve(card, value), decline, escalate, reassign]
        if card.info is None:  # one question at a time: the status line shows the open one
            elements.insert(2, button(REQUEST_INFO, ActionId.REQUEST_INFO, value=value))
    elif card.status is HandoffStatus.ACTION_FAILED:
        retry = button(RETRY, ActionId.RETRY, value=value, style="primary")
        decline = button(DECLINE, ActionId.DECLINE, value=value, style="danger")
        elements = [retry, decline, escalate, reassign]
    elif card.status is HandoffStatus.APPROVED:
        elements = [escalate, reassign, mark_done_button(value)]
    elif card.status is HandoffStatus.INVOICED:  # closes by itself once the invoice is paid
        elements = [escalate, reassign]
        if card.invoice is not None and card.invoice.reissuable:
            # Settled badly (underpaid, expired, cancelled, held for review): an approver may
            # issue a fresh invoice, or close the handoff after review.
            reissue = button(REISSUE, ActionId.REISSUE, value=value, style="primary")
            elements = [reissue, escalate, reassign, mark_done_button(value)]
    else:  # processing (in flight) and closed cards offer nothing to click
        return None
    if card.deadline is not None:  # reminders only run for handoffs with a deadline
        options = [
            {
                "text": plain(label, OPTION_TEXT_MAX),
                "value": encode_snooze_value(card.handoff_id, duration),
            }
            for duration, label in SNOOZE_LABELS.items()
        ]
        elements.append(
            {"type": "overflow", "action_id": ActionId.SNOOZE.value, "options": options}
        )
    return {"type": "actions", "block_id": BlockId.DECISIONS.value, "elements": elements}


def _context(card: HandoffCard) -> list[str]:
    """The ids and times, last: call or request id, handoff id, call time, receipt, invoice."""
    ids = {"handoff_id": escape(card.handoff_id), "call_id": escape(card.call_id)}
    when = slack_date(card.handoff.occurred_at)
    if card.kind == "request" and card.requested_by:
        line = REQUEST_CONTEXT.format(who=who(card.requested_by), when=when, **ids)
    else:
        line = CALL_CONTEXT.format(when=when, **ids)
        if card.received_at is not None:
            line += " · " + RECEIVED_CONTEXT.format(when=slack_date(card.received_at))
    lines = [line]
    invoice = card.invoice
    if invoice is not None and invoice.txn_id:
        txn = escape(truncate(invoice.txn_id, 64))
        line = INVOICE_CONTEXT.format(txn_id=txn, order=escape(invoice.order_number))
        if invoice.payment_state == "other":  # undocumented: its code is all there is to go on
            code = clip_mrkdwn(truncate(invoice.status, 40), 200, inert=True)[0]
            line += " · " + PLISIO_CODE.format(code=code)
        lines.append(line)
    return [*lines, SANDBOX_CONTEXT] if card.sandbox else lines
