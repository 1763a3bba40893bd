"""The /handoff answer: one handoff's state, owner, deadline and audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from blocks.common import escape, slack_date
from blocks.dm import handoff_title
from services.cards import HandoffCard
from services.db.models import AuditEntry

__all__ = ["handoff_status_message", "not_found_message"]

MAX_TRAIL = 20
STATUS_LABELS = {
    "open": "Waiting for approval",
    "partly_approved": "Approved 1 of 2",
    "processing": "Creating invoice…",
    "action_failed": "Approved, but the Plisio invoice failed",
    "approved": "Approved — owner carries out the next step",
    "invoiced": "Invoice created, awaiting payment",
    "paid": "Paid",
    "declined": "Declined",
    "done": "Done",
}


def _who(actor: str) -> str:
    if actor.startswith(("U", "W")) and actor.isalnum():
        return f"<@{actor}>"
    return escape(actor)


def _detail(entry: AuditEntry) -> str:
    detail = entry.detail or {}
    for key in ("reason", "to", "error", "url", "status", "channel"):
        value = detail.get(key)
        if value:
            shown = f"<@{value}>" if key == "to" else escape(str(value))
            return f" — {shown[:200]}"
    return ""


def handoff_status_message(
    card: HandoffCard, trail: Sequence[AuditEntry], *, permalink: str | None, now: datetime
) -> dict[str, Any]:
    """State, owner, deadline and the audit trail, newest last."""
    owner = f"<@{card.owner_slack_id}>" if card.owner_slack_id else escape(card.owner or "nobody")
    deadline = "none"
    if card.deadline:
        deadline = slack_date(card.deadline)
        if card.deadline < now and not card.closed:
            deadline += " ⏰ overdue"
    title = escape(handoff_title(card))
    heading = f"*<{permalink}|{title}>*" if permalink else f"*{title}*"
    summary = (
        f"{heading}\n*State:* {STATUS_LABELS.get(card.status.value, card.status.value)}"
        f"\n*Owner:* {owner}\n*Deadline:* {deadline}\n*Urgency:* {card.urgency.value}"
    )
    shown = list(trail)[-MAX_TRAIL:]
    lines = [
        f"{slack_date(e.at)} · {_who(e.actor)} · {escape(e.action)}{_detail(e)}" for e in shown
    ]
    if len(trail) > MAX_TRAIL:
        lines.insert(0, f"_{len(trail) - MAX_TRAIL} earlier entries not shown_")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:3000]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": ("*Audit trail*\n" + "\n".join(lines))[:3000]},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Call ID `{escape(card.call_id)}`"}],
        },
    ]
    text = f"{handoff_title(card)}: {STATUS_LABELS.get(card.status.value, card.status.value)}"
    return {"text": text[:300], "blocks": blocks}


def not_found_message(call_id: str) -> dict[str, Any]:
    """No handoff for that call id."""
    text = f"No handoff found for call ID {call_id}."
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}],
    }
