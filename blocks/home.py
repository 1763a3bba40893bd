"""The App Home tab: a person's open handoffs, approvals waiting for them, and their recent work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from blocks.common import (
    HEADER_MAX,
    JSON,
    SECTION_TEXT_MAX,
    URL_MAX,
    button,
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
from blocks.export import HOME_EXPORT_BUTTON, HOME_EXPORT_VALUE
from blocks.handoff_context import context_texts
from blocks.handoff_state import WORKFLOW_LABELS
from blocks.ids import ActionId
from blocks.metrics import lead_metrics_blocks
from blocks.status import STATUS_LABELS
from services.home import HomeItem, HomeSnapshot, RecentItem
from services.mapping import describe_gaps
from services.metrics import MetricsReport
from services.states import CLOSED, HandoffStatus

__all__ = ["APPROVAL_DMS_CHOICES", "VIEW_BLOCKS_MAX", "approval_dms_block", "home_view"]

VIEW_BLOCKS_MAX = 100
EXPORT_BLOCK = "home_export"
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
APPROVAL_DMS_TITLE = (
    "*Approval requests* · a second approval or an escalation waiting for you can also come "
    "to your DM, with the same buttons; acting in either place updates both."
)
# The toggle's values: what ``handlers.home`` stores (True: a DM too).
APPROVAL_DMS_CHOICES = {"channel": "Channel only", "dm": "DM too"}
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
    metrics: MetricsReport | None = None,
    approval_dms: bool | None = None,
    export: bool = False,
    away: Sequence[JSON] = (),
) -> JSON:
    """The whole Home tab view for one person (``links``: handoff id -> message permalink;
    ``mapping_gaps``: for admins, field -> open handoffs that arrived without it; ``metrics``:
    for the finance lead, the team's last 7 days; ``approval_dms``: for approvers and the lead,
    whether approval requests reach their DM; ``export``: the finance lead's "Export audit
    trail" button; ``away``: the away / back panel, ``blocks.delegation.away_panel``)."""
    blocks: list[JSON] = [
        {"type": "header", "text": plain(HEADER, HEADER_MAX)},
        context(_counts(snapshot), UPDATED.format(when=slack_date(now))),
        *_mapping(mapping_gaps or {}),
        *(lead_metrics_blocks(metrics) if metrics is not None else []),
        *away,
    ]
    if export:
        export_button = button(
            HOME_EXPORT_BUTTON, ActionId.EXPORT_AUDIT.value, value=HOME_EXPORT_VALUE
        )
        blocks.append({"type": "actions", "block_id": EXPORT_BLOCK, "elements": [export_button]})
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
    if approval_dms is not None:
        # Kept inside the limit: the lists above give way to it.
        blocks = [
            *blocks[: VIEW_BLOCKS_MAX - 2],
            {"type": "divider"},
            approval_dms_block(approval_dms),
        ]
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}


def approval_dms_block(on: bool) -> JSON:
    """The toggle: approval requests in the channel only, or in a DM too."""
    options = [
        {"text": plain(label, 75), "value": value} for value, label in APPROVAL_DMS_CHOICES.items()
    ]
    chosen = options[1] if on else options[0]
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": APPROVAL_DMS_TITLE},
        "accessory": {
            "type": "static_select",
            "action_id": ActionId.APPROVAL_DMS.value,
            "options": options,
            "initial_option": chosen,
        },
    }
