"""An optional language model behind the parser, off by default.

``understand`` is what the listeners call: the deterministic parser (``services.intents.parse``)
first, and only when it found nothing *and* an operator configured an ``IntentModel`` is the
text offered to the model, suppressed first (``services.redaction``), so no card number, bank
detail or tax id ever leaves. The model can only choose among the parser's intents; what an
intent may do is unchanged (money-moving intents still never act from text). Thread notes are
never sent to a model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from services.intents import Intent, Kind, parse
from services.redaction import redact_text

__all__ = ["DELEGATION", "IntentModel", "understand"]

DELEGATION = frozenset({Kind.AWAY, Kind.BACK})  # only ever from the deterministic parser

logger = logging.getLogger(__name__)


class IntentModel(Protocol):
    """Maps free text onto an intent, or None when it cannot tell."""

    async def intent(self, text: str, *, now: datetime, tz: str | None) -> Intent | None: ...


async def understand(
    text: str,
    *,
    now: datetime,
    tz: str | None = None,
    bot_user: str | None = None,
    reply: bool = False,
    model: IntentModel | None = None,
) -> Intent:
    """The parser's intent; the model's only for text the parser did not understand."""
    parsed = parse(text, now=now, tz=tz, bot_user=bot_user, reply=reply)
    if model is None or parsed.kind is not Kind.UNKNOWN:
        return parsed
    safe = redact_text(parsed.text).text
    try:
        guessed = await model.intent(safe, now=now, tz=tz)
    except Exception:
        logger.exception("the intent model failed; answering with help")
        return parsed
    # Handing someone your approvals is said in words the parser reads, never guessed.
    if guessed is None or guessed.kind in {Kind.NOTE, Kind.UNKNOWN, *DELEGATION}:
        return parsed
    return replace(guessed, text=parsed.text)
