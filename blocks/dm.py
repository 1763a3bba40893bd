"""Direct messages to people: a handoff handed to them, and follow-up nudges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.cards import HandoffCard

__all__ = ["date_token", "escape", "handoff_title", "reassigned_dm"]

WORKFLOW_LABELS = {
    "billing_question": "Billing question",
    "refund": "Refund",
    "dispute": "Dispute",
    "tax_or_billing_address_correction": "Tax / address correction",
    "vip_payment_blocker": "VIP payment blocker",
    "collections": "Collections",
    "receipt_resend": "Receipt resend",
    "create_invoice": "Invoice request",
    "invoice_lookup": "Invoice lookup",
    "credit_request": "Credit request",
    "subscription_change": "Subscription change",
    "other": "Finance handoff",
}


def escape(text: str) -> str:
    """Escape text for mrkdwn so callers' words cannot become mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def date_token(at: datetime) -> str:
    """A date Slack shows in each reader's own time zone."""
    return (
        f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{at:%Y-%m-%d %H:%M} UTC>"
    )


def handoff_title(card: HandoffCard) -> str:
    """ "Dispute · Marta Okafor" — what a person needs to recognise the handoff."""
    label = WORKFLOW_LABELS.get(card.workflow.value, "Finance handoff")
    customer = card.handoff.customer
    who = customer.name if customer and customer.name else card.call_id
    return f"{label} · {who}"


def _link(permalink: str | None, label: str) -> str:
    return f"<{permalink}|{label}>" if permalink else label


def reassigned_dm(
    card: HandoffCard, *, by: str, note: str | None, permalink: str | None, now: datetime
) -> dict[str, Any]:
    """Tell the new owner what they now own."""
    title = escape(handoff_title(card))
    follow_up = card.handoff.follow_up
    lines = [f"<@{by}> made you the owner of *{_link(permalink, title)}*."]
    if follow_up and follow_up.next_step:
        lines.append(f"*Promised next step:* {escape(follow_up.next_step)[:1000]}")
    if card.deadline:
        late = " (overdue)" if card.deadline < now else ""
        lines.append(f"*Deadline:* {date_token(card.deadline)}{late}")
    if note:
        lines.append(f"*Note:* {escape(note)[:1000]}")
    text = f"You now own: {handoff_title(card)}"
    if card.sandbox:
        text = "[SANDBOX] " + text
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Call ID `{escape(card.call_id)}`"}],
        },
    ]
    return {"text": text[:300], "blocks": blocks}
