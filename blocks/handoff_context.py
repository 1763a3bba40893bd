"""What the connected systems said about a handoff, as a compact section per system.

Each connector stores what it learned or wrote on the handoff under its own name
(``HandoffCard.context``). A system with its own renderer (``RENDERERS``) draws its lines from
that; any other is drawn from the generic shape every connector may use::

    {"url": "https://…", "label": "ticket #123", "lines": ["…", "…"], "error": "…"}

Sections come in ``ORDER`` (payment and account context first, then the systems of record), each
at most ``LINES_MAX`` lines and one section block, so seven systems stay within Slack's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blocks.common import JSON, SECTION_TEXT_MAX, button, clip_mrkdwn, escape, link, section
from blocks.context_section import ContextSection, Renderer
from blocks.context_stripe import stripe_section
from blocks.ids import ActionId, BlockId, encode_button_value
from services.cards import HandoffCard
from services.systems import system_name

__all__ = [
    "LINES_MAX",
    "ORDER",
    "RENDERERS",
    "ContextSection",
    "context_blocks",
    "context_texts",
    "generic_section",
    "refresh_block",
]

ORDER = (
    "stripe",
    "hubspot",
    "zendesk",
    "quickbooks",
    "google_drive",
    "gmail",
    "google_sheets",
)
LINES_MAX = 4
LINE_MAX = 300
URL_MAX = 1000


def _url(value: object) -> str | None:
    if (
        isinstance(value, str)
        and value.startswith(("https://", "http://"))
        and len(value) <= URL_MAX
    ):
        return value
    return None


def generic_section(system: str, ctx: Mapping[str, Any]) -> ContextSection | None:
    """A section from the generic shape (url, label, lines, error); None when it says nothing."""
    # Vendor text is outside input: escaped and made inert, like a caller's words.
    lines = [
        clip_mrkdwn(str(line), LINE_MAX, inert=True)[0]
        for line in ctx.get("lines") or ()
        if str(line).strip()
    ]
    error = ctx.get("error")
    if error:
        lines.insert(0, "⚠️ " + clip_mrkdwn(str(error), LINE_MAX, inert=True)[0])
    url = _url(ctx.get("url"))
    label = ctx.get("label")
    if not lines and url is None and not label:
        return None
    return ContextSection(
        title=system_name(system),
        lines=tuple(lines),
        url=url,
        url_label=str(label) if label else None,
    )


# Systems with their own renderer register here (connector name -> renderer).
RENDERERS: dict[str, Renderer] = {
    "stripe": stripe_section,
}


def _register() -> None:
    from blocks.context_hubspot import hubspot_section

    RENDERERS["hubspot"] = hubspot_section


_register()


def _section_text(section_: ContextSection) -> str:
    head = f"*{escape(section_.title)}*"
    if section_.url:
        head += " · " + link(section_.url, section_.url_label or f"Open in {section_.title}")
    elif section_.url_label:
        head += " · " + clip_mrkdwn(section_.url_label, LINE_MAX, inert=True)[0]
    text = head
    for line in section_.lines[:LINES_MAX]:  # whole lines only: a cut could split a link
        if len(text) + 1 + len(line) > SECTION_TEXT_MAX:
            break
        text += "\n" + line
    return text


def context_texts(context: Mapping[str, Any]) -> list[str]:
    """Each system's section as mrkdwn (title line, then its lines), in ``ORDER`` (then any
    other, by name): the message, ``/handoff`` and the Home tab draw the same sections."""
    names = [n for n in ORDER if n in context]
    names += sorted(n for n in context if n not in ORDER)
    texts: list[str] = []
    for name in names:
        ctx = context.get(name)
        if not isinstance(ctx, Mapping):
            continue
        renderer = RENDERERS.get(name)
        drawn = renderer(ctx) if renderer is not None else None
        if drawn is None:  # no renderer, or not its shape: the generic shape still shows
            drawn = generic_section(name, ctx)
        if drawn is not None:
            texts.append(_section_text(drawn))
    return texts


def context_blocks(card: HandoffCard) -> list[JSON]:
    """One section block per system that said something (see ``context_texts``)."""
    return [section(text) for text in context_texts(card.context)]


REFRESH = "Refresh context"


def refresh_block(card: HandoffCard) -> JSON | None:
    """A *Refresh context* button when a connected system's lookup failed (finance members
    only: the click goes through the permission policy); None otherwise."""
    failed = any(isinstance(c, Mapping) and c.get("error") for c in card.context.values())
    if not failed:
        return None
    value = encode_button_value(card.handoff_id)
    return {
        "type": "actions",
        "block_id": BlockId.CONTEXT_REFRESH.value,
        "elements": [button(REFRESH, ActionId.REFRESH_CONTEXT, value=value)],
    }
