"""What a typed intent does: look-ups, and snooze / assign / done on the thread's handoff.

Slack-free. Every change goes through ``services.permissions.decide`` and ``HandoffService``
exactly as the buttons do; money-moving intents (approve, decline, create an invoice) never act
here: the handler answers them with the buttons or the form, so confirmations and the
two-person rule still apply. A human reply in a handoff's thread is stored as a suppressed note
(``EventType.NOTE_ADDED``), which the subscribed connectors receive like any other event.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import and_, func, select

from services.cards import HandoffCard
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow
from services.events import EventType
from services.handoffs import DecisionResult
from services.home import HomeItem
from services.home import _item as home_item
from services.intents import Intent, Kind
from services.permissions import Action, Actor, Denial, HandoffFacts, decide, may_own
from services.redaction import redact_text
from services.states import CLOSED
from services.when import parse_when

__all__ = [
    "Acted",
    "ActedHow",
    "Conversation",
    "ConversationQueries",
    "NoteSaved",
    "TypedDecisions",
]

CUSTOMER_SCAN = 500  # newest handoffs searched for a customer's name
NOTE_MAX = 3000
ACTIONS = {Kind.SNOOZE: Action.SNOOZE, Kind.ASSIGN: Action.REASSIGN, Kind.DONE: Action.MARK_DONE}
_OWNER_WORDS = re.compile(
    r"<@[UW][A-Z0-9]+|\b(?:i'll|i’ll|i will|we'll|we’ll|we will|owner|owns|owned|assigned)\b", re.I
)
_DATE_WORDS = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}|\d{4}-\d{2}-\d{2}|jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|"
    r"nov|dec|january|february|march|april|june|july|august|september|october|november|"
    r"december|eow|eom|end of (?:week|month))\b",
    re.I,
)


class TypedDecisions(Protocol):
    """The decisions typing can make (``services.handoffs.HandoffService``)."""

    async def card(self, handoff_id: str) -> HandoffCard | None: ...

    async def snooze(self, handoff_id: str, user_id: str, until: datetime) -> DecisionResult: ...

    async def reassign(self, handoff_id: str, user_id: str, new_owner: str) -> DecisionResult: ...

    async def mark_done(
        self, handoff_id: str, user_id: str, *, is_approver: bool = False
    ) -> DecisionResult: ...

    async def record(
        self, handoff_id: str | None, actor: str, action: str, detail: dict[str, Any]
    ) -> None: ...


class ConversationQueries:
    """The reads a conversation needs that the Home tab does not."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def handoff_for_thread(self, channel: str, thread_ts: str) -> str | None:
        """The handoff whose message starts this thread (channel + the message's ts)."""
        async with self._db.sessions() as session:
            found = await session.scalar(
                select(HandoffRow.id).where(
                    HandoffRow.channel == channel, HandoffRow.message_ts == thread_ts
                )
            )
            return None if found is None else str(found)

    async def for_customer(self, name: str, *, limit: int = 10) -> list[HomeItem]:
        """The newest handoffs whose customer name contains ``name`` (case-insensitive)."""
        wanted = name.casefold()
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(HandoffRow).order_by(HandoffRow.created_at.desc()).limit(CUSTOMER_SCAN)
            )
            items = [home_item(row) for row in rows]
        return [i for i in items if i.customer and wanted in i.customer.casefold()][:limit]

    async def overdue(
        self, user_id: str, *, now: datetime, limit: int = 20
    ) -> tuple[list[HomeItem], int]:
        """``user_id``'s open handoffs past their deadline, oldest deadline first, and a count."""
        condition = and_(
            HandoffRow.owner_slack_id == user_id,
            HandoffRow.status.notin_([s.value for s in CLOSED]),
            HandoffRow.deadline < now,
        )
        async with self._db.sessions() as session:
            total = await session.scalar(
                select(func.count()).select_from(HandoffRow).where(condition)
            )
            rows = await session.scalars(
                select(HandoffRow).where(condition).order_by(HandoffRow.deadline).limit(limit)
            )
            return [home_item(row) for row in rows], int(total or 0)

    async def prompted(self, handoff_id: str) -> bool:
        """Whether the bot already asked for an owner and a date in this handoff's thread."""
        async with self._db.sessions() as session:
            details = await session.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.handoff_id == handoff_id,
                    AuditEntry.action == EventType.NOTE_ADDED.value,
                )
            )
            return any(isinstance(d, dict) and d.get("prompted") for d in details)


class ActedHow(StrEnum):
    DONE = "done"  # the decision was made (``result`` says how)
    FAILED = "failed"  # the service refused it (``result`` says why)
    REFUSED = "refused"  # the permission policy said no (``denial``)
    NOT_FOUND = "not_found"
    NEEDS_TIME = "needs_time"  # "snooze" without a time
    NEEDS_PERSON = "needs_person"  # "assign" without an @mention


@dataclass(frozen=True, slots=True)
class Acted:
    how: ActedHow
    action: Action
    result: DecisionResult | None = None
    denial: Denial | None = None
    card: HandoffCard | None = None


@dataclass(frozen=True, slots=True)
class NoteSaved:
    removed: frozenset[str]  # the suppressed categories (card_number, bank_details, ...)
    prompt: bool  # ask, once per handoff, for an owner and a date


def _facts(card: HandoffCard) -> HandoffFacts:
    return HandoffFacts(owner_slack_id=card.owner_slack_id, requested_by=card.requested_by)


class Conversation:
    """Carries out typed intents on a handoff, under the same policy as the buttons."""

    def __init__(
        self,
        handoffs: TypedDecisions,
        queries: ConversationQueries,
        *,
        actor: Callable[[str], Awaitable[Actor]],
    ) -> None:
        self.handoffs = handoffs
        self.queries = queries
        self._actor = actor

    async def act(self, intent: Intent, handoff_id: str, user_id: str) -> Acted:
        """Snooze, assign or mark done ``handoff_id`` as ``user_id`` asked in ``intent``."""
        action = ACTIONS[intent.kind]
        if intent.kind is Kind.SNOOZE and intent.until is None:
            return Acted(ActedHow.NEEDS_TIME, action)
        if intent.kind is Kind.ASSIGN and intent.user is None:
            return Acted(ActedHow.NEEDS_PERSON, action)
        card = await self.handoffs.card(handoff_id)
        if card is None:
            return Acted(ActedHow.NOT_FOUND, action)
        actor = await self._actor(user_id)
        permission = decide(action, actor, _facts(card))
        if permission.allowed and intent.kind is Kind.ASSIGN:
            assert intent.user is not None
            permission = may_own(await self._actor(intent.user))
        if not permission.allowed:
            assert permission.reason is not None
            await self.handoffs.record(
                handoff_id,
                user_id,
                EventType.REFUSED,
                {"action": action.value, "reason": permission.reason.value, "typed": True},
            )
            return Acted(ActedHow.REFUSED, action, denial=permission.reason, card=card)
        if intent.kind is Kind.SNOOZE:
            assert intent.until is not None
            result = await self.handoffs.snooze(handoff_id, user_id, intent.until)
        elif intent.kind is Kind.ASSIGN:
            assert intent.user is not None
            result = await self.handoffs.reassign(handoff_id, user_id, intent.user)
        else:
            result = await self.handoffs.mark_done(
                handoff_id, user_id, is_approver=actor.can_approve
            )
        how = ActedHow.DONE if result.ok else ActedHow.FAILED
        return Acted(how, action, result=result, card=result.card or card)

    async def add_note(
        self, handoff_id: str, user_id: str, text: str, *, now: datetime
    ) -> NoteSaved:
        """Store a thread reply as the handoff's note, suppressed; say whether to prompt."""
        redacted = redact_text(text[:NOTE_MAX])
        removed = frozenset(str(c) for c in redacted.found)
        kept = redacted.text
        complete = bool(_OWNER_WORDS.search(kept)) and (
            parse_when(kept, now=now) is not None or bool(_DATE_WORDS.search(kept))
        )
        prompt = not complete and not await self.queries.prompted(handoff_id)
        detail: dict[str, Any] = {"note": redacted.text}
        if removed:
            detail["removed"] = sorted(removed)
        if prompt:
            detail["prompted"] = True
        await self.handoffs.record(handoff_id, user_id, EventType.NOTE_ADDED, detail)
        return NoteSaved(removed=removed, prompt=prompt)
