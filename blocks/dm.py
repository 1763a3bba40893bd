"""Direct messages to people: a handoff handed to them, and follow-up nudges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from blocks.common import NEXT_STEP_MAX, SECTION_TEXT_MAX, clip_mrkdwn, escape, slack_date
from blocks.handoff_state import WORKFLOW_LABELS
from blocks.modals import REASON_MAX
from services.cards import HandoffCard

__all__ = ["handoff_title", "reassigned_dm"]


def handoff_title(card: HandoffCard) -> str:
    """The workflow and who it is about, e.g. "Dispute · Marta Okafor"."""
    label = WORKFLOW_LABELS.get(card.workflow, "Finance handoff")
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
        lines.append(
            f"*Promised next step:* {clip_mrkdwn(follow_up.next_step, NEXT_STEP_MAX, inert=True)[0]}"
        )
    if card.deadline:
        late = " (overdue)" if card.deadline < now else ""
        lines.append(f"*Deadline:* {slack_date(card.deadline)}{late}")
    if note:
        lines.append(f"*Note:* {clip_mrkdwn(note, REASON_MAX, inert=True)[0]}")
    # The notification text is mrkdwn too: the customer's name is escaped there as well.
    text = f"You now own: {clip_mrkdwn(handoff_title(card), 280)[0]}"
    if card.sandbox:
        text = "[SANDBOX] " + text
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "\n".join(lines)[:SECTION_TEXT_MAX]},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Call ID `{escape(card.call_id)}`"}],
        },
    ]
    return {"text": text[:300], "blocks": blocks}
