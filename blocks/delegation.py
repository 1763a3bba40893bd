"""Away and back: the Home tab's panel, the away modal, and the answers about a delegation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from blocks.common import (
    JSON,
    LABEL_MAX,
    MODAL_TEXT_MAX,
    PLACEHOLDER_MAX,
    button,
    context,
    plain,
    section,
    who,
)
from blocks.ids import ActionId, BlockId, CallbackId, InputId
from services.delegation import Away, UntilProblem

__all__ = [
    "AWAY_TIMES",
    "AWAY_VALUE",
    "BACK_VALUE",
    "away_modal",
    "away_panel",
    "away_problem_message",
    "away_set_message",
    "back_message",
    "delegate_told_message",
    "local_time",
]

AWAY_TITLE, AWAY_SUBMIT, CANCEL = "I'm away", "Save", "Cancel"
AWAY_INTRO = (
    "While you are away, the person you choose may approve and decline what you could, and "
    "your reminders go to them. It ends by itself at the time you set, or when you say you are "
    "back."
)
DATE_LABEL, TIME_LABEL = "Away until (day)", "Until (time, your time zone)"
DELEGATE_LABEL, DELEGATE_PLACEHOLDER = "Who approves for you", "Choose someone in finance"
AWAY_TIMES = tuple(f"{hour:02d}:00" for hour in range(7, 23))
DEFAULT_TIME = "18:00"

PANEL_TITLE = "*Away and delegation*"
PANEL_HOME = "You are here: approvals and reminders come to you."
PANEL_AWAY = "🏖️ You are away until {until}: {delegate} approves for you and gets your reminders."
PANEL_COVERING = "🤝 You approve for {approver} (away) until {until}."
AWAY_BUTTON, BACK_BUTTON = "I'm away", "I'm back"
# The buttons' values: a click carrying anything else was not made on this Home tab.
AWAY_VALUE, BACK_VALUE = "away", "back"

SET = "🏖️ {delegate} approves for you until {until}. Your reminders go to them meanwhile."
SET_REPLACED = " (This replaces your earlier delegation to {previous}.)"
SET_HOW_TO_END = "Say “I'm back” here, or use the Home tab, to end it early."
BACK = "👋 Welcome back: approvals and reminders come to you again."
BACK_NOT_AWAY = "You were not away: approvals and reminders already come to you."
TOLD = (
    "🤝 {approver} is away until {until}: you approve for them meanwhile, and their reminders "
    "come to you. Approvals you make say you approved for them."
)
HOW_TO = "Say it like “I'm away until Friday, delegate to @ben” (or use the Home tab)."
PROBLEMS = {
    "no_delegate": "Who approves for you while you are away? " + HOW_TO,
    "no_until": "Until when are you away? " + HOW_TO,
    UntilProblem.PAST.value: "That time has already passed. " + HOW_TO,
    UntilProblem.TOO_FAR.value: (
        "That is more than 90 days away; for longer, reassign the work instead. " + HOW_TO
    ),
}


def local_time(at: datetime, tz: str | None) -> str:
    """ "Fri 4 Dec 18:00" in ``tz`` (UTC when unknown)."""
    try:
        zone = ZoneInfo(tz or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def away_modal(default_day: date) -> JSON:
    """The Home tab's "I'm away" modal: the day, the time, and the delegate."""
    options = [{"text": plain(t, 75), "value": t} for t in AWAY_TIMES]
    initial = next(o for o in options if o["value"] == DEFAULT_TIME)
    return {
        "type": "modal",
        "callback_id": CallbackId.AWAY_MODAL.value,
        "title": plain(AWAY_TITLE, MODAL_TEXT_MAX),
        "submit": plain(AWAY_SUBMIT, MODAL_TEXT_MAX),
        "close": plain(CANCEL, MODAL_TEXT_MAX),
        "blocks": [
            section(AWAY_INTRO),
            {
                "type": "input",
                "block_id": BlockId.AWAY_DATE.value,
                "label": plain(DATE_LABEL, LABEL_MAX),
                "element": {
                    "type": "datepicker",
                    "action_id": InputId.AWAY_DATE.value,
                    "initial_date": default_day.isoformat(),
                },
            },
            {
                "type": "input",
                "block_id": BlockId.AWAY_TIME.value,
                "label": plain(TIME_LABEL, LABEL_MAX),
                "element": {
                    "type": "static_select",
                    "action_id": InputId.AWAY_TIME.value,
                    "options": options,
                    "initial_option": initial,
                },
            },
            {
                "type": "input",
                "block_id": BlockId.AWAY_DELEGATE.value,
                "label": plain(DELEGATE_LABEL, LABEL_MAX),
                "element": {
                    "type": "users_select",
                    "action_id": InputId.AWAY_DELEGATE.value,
                    "placeholder": plain(DELEGATE_PLACEHOLDER, PLACEHOLDER_MAX),
                },
            },
        ],
    }


def away_panel(
    *, approver: bool, away: Away | None, covering: Sequence[Away], tz: str | None
) -> list[JSON]:
    """The Home tab's part about absences: an approver's away / back button, and whom the
    person approves for now. Empty for someone who is neither."""
    lines: list[str] = []
    element: JSON | None = None
    if approver:
        if away is None:
            lines.append(PANEL_HOME)
            element = button(AWAY_BUTTON, ActionId.AWAY.value, value=AWAY_VALUE)
        else:
            until = local_time(away.until, tz)
            lines.append(PANEL_AWAY.format(until=until, delegate=who(away.delegate)))
            element = button(BACK_BUTTON, ActionId.BACK.value, value=BACK_VALUE, style="primary")
    for other in covering:
        until = local_time(other.until, tz)
        lines.append(PANEL_COVERING.format(approver=who(other.approver), until=until))
    if not lines:
        return []
    text = "\n".join([PANEL_TITLE, *lines])
    block = section(text)
    if element is not None:
        block["accessory"] = element
    return [{"type": "divider"}, block]


def away_set_message(away: Away, tz: str | None, *, replaced: Away | None = None) -> JSON:
    """The answer to setting a delegation: who approves for you, until when (your time)."""
    text = SET.format(delegate=who(away.delegate), until=local_time(away.until, tz))
    if replaced is not None and replaced.delegate != away.delegate:
        text += SET_REPLACED.format(previous=who(replaced.delegate))
    return {"text": text, "blocks": [section(text), context(SET_HOW_TO_END)]}


def back_message(ended: Away | None) -> JSON:
    text = BACK if ended is not None else BACK_NOT_AWAY
    return {"text": text, "blocks": [section(text)]}


def away_problem_message(problem: str) -> JSON:
    """Why an "I'm away" could not be set (no delegate, no time, a time passed ...)."""
    text = PROBLEMS.get(problem, HOW_TO)
    return {"text": text, "blocks": [section(text)]}


def delegate_told_message(away: Away, tz: str | None) -> JSON:
    """The DM a delegate gets: whom they approve for, until when (their time)."""
    text = TOLD.format(approver=who(away.approver), until=local_time(away.until, tz))
    return {"text": text, "blocks": [section(text)]}
