"""Request info: an approver asks the owner (or the requester) a question before deciding.

Slack-free. One open question per handoff (``info_requests.open_handoff_id`` is unique while it
waits). Asking and answering are each one transaction that locks the handoff row first, records
its event (``INFO_REQUESTED`` / ``INFO_ANSWERED``, each with its thread note) and, for the
answer, clears the question's reminders, so a double click or a thread reply racing the Answer
modal answers once. The question and the answer are suppressed before they are stored: card and
bank details never reach the table, the audit log, a note or a DM.

The answer's reminders use the follow-up ladder (``services.reminders``): ``due_at`` is
``[reminders] info_answer_within_hours`` after the question, and the reminder pass walks the
same steps from it (the person asked, then the lead, then the thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import HandoffRow, InfoRequestRow
from services.events import Event, EventLog, EventType
from services.redaction import redact_text
from services.routing import RoutingConfig
from services.states import DECIDABLE

__all__ = [
    "MAX_ANSWER",
    "MAX_QUESTION",
    "InfoOutcome",
    "InfoRequest",
    "InfoRequests",
    "InfoResult",
    "Suppressed",
    "first_reminder_at",
    "suppress",
]

MAX_QUESTION = 1000
MAX_ANSWER = 3000


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A person's words as stored: card and bank details removed, and which kinds went."""

    text: str
    removed: tuple[str, ...] = ()


def suppress(value: object, limit: int) -> Suppressed | None:
    """Trim and suppress what a person typed (None when nothing was typed), then keep at most
    ``limit`` characters: suppressed first, so a cut can never leave part of a number behind."""
    if not isinstance(value, str) or not value.strip():
        return None
    redacted = redact_text(value.strip())
    return Suppressed(redacted.text[:limit], tuple(sorted(str(c) for c in redacted.found)))


@dataclass(frozen=True, slots=True)
class InfoRequest:
    """One question and, once it came, its answer."""

    id: int
    handoff_id: str
    asked_by: str
    asked_to: str
    question: str
    asked_at: datetime
    due_at: datetime
    answered_at: datetime | None = None
    answer: str | None = None
    answer_by: str | None = None

    @property
    def open(self) -> bool:
        return self.answered_at is None

    @classmethod
    def from_row(cls, row: InfoRequestRow) -> InfoRequest:
        return cls(
            id=row.id,
            handoff_id=row.handoff_id,
            asked_by=row.asked_by,
            asked_to=row.asked_to,
            question=row.question,
            asked_at=row.asked_at,
            due_at=row.due_at,
            answered_at=row.answered_at,
            answer=row.answer,
            answer_by=row.answer_by,
        )


class InfoOutcome(StrEnum):
    ASKED = "asked"
    ANSWERED = "answered"
    NOT_FOUND = "not_found"
    CLOSED = "closed"  # the handoff no longer waits for a decision
    ALREADY_OPEN = "info_already_open"  # another question still waits for its answer
    NOT_OPEN = "info_not_open"  # nothing to answer (already answered)
    NOT_ASKED = "not_asked"  # the question was put to someone else


@dataclass(frozen=True, slots=True)
class InfoResult:
    outcome: InfoOutcome
    request: InfoRequest | None = None  # the question asked / answered / in the way

    @property
    def ok(self) -> bool:
        return self.outcome in {InfoOutcome.ASKED, InfoOutcome.ANSWERED}


def first_reminder_at(due_at: datetime, now: datetime, heads_up_minutes: int) -> datetime:
    """When the reminder pass first looks at a new question (the ladder decides the rest)."""
    return max(due_at - timedelta(minutes=heads_up_minutes), now)


class InfoRequests:
    """Asks and answers questions on handoffs, atomically."""

    def __init__(
        self,
        db: Database,
        routing: Callable[[], RoutingConfig],
        *,
        clock: Callable[[], datetime],
        events: EventLog | None = None,
    ) -> None:
        self._db = db
        self._routing = routing
        self._clock = clock
        self._events = events or EventLog()

    async def open_for(self, handoff_id: str) -> InfoRequest | None:
        """The handoff's question still waiting for its answer, if any."""
        async with self._db.reads() as session:
            row = await _open(session, handoff_id)
            return None if row is None else InfoRequest.from_row(row)

    async def latest(self, handoff_id: str) -> InfoRequest | None:
        """The handoff's newest question, answered or not."""
        async with self._db.reads() as session:
            row = await session.scalar(
                select(InfoRequestRow)
                .where(InfoRequestRow.handoff_id == handoff_id)
                .order_by(InfoRequestRow.id.desc())
                .limit(1)
            )
            return None if row is None else InfoRequest.from_row(row)

    async def ask(
        self, handoff_id: str, asked_by: str, asked_to: str, question: Suppressed
    ) -> InfoResult:
        """Put ``question`` to ``asked_to``; refused while another one waits or once decided."""
        now = self._clock()
        reminders = self._routing().reminders
        async with self._db.sessions() as session, session.begin():
            handoff = await _locked(session, handoff_id)
            if handoff is None:
                return InfoResult(InfoOutcome.NOT_FOUND)
            waiting = await _open(session, handoff_id)
            if waiting is not None:
                return InfoResult(InfoOutcome.ALREADY_OPEN, InfoRequest.from_row(waiting))
            if handoff.status not in DECIDABLE:
                return InfoResult(InfoOutcome.CLOSED)
            due = now + timedelta(hours=reminders.info_answer_within_hours)
            row = InfoRequestRow(
                handoff_id=handoff_id,
                open_handoff_id=handoff_id,
                asked_by=asked_by,
                asked_to=asked_to,
                question=question.text,
                asked_at=now,
                due_at=due,
                next_reminder_at=first_reminder_at(due, now, reminders.heads_up_before_minutes),
                reminder_step=0,
            )
            session.add(row)
            await session.flush()
            detail: dict[str, object] = {
                "info_request": row.id,
                "asked_to": asked_to,
                "question": question.text,
                "due_at": due.isoformat(),
            }
            if question.removed:
                detail["removed"] = list(question.removed)
            self._events.record(
                session, Event(EventType.INFO_REQUESTED, handoff_id, asked_by, now, detail)
            )
            return InfoResult(InfoOutcome.ASKED, InfoRequest.from_row(row))

    async def answer(
        self, handoff_id: str, user_id: str, answer: Suppressed, *, via: str
    ) -> InfoResult:
        """Record ``user_id``'s answer to the handoff's open question (``via``: "thread" or
        "modal"); the first answer wins, a second finds nothing open."""
        now = self._clock()
        async with self._db.sessions() as session, session.begin():
            handoff = await _locked(session, handoff_id)
            if handoff is None:
                return InfoResult(InfoOutcome.NOT_FOUND)
            row = await _open(session, handoff_id)
            if row is None:
                latest = await session.scalar(
                    select(InfoRequestRow)
                    .where(InfoRequestRow.handoff_id == handoff_id)
                    .order_by(InfoRequestRow.id.desc())
                    .limit(1)
                )
                found = None if latest is None else InfoRequest.from_row(latest)
                return InfoResult(InfoOutcome.NOT_OPEN, found)
            if row.asked_to != user_id:
                return InfoResult(InfoOutcome.NOT_ASKED, InfoRequest.from_row(row))
            row.answered_at = now
            row.answer = answer.text
            row.answer_by = user_id
            row.open_handoff_id = None
            row.next_reminder_at = None
            detail: dict[str, object] = {
                "info_request": row.id,
                "asked_by": row.asked_by,
                "answer": answer.text,
                "via": via,
            }
            if answer.removed:
                detail["removed"] = list(answer.removed)
            self._events.record(
                session, Event(EventType.INFO_ANSWERED, handoff_id, user_id, now, detail)
            )
            await session.flush()
            return InfoResult(InfoOutcome.ANSWERED, InfoRequest.from_row(row))


async def _locked(session: AsyncSession, handoff_id: str) -> HandoffRow | None:
    return await session.scalar(
        select(HandoffRow).where(HandoffRow.id == handoff_id).with_for_update()
    )


async def _open(session: AsyncSession, handoff_id: str) -> InfoRequestRow | None:
    return await session.scalar(
        select(InfoRequestRow).where(InfoRequestRow.open_handoff_id == handoff_id)
    )
