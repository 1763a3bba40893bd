"""The App Home tab: a person's open handoffs, approvals waiting for them, and their recent work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from blocks.common import (
    HEADER_MAX,
    JSON,
    SECTION_TEXT_MAX,
    URL_MAX,
    clip_mrkdwn,
    context,
    escape,
    format_money,
    humanize_duration,
    link,
    plain,
    section,
    slack_date,
)
from blocks.handoff_context import context_texts
from blocks.handoff_state import WORKFLOW_LABELS
from blocks.status import STATUS_LABELS
from services.home import HomeItem, HomeSnapshot, RecentItem
from services.mapping import describe_gaps
from services.states import CLOSED, HandoffStatus

__all__ = ["VIEW_BLOCKS_MAX", "home_view"]

VIEW_BLOCKS_MAX = 100
MAX_MINE, MAX_AWAITING, MAX_RECENT = 20, 15, 10  # 3 + 20 + 4 + 15 + 4 + 10 + ... < 100 blocks
HEADER = "Your finance queue"
UPDATED = "Updated {when}"
COUNTS_NONE = "No handoffs assigned to you yet."
COUNT = "{label}: *{count}*"
OVERDUE_COUNT = "⏰ Overdue: *{count}*"
MINE_TITLE = "*Your open handoffs* · {count}"
MINE_EMPTY = "Nothing open is assigned to you. 🎉"
AWAITING_TITLE = "*Waiting for your approval* · {count}"
AWAITING_EMPTY = "No handoffs are waiting for your approval."
RECENT_TITLE = "*You recently acted on*"
RECENT_EMPTY = "Nothing yet: handoffs you approve, decline, reassign or close show up here."
MORE = "…and {count} more"
OVERDUE = "⏰ *Overdue by {duration}*"
DEADLINE = "Deadline {when}"
NEXT_STEP = "_Next:_ {step}"
SECOND_APPROVAL = "needs a second approver"
ACTED = "You {action} this {when}"
ACTION_WORDS = {
    "approved": "approved",
    "declined": "declined",
    "escalated": "escalated",
    "reassigned": "reassigned",
    "done": "marked done",
    "retried": "retried",
    "snoozed": "snoozed",
}
URGENT_MARK = "🔴 "
MAPPING = (
    "🧩 *DialNexa fields to map* · open handoffs arrived without: {fields}. Map them in "
    "DialNexa's handoff settings so every message carries them."
)
MAPPING_MAX = 1000
UNKNOWN_CALLER = "unknown caller"
STEP_MAX, NAME_MAX = 300, 150


def _title(item: HomeItem, links: Mapping[str, str]) -> str:
    label = f"{WORKFLOW_LABELS[item.workflow]} · {(item.customer or UNKNOWN_CALLER)[:NAME_MAX]}"
    url = links.get(item.handoff_id)
    if url and url.startswith("https://") and len(url) <= URL_MAX:
        return f"*{link(url, label)}*"
    return f"*{escape(label)}*"


def _item(item: HomeItem, links: Mapping[str, str], now: datetime, note: str | None = None) -> JSON:
    head = (URGENT_MARK if item.urgent else "") + _title(item, links)
    if item.amount is not None and item.currency:
        head += f" · {format_money(item.amount, escape(item.currency))}"
    facts = [escape(STATUS_LABELS.get(item.status.value, item.status.value))]
    if item.status is HandoffStatus.PARTLY_APPROVED or (item.two_person and item.approvals == 1):
        facts.append(SECOND_APPROVAL)
    if item.deadline is not None:
        facts.append(DEADLINE.format(when=slack_date(item.deadline)))
        if item.deadline < now and item.status not in CLOSED:
            facts.append(OVERDUE.format(duration=humanize_duration(now - item.deadline)))
    lines = [head, " · ".join(facts)]
    if note:
        lines.append(note)
    if item.next_step:
        lines.append(NEXT_STEP.format(step=clip_mrkdwn(item.next_step, STEP_MAX)[0]))
    text = "\n".join(lines)
    for drawn in context_texts(item.context):  # as on the message; whole sections that fit
        if len(text) + 1 + len(drawn) > SECTION_TEXT_MAX:
            break
        text += "\n" + drawn
    return section(text)


def _list(
    title: str,
    items: Sequence[HomeItem],
    total: int,
    empty: str,
    links: Mapping[str, str],
    now: datetime,
    cap: int,
) -> list[JSON]:
    blocks: list[JSON] = [{"type": "divider"}, section(title)]
    shown = items[:cap]
    if not shown:
        return [*blocks, context(escape(empty))]
    blocks.extend(_item(i, links, now) for i in shown)
    if total > len(shown):
        blocks.append(context(MORE.format(count=total - len(shown))))
    return blocks


def _recent(recent: Sequence[RecentItem], links: Mapping[str, str], now: datetime) -> list[JSON]:
    blocks: list[JSON] = [{"type": "divider"}, section(RECENT_TITLE)]
    if not recent:
        return [*blocks, context(escape(RECENT_EMPTY))]
    for entry in recent[:MAX_RECENT]:
        word = ACTION_WORDS.get(entry.action, escape(entry.action))
        note = ACTED.format(action=word, when=slack_date(entry.at))
        blocks.append(_item(entry.item, links, now, note=note))
    return blocks


def _counts(snapshot: HomeSnapshot) -> str:
    parts = []
    if snapshot.overdue:
        parts.append(OVERDUE_COUNT.format(count=snapshot.overdue))
    for status in HandoffStatus:
        count = snapshot.counts.get(status.value)
        if count:
            parts.append(COUNT.format(label=escape(STATUS_LABELS[status.value]), count=count))
    return " · ".join(parts) if parts else escape(COUNTS_NONE)


def _mapping(gaps: Mapping[str, int]) -> list[JSON]:
    if not gaps:
        return []
    fields = clip_mrkdwn(describe_gaps(gaps), MAPPING_MAX)[0]
    return [section(MAPPING.format(fields=fields))]


def home_view(
    snapshot: HomeSnapshot,
    *,
    now: datetime,
    links: Mapping[str, str],
    mapping_gaps: Mapping[str, int] | None = None,
    away: Sequence[JSON] = (),
) -> JSON:
    """The whole Home tab view for one person (``links``: handoff id -> message permalink;
    ``mapping_gaps``: for admins, field -> open handoffs that arrived without it; ``away``:
    the away / back panel, ``blocks.delegation.away_panel``)."""
    blocks: list[JSON] = [
        {"type": "header", "text": plain(HEADER, HEADER_MAX)},
        context(_counts(snapshot), UPDATED.format(when=slack_date(now))),
        *_mapping(mapping_gaps or {}),
        *away,
    ]
    title = MINE_TITLE.format(count=snapshot.mine_total)
    blocks += _list(title, snapshot.mine, snapshot.mine_total, MINE_EMPTY, links, now, MAX_MINE)
    if snapshot.approver:
        title = AWAITING_TITLE.format(count=snapshot.awaiting_total)
        blocks += _list(
            title,
            snapshot.awaiting,
            snapshot.awaiting_total,
            AWAITING_EMPTY,
            links,
            now,
            MAX_AWAITING,
        )
    blocks += _recent(snapshot.recent, links, now)
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}
