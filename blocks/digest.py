"""The low-priority digest: one message per channel listing the handoffs posted in its thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from blocks.common import (
    HEADER_MAX,
    JSON,
    MESSAGE_BLOCKS_MAX,
    SECTION_TEXT_MAX,
    URL_MAX,
    clip_mrkdwn,
    context,
    escape,
    link,
    plain,
    section,
    slack_date,
    truncate,
)
from blocks.handoff_state import WORKFLOW_LABELS, owner_ref
from services.cards import HandoffCard

__all__ = ["MAX_LINES", "digest_message"]

HEADER = "📋 Low-priority handoffs · {count}"
INTRO = "Gathered for the {when} digest. Each one is in the thread below, with its buttons."
LINE = "• {title}{step}{owner}"
STEP = " — {step}"
OWNER = " · {owner}"
MORE = "…and {count} more in the thread"
TEXT = "Low-priority finance handoffs: {count} waiting ({titles})"
SANDBOX_PREFIX = "[SANDBOX] "
UNKNOWN_CALLER = "unknown caller"
MAX_LINES = 40
STEP_MAX = 120
TEXT_MAX = 300


def _label(card: HandoffCard) -> str:
    customer = card.handoff.customer
    name = (customer.name or customer.account_id) if customer else None
    return f"{WORKFLOW_LABELS[card.workflow]} · {name or UNKNOWN_CALLER}"


def _line(card: HandoffCard, url: str | None) -> str:
    label = _label(card)[:150]
    title = link(url, label) if url and len(url) <= URL_MAX else f"*{escape(label)}*"
    follow_up = card.handoff.follow_up
    step = follow_up.next_step if follow_up and follow_up.next_step else None
    return LINE.format(
        title=title,
        step=STEP.format(step=clip_mrkdwn(step, STEP_MAX)[0]) if step else "",
        owner=OWNER.format(owner=owner_ref(card)) if card.owner or card.owner_slack_id else "",
    )


def _sections(lines: list[str]) -> list[JSON]:
    """Pack lines into as few sections as fit Slack's 3000 characters each."""
    blocks: list[JSON] = []
    current: list[str] = []
    for line in lines:
        line = line[: SECTION_TEXT_MAX - 1]
        if current and len("\n".join([*current, line])) > SECTION_TEXT_MAX:
            blocks.append(section("\n".join(current)))
            current = []
        current.append(line)
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def digest_message(
    cards: Sequence[HandoffCard], *, slot: datetime, links: Mapping[str, str]
) -> JSON:
    """The digest: a header, one line per handoff (linked once posted), and "and N more"."""
    shown = cards[:MAX_LINES]
    sandbox = any(c.sandbox for c in cards)
    prefix = SANDBOX_PREFIX if sandbox else ""
    header = {"type": "header", "text": plain(prefix + HEADER.format(count=len(cards)), HEADER_MAX)}
    blocks: list[JSON] = [header, context(INTRO.format(when=slack_date(slot, "{time}")))]
    blocks.extend(_sections([_line(c, links.get(c.handoff_id)) for c in shown]))
    if len(cards) > len(shown):
        blocks.append(context(MORE.format(count=len(cards) - len(shown))))
    titles = ", ".join(escape(_label(c)) for c in shown[:5])
    text = prefix + TEXT.format(count=len(cards), titles=titles)
    return {"text": truncate(text, TEXT_MAX), "blocks": blocks[:MESSAGE_BLOCKS_MAX]}
