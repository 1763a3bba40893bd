"""The /handoff answer: one handoff's state, owner, deadline and audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from blocks.common import escape, link, slack_date
from blocks.dm import handoff_title
from blocks.handoff_context import context_blocks
from blocks.payment_words import payment_word
from blocks.trail import event_sentence
from services.cards import HandoffCard
from services.db.models import AuditEntry
from services.external_refs import LinkedRecord
from services.systems import system_name

__all__ = ["handoff_status_message", "linked_record", "not_found_message"]

MAX_TRAIL = 20
TRAIL_TITLE = "*Audit trail*\n"
STATUS_LABELS = {
    "open": "Waiting for approval",
    "partly_approved": "Approved 1 of 2",
    "processing": "Creating invoice…",
    "action_failed": "Invoice failed",
    "approved": "Approved — owner carries out the next step",
    "invoiced": "Awaiting payment",
    "paid": "Paid",
    "declined": "Declined",
    "done": "Done",
}

# How each connector's system is named to people.


def linked_record(ref: LinkedRecord) -> str:
    """``Plisio invoice <url|txn_id>``: what a connector created or found, linked."""
    kind = ref.kind.replace("_", " ")
    # "Stripe refunds" names the connector; its objects are "Stripe refund re_…".
    system = system_name(ref.system).removesuffix(f" {kind}s")
    what = escape(f"{system} {kind}")
    target = link(ref.url, ref.external_id) if ref.url else escape(ref.external_id)
    return f"{what} {target}"


def handoff_status_message(
    card: HandoffCard,
    trail: Sequence[AuditEntry],
    *,
    permalink: str | None,
    now: datetime,
    refs: Sequence[LinkedRecord] = (),
    channel_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """State, owner, deadline, linked records and the audit trail in sentences, newest last
    (``channel_names``: channel id -> name, where known; else channels are mentioned)."""
    owner = f"<@{card.owner_slack_id}>" if card.owner_slack_id else escape(card.owner or "nobody")
    deadline = "none"
    if card.deadline:
        deadline = slack_date(card.deadline)
        if card.deadline < now and not card.closed:
            deadline += " ⏰ overdue"
    title = escape(handoff_title(card))
    heading = f"*<{permalink}|{title}>*" if permalink else f"*{title}*"
    state = STATUS_LABELS.get(card.status.value, card.status.value)
    word = payment_word(card)
    if word and card.status.value == "invoiced":
        state = word  # underpaid, expired, ... rather than "Awaiting payment"
    if card.status.value == "action_failed" and card.last_error:
        state = f"{state}: {escape(card.last_error[:300])}"
    summary = (
        f"{heading}\n*State:* {state}"
        f"\n*Owner:* {owner}\n*Deadline:* {deadline}\n*Urgency:* {card.urgency.value}"
    )
    if refs:
        summary += "\n*Linked records:* " + "; ".join(linked_record(ref) for ref in refs)
    names = channel_names or {}
    lines = [
        f"{slack_date(e.at)} · {event_sentence(e.action, e.actor, e.detail, names)}"
        for e in list(trail)[-MAX_TRAIL:]
    ]
    # The oldest lines give way until the newest fit whole in one section.
    while lines and len(TRAIL_TITLE) + sum(len(line) + 1 for line in lines) + 60 > 3000:
        lines.pop(0)
    if len(trail) > len(lines):
        lines.insert(0, f"_{len(trail) - len(lines)} earlier entries not shown_")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:3000]}},
        *context_blocks(card),
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": TRAIL_TITLE + "\n".join(lines)},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _ids(card)}],
        },
    ]
    text = f"{handoff_title(card)}: {state}"
    return {"text": text[:300], "blocks": blocks}


def _ids(card: HandoffCard) -> str:
    what = "Request" if card.kind == "request" else "Call"
    line = f"{what} `{escape(card.call_id)}` · handoff `{escape(card.handoff_id)}`"
    invoice = card.invoice
    if invoice is not None and invoice.txn_id:
        line += f" · Plisio invoice `{escape(invoice.txn_id[:64])}`"
    return line


def not_found_message(call_id: str) -> dict[str, Any]:
    """No handoff for that call id."""
    text = f"No handoff found for call ID {call_id}."
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}],
    }
