"""Follow-up reminders: the owner's DM, the lead's DM, the channel reply, and "owner not found"."""

from __future__ import annotations

from datetime import datetime

from blocks.common import (
    FIELD_TEXT_MAX,
    JSON,
    OPTION_TEXT_MAX,
    OWNER_MAX,
    PLACEHOLDER_MAX,
    URL_MAX,
    button,
    clip_mrkdwn,
    context,
    escape,
    humanize_duration,
    link,
    plain,
    section,
    slack_date,
    truncate,
    who,
)
from blocks.handoff import mark_done_button
from blocks.handoff_state import WORKFLOW_LABELS, card_amount, owner_ref
from blocks.ids import (
    ActionId,
    BlockId,
    SnoozeFor,
    encode_button_value,
    encode_snooze_value,
    link_action_id,
)
from services.cards import HandoffCard
from services.reminders import NudgeKind

__all__ = [
    "SNOOZE_CHOICES",
    "for_away_approver",
    "nudge_acted",
    "nudge_message",
    "owner_missing_message",
]

FOR_AWAY = "🤝 You get this for {approver}, who is away: you approve for them until they are back."
FOR_AWAY_TEXT = "For an away approver: "

SANDBOX_PREFIX = "[SANDBOX] "
HEADS_UP = "⏳ *Due in {when}:* your follow-up on {title}"
OWNER = "⏰ *Overdue by {when}:* your follow-up on {title}"
LEAD = "⏰ {owner}'s follow-up on {title} is *overdue by {when}*"
CHANNEL = "⏰ {owner} the follow-up on {title} is *overdue by {when}*"
MISSING = (
    "⚠️ I couldn't find the owner *{owner}* in Slack, so nobody was reminded. "
    "This follow-up is *{state}:* {title}"
)
NO_OWNER = "(no owner given)"
NO_DEADLINE = "an unknown time (no deadline recorded)"
STATE_DUE, STATE_LATE = "due in {when}", "overdue by {when}"
TEXT_HEADS_UP = "Due in {when}: your follow-up on {title}"
TEXT_LATE = "Overdue by {when}: follow-up on {title}"
TEXT_MISSING = "Owner {owner} not found in Slack; follow-up {state}: {title}"
PROMISED_TO, NEXT_STEP, DEADLINE, OWNER_FIELD = "Promised to", "Next step", "Deadline", "Owner"
NO_NEXT_STEP = "not recorded — see the handoff"
UNKNOWN_CALLER = "unknown caller"
MARK_DONE, REASSIGN, SNOOZE, OPEN_HANDOFF = "Mark done", "Reassign", "Snooze", "Open handoff"
SNOOZE_CHOICES = {
    SnoozeFor.ONE_HOUR: "1 hour",
    SnoozeFor.FOUR_HOURS: "4 hours",
    SnoozeFor.TOMORROW: "Tomorrow 09:00",
}
SNOOZED = "💤 *Snoozed* until {until} by {actor}: reminders about {title} start again then."
MARKED_DONE = "☑️ *Marked done* by {actor}: {title} is closed and its reminders stopped."
TEXT_SNOOZED = "Snoozed until {until_text}{actor_text}: {title}"
TEXT_DONE = "Marked done{actor_text}: {title}"
YOU = "you"
CONTEXT_LINE = "Call ID `{call_id}` · handoff `{handoff_id}`"
TEXT_MAX = 300


def _customer(card: HandoffCard) -> str:
    customer = card.handoff.customer
    name = (customer.name or customer.account_id) if customer else None
    return name or UNKNOWN_CALLER


def _title(card: HandoffCard, permalink: str | None) -> str:
    label = f"{WORKFLOW_LABELS[card.workflow]} · {truncate(_customer(card), 120)}"
    if permalink and permalink.startswith("https://") and len(permalink) <= URL_MAX:
        return link(permalink, label)
    return f"*{escape(label)}*"


def _plain_title(card: HandoffCard) -> str:
    return f"{WORKFLOW_LABELS[card.workflow]} · {truncate(_customer(card), 120)}"


def _how_late(card: HandoffCard, now: datetime) -> tuple[bool, str]:
    """(late?, "2 h") measured against the promised deadline."""
    if card.deadline is None:  # only a snooze brought it back: no deadline to be late for
        return True, NO_DEADLINE
    if card.deadline > now:
        return False, humanize_duration(card.deadline - now)
    return True, humanize_duration(now - card.deadline)


def _promise(card: HandoffCard) -> JSON:
    follow_up = card.handoff.follow_up
    step = follow_up.next_step if follow_up and follow_up.next_step else None
    customer = clip_mrkdwn(_customer(card), 500)[0]
    amount = card_amount(card)
    fields = [
        f"*{PROMISED_TO}*\n{customer}" + (f" · {amount}" if amount else ""),
        f"*{NEXT_STEP}*\n"
        + (clip_mrkdwn(step, FIELD_TEXT_MAX - 100)[0] if step else escape(NO_NEXT_STEP)),
        f"*{OWNER_FIELD}*\n{owner_ref(card)}",
    ]
    if card.deadline is not None:
        fields.insert(2, f"*{DEADLINE}*\n{slack_date(card.deadline)}")
    return section(fields=fields)


def _actions(card: HandoffCard, permalink: str | None) -> JSON:
    value = encode_button_value(card.handoff_id)
    options = [
        {
            "text": plain(label, OPTION_TEXT_MAX),
            "value": encode_snooze_value(card.handoff_id, choice),
        }
        for choice, label in SNOOZE_CHOICES.items()
    ]
    elements = [
        {**mark_done_button(value), "style": "primary"},
        {
            "type": "static_select",
            "action_id": ActionId.SNOOZE.value,
            "placeholder": plain(SNOOZE, PLACEHOLDER_MAX),
            "options": options,
        },
        button(REASSIGN, ActionId.REASSIGN, value=value),
    ]
    if permalink and permalink.startswith("https://") and len(permalink) <= URL_MAX:
        elements.append(button(OPEN_HANDOFF, link_action_id("handoff"), url=permalink))
    return {"type": "actions", "block_id": BlockId.DECISIONS.value, "elements": elements}


def _ids(card: HandoffCard) -> JSON:
    return context(
        CONTEXT_LINE.format(call_id=escape(card.call_id), handoff_id=escape(card.handoff_id))
    )


def _text(card: HandoffCard, template: str, **values: str) -> str:
    """The notification fallback (Slack reads it as mrkdwn, so callers' words are escaped)."""
    prefix = SANDBOX_PREFIX if card.sandbox else ""
    return clip_mrkdwn(prefix + template.format(title=_plain_title(card), **values), TEXT_MAX)[0]


def nudge_message(
    card: HandoffCard,
    kind: NudgeKind,
    *,
    now: datetime,
    permalink: str | None,
    mention: str | None = None,
) -> JSON:
    """One reminder: what was promised to whom, how late, and Mark done / Snooze / Reassign."""
    late, when = _how_late(card, now)
    title = _title(card, permalink)
    owner = owner_ref(card)
    if kind is NudgeKind.HEADS_UP and not late:
        line, text = HEADS_UP.format(when=when, title=title), TEXT_HEADS_UP
    elif kind is NudgeKind.LEAD:
        line, text = LEAD.format(owner=owner, when=when, title=title), TEXT_LATE
    elif kind is NudgeKind.CHANNEL:
        line, text = CHANNEL.format(owner=owner, when=when, title=title), TEXT_LATE
    else:
        line, text = OWNER.format(when=when, title=title), TEXT_LATE
    if mention:
        line = f"{who(mention)} {line}"
    return {
        "text": _text(card, text, when=when),
        "blocks": [section(line), _promise(card), _actions(card, permalink), _ids(card)],
    }


def owner_missing_message(card: HandoffCard, *, now: datetime, permalink: str | None) -> JSON:
    """Posted in the handoff's channel when the owner cannot be found in Slack."""
    late, when = _how_late(card, now)
    state = (STATE_LATE if late else STATE_DUE).format(when=when)
    raw_owner = card.owner or NO_OWNER
    owner = clip_mrkdwn(raw_owner, OWNER_MAX)[0] if card.owner else NO_OWNER
    line = MISSING.format(owner=owner, state=state, title=_title(card, permalink))
    text = _text(card, TEXT_MISSING, owner=truncate(raw_owner, 80), state=state)
    blocks = [section(line), _promise(card), _actions(card, permalink), _ids(card)]
    return {"text": text, "blocks": blocks}


def nudge_acted(
    card: HandoffCard,
    *,
    actor: str | None,
    permalink: str | None,
    snoozed_until: datetime | None = None,
) -> JSON:
    """A reminder updated in place once acted on: snoozed until when / marked done, by whom.

    ``actor`` None means the reader did it ("by you", for the owner's own DM); the buttons go.
    """
    actor_ref = who(actor) if actor else YOU
    # The fallback is escaped text, where a mention cannot render: "by you" or no name.
    actor_text = f" by {YOU}" if actor is None else ""
    title = _title(card, permalink)
    if snoozed_until is not None:
        line = SNOOZED.format(until=slack_date(snoozed_until), actor=actor_ref, title=title)
        text = _text(
            card,
            TEXT_SNOOZED,
            until_text=f"{snoozed_until:%Y-%m-%d %H:%M} UTC",
            actor_text=actor_text,
        )
    else:
        line = MARKED_DONE.format(actor=actor_ref, title=title)
        text = _text(card, TEXT_DONE, actor_text=actor_text)
    return {"text": text, "blocks": [section(line), _promise(card), _ids(card)]}


def for_away_approver(message: JSON, approver: str) -> JSON:
    """A reminder meant for ``approver``, sent to their delegate while they are away: it says
    whose it is at the top."""
    note = context(FOR_AWAY.format(approver=who(approver)))
    return {"text": FOR_AWAY_TEXT + str(message["text"]), "blocks": [note, *message["blocks"]]}
