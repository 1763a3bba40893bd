"""Small shared pieces of the Block Kit builders: escaping, truncation, dates, money, limits.

Everything here is pure. ``validate_blocks`` / ``validate_view`` run the payload through
slack_sdk's models plus the checks those models skip (block count, duplicate ids), so tests and
handlers can refuse a payload before Slack does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from services.handoff_model import Customer, FollowUp, field_limit

__all__ = [
    "BUTTON_TEXT_MAX",
    "CONFIRM_BUTTON_MAX",
    "CONFIRM_TEXT_MAX",
    "CONFIRM_TITLE_MAX",
    "CONTEXT_ELEMENTS_MAX",
    "DATE_FORMAT",
    "ELLIPSIS",
    "EMAIL_MAX",
    "ESCALATION_REASON_MAX",
    "FIELDS_MAX",
    "FIELD_TEXT_MAX",
    "HEADER_MAX",
    "JSON",
    "LABEL_MAX",
    "MESSAGE_BLOCKS_MAX",
    "MODAL_TEXT_MAX",
    "NAME_MAX",
    "NEXT_STEP_MAX",
    "OPTION_TEXT_MAX",
    "OWNER_MAX",
    "PLACEHOLDER_MAX",
    "SECTION_TEXT_MAX",
    "URL_MAX",
    "button",
    "clip_mrkdwn",
    "context",
    "escape",
    "fallback_time",
    "format_money",
    "humanize_duration",
    "inert",
    "link",
    "mrkdwn",
    "plain",
    "section",
    "slack_date",
    "truncate",
    "validate_blocks",
    "validate_view",
    "who",
]

JSON = dict[str, Any]

# Slack's own Block Kit limits (not the handoff's: those come from services.handoff_model).
MESSAGE_BLOCKS_MAX = 50
SECTION_TEXT_MAX = 3000
FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
CONTEXT_ELEMENTS_MAX = 10
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
OPTION_TEXT_MAX = 75
PLACEHOLDER_MAX = 150
LABEL_MAX = 2000  # an input block's label and hint, and a modal's inline error
MODAL_TEXT_MAX = 24
URL_MAX = 3000

# The handoff's own length limits, read from the model (the contract), never restated here.
NAME_MAX = field_limit(Customer, "name")
EMAIL_MAX = field_limit(Customer, "email")
OWNER_MAX = field_limit(FollowUp, "finance_owner")
NEXT_STEP_MAX = field_limit(FollowUp, "next_step")
ESCALATION_REASON_MAX = field_limit(FollowUp, "escalation_reason")

ELLIPSIS = "…"
DATE_FORMAT = "{date_short_pretty} at {time}"
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_SLACK_GROUP = re.compile(r"S[A-Z0-9]{2,}")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


# Slack's mrkdwn has no escape for its formatting marks. A date token whose format names no
# date part is shown as its fallback text, and Slack never formats a fallback: so each mark in
# caller text becomes a token whose fallback is that same mark. It reads and copies as the mark
# itself. (The technique jsx-slack's <Escape> uses.)
_FORMATTING_MARKS = frozenset("*_~`")
_INERT_MARK = "<!date^00000000^{{_}}|{mark}>"
# A soft hyphen (invisible) in front of a line's first ">" stops it from opening a quote.
_SOFT_HYPHEN = "\u00ad"


def escape(text: str) -> str:
    """Escape user text for mrkdwn so it cannot form mentions, links or date tokens."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _inside_word(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isalnum() and text[index + 1].isalnum()


def _pieces(text: str, *, inert: bool) -> list[str]:
    """What each character of ``text`` becomes in mrkdwn (escaped, and inert if asked)."""
    pieces = [_ESCAPES.get(ch, ch) for ch in text]
    if not inert:
        return pieces
    for index, ch in enumerate(text):
        # An underscore inside a word (ACC_2217, ap_team@example.com) never italicises.
        if ch in _FORMATTING_MARKS and not (ch == "_" and _inside_word(text, index)):
            pieces[index] = _INERT_MARK.format(mark=ch)
        elif ch == ">" and (index == 0 or text[index - 1] == "\n"):
            pieces[index] = _SOFT_HYPHEN + pieces[index]
    return pieces


def inert(text: str) -> str:
    """Caller text for mrkdwn with its formatting made inert: ``*Approved*`` shows as typed,
    never bold, and cannot form mentions, links or date tokens either."""
    return "".join(_pieces(text, inert=True))


def truncate(text: str, limit: int) -> str:
    """Cut plain text to ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 0 else ""


def clip_mrkdwn(text: str, limit: int, *, inert: bool = False) -> tuple[str, bool]:
    """Escape ``text`` (``inert``: also neutralise its formatting, for caller text) and fit it
    in ``limit`` chars without splitting an entity or a token; say if cut."""
    pieces = _pieces(text, inert=inert)
    escaped = "".join(pieces)
    if len(escaped) <= limit:
        return escaped, False
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept).rstrip() + ELLIPSIS, True


def who(actor: str) -> str:
    """A mention for a Slack user or user-group id; anything else escaped as plain text."""
    if _SLACK_USER.fullmatch(actor):
        return f"<@{actor}>"
    if _SLACK_GROUP.fullmatch(actor):
        return f"<!subteam^{actor}>"
    return escape(actor)


def link(url: str, label: str) -> str:
    """A mrkdwn link; the label is escaped and the URL cannot break out of the link syntax."""
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{safe}|{escape(label)}>"


def fallback_time(at: datetime) -> str:
    """The text Slack shows when it cannot render a date token, e.g. ``2026-11-26 17:00 UTC``."""
    return _aware(at).strftime("%Y-%m-%d %H:%M UTC")


def slack_date(at: datetime, fmt: str = DATE_FORMAT) -> str:
    """A date token that each reader sees in their own time zone."""
    return f"<!date^{int(_aware(at).timestamp())}^{fmt}|{fallback_time(at)}>"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("datetimes given to builders must be time zone aware")
    return at.astimezone(UTC)


def format_money(amount: Decimal, currency: str) -> str:
    """Money with thousands separators and every significant decimal, e.g. ``18,500.00 EUR``."""
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{amount:,.{places}f} {currency}"


def humanize_duration(delta: timedelta) -> str:
    """Minutes under an hour, hours under two days, else days: ``45 min``, ``2 h``, ``3 days``."""
    minutes = max(int(delta.total_seconds() // 60), 1)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def plain(text: str, limit: int) -> JSON:
    """A plain_text object, truncated to ``limit``."""
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str) -> JSON:
    """A mrkdwn text object (the caller has escaped and sized the text)."""
    return {"type": "mrkdwn", "text": text}


def section(text: str | None = None, *, fields: Sequence[str] = ()) -> JSON:
    """A section block from already-escaped mrkdwn text and/or fields."""
    block: JSON = {"type": "section"}
    if text is not None:
        block["text"] = mrkdwn(text)
    if fields:
        block["fields"] = [mrkdwn(f) for f in fields[:FIELDS_MAX]]
    return block


def context(*elements: str) -> JSON:
    """A context block of mrkdwn elements (at most ten kept)."""
    return {"type": "context", "elements": [mrkdwn(e) for e in elements[:CONTEXT_ELEMENTS_MAX]]}


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
    confirm: JSON | None = None,
) -> JSON:
    """A button element; text is truncated to Slack's 75 characters."""
    element: JSON = {"type": "button", "action_id": action_id, "text": plain(text, BUTTON_TEXT_MAX)}
    if value is not None:
        element["value"] = value
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def _ids(node: Any, key: str) -> Iterator[str]:
    if isinstance(node, dict):
        for name, child in node.items():
            if name == key and isinstance(child, str):
                yield child
            else:
                yield from _ids(child, key)
    elif isinstance(node, list):
        for child in node:
            yield from _ids(child, key)


def _duplicates(values: Iterator[str]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for value in values:
        if value in seen and value not in dupes:
            dupes.append(value)
        seen.add(value)
    return dupes


def validate_blocks(blocks: Sequence[JSON], *, max_blocks: int = MESSAGE_BLOCKS_MAX) -> None:
    """Raise ValueError when Slack would refuse these message blocks."""
    if len(blocks) > max_blocks:
        raise ValueError(f"{len(blocks)} blocks; Slack allows at most {max_blocks}")
    for key in ("block_id", "action_id"):
        dupes = _duplicates(_ids(list(blocks), key))
        if dupes:
            raise ValueError(f"duplicate {key}: {', '.join(dupes)}")
    for index, raw in enumerate(blocks):
        try:
            parsed = Block.parse(dict(raw))
            if parsed is None:
                raise ValueError(f"block {index} has an unknown type {raw.get('type')!r}")
            parsed.to_dict()
        except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"block {index} ({raw.get('type')}): {exc}") from exc


def validate_view(view: JSON) -> None:
    """Raise ValueError when Slack would refuse this modal view."""
    validate_blocks(view.get("blocks", []), max_blocks=100)
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"view: {exc}") from exc
