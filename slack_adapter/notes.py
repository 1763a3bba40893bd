"""Thread notes: each one posted once, whatever fails between the click and Slack's answer.

Every note carries a key in its message metadata (``NOTE_EVENT``), derived from what it reports:
the event key when the caller has one, else the handoff and the note's own content (who did what,
when). Before posting, a note's work is queued in the outbox (claimed by this process for one
lease), so a crash or a Slack error leaves it to the worker. The worker's try always reads the
thread first (``conversations.replies``) and posts only when no note with that key is there: a
5xx after Slack has posted, or a crash after posting but before the work was marked done, cannot
repeat a note, and a crash before posting cannot lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from blocks.audit import thread_note
from blocks.common import slack_date
from services.db.engine import Database
from services.events import EventType, OutboxKind
from services.handoffs import HandoffService
from services.notes import NoteSpec
from services.outbox import ClaimedItem, Outbox
from services.telemetry import NO_TELEMETRY, THREAD_NOTE, Telemetry
from services.worker import backoff
from slack_adapter.history import find_posted
from slack_adapter.pacing import Pacers, retry_after

__all__ = ["NOTE_EVENT", "ThreadNotes", "content_key", "render_note"]

logger = logging.getLogger(__name__)

NOTE_EVENT = "finance_handoff_note"
JSON = dict[str, Any]


def content_key(handoff_id: str, note: JSON) -> str:
    """A note's key from what it says (its text and blocks carry the actor, action and time)."""
    body = json.dumps([note.get("text"), note.get("blocks")], sort_keys=True, default=str)
    return f"note:{handoff_id}:{hashlib.sha256(body.encode()).hexdigest()[:32]}"


SNOOZED_UNTIL = "{date_short_pretty} at {time}"  # how a snooze note shows its end


def render_note(spec: NoteSpec) -> JSON:
    """The Block Kit note of an event's ``NoteSpec`` (``services.notes.note_for``)."""
    detail = spec.detail
    if spec.action == EventType.SNOOZED.value and detail:
        with contextlib.suppress(ValueError):  # not a time: shown as written
            detail = slack_date(datetime.fromisoformat(detail), SNOOZED_UNTIL)
    return thread_note(spec.action, spec.actor, spec.at, detail=detail)


def _note_of(payload: dict[str, Any]) -> JSON:
    """The note an outbox item carries: an event's spec, or blocks built by its caller."""
    spec = payload.get("spec")
    if isinstance(spec, dict):
        return render_note(NoteSpec.from_payload(spec))
    return {"text": payload["text"], "blocks": payload["blocks"]}


def _metadata(key: str) -> JSON:
    return {"event_type": NOTE_EVENT, "event_payload": {"key": key}}


class ThreadNotes:
    """Posts keyed notes in handoff threads; the outbox handler of ``OutboxKind.THREAD_NOTE``."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        handoffs: HandoffService,
        *,
        slack: AsyncWebClient,
        poster: AsyncWebClient,
        clock: Callable[[], datetime],
        pacers: Pacers | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._db = db
        self._telemetry = telemetry  # counts Slack's 429s (GET /metrics)
        # The channels' shared pace: a note is a post in the handoff's channel like any other.
        self._pacers = pacers
        self._outbox = outbox
        self._handoffs = handoffs
        self._slack = slack  # reads threads (Slack's retrying client)
        self._poster = poster  # posts without automatic retries: a 5xx may have posted
        self._clock = clock

    async def post_once(
        self, channel: str, thread_ts: str, note: JSON, key: str, *, look_first: bool
    ) -> bool:
        """Post one keyed note now (the caller retries on False); ``look_first`` reads the
        thread first and posts nothing when the note is already there."""
        if look_first and await self.posted(channel, thread_ts, key):
            return True
        pacer = self._pacers(channel) if self._pacers is not None else None
        if pacer is not None:
            await asyncio.sleep(pacer.reserve())
        try:
            await self._poster.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=note["text"],
                blocks=note["blocks"],
                metadata=_metadata(key),
            )
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                self._telemetry.slack_rate_limited(THREAD_NOTE)
            if pacer is not None and exc.response.status_code == 429:
                # Nothing was posted: the channel slows down and the note's work retries.
                pacer.rate_limited(retry_after(exc.response.headers))
                logger.warning("Slack rate-limited a thread note in %s", channel)
                return False
            logger.exception("could not post a thread note", extra={"key": key})
            return False
        return True

    async def add(
        self, handoff_id: str, channel: str, thread_ts: str, note: JSON, key: str | None = None
    ) -> bool:
        """Post ``note`` once: queued first, posted now, and left to the worker if that fails.

        Returns True once the note is posted or safely queued.
        """
        key = key or content_key(handoff_id, note)
        item_id = await self.queue(handoff_id, note, key)
        if item_id is None:
            return True  # the same note is queued already: its work posts it
        try:
            posted = await self.post_once(channel, thread_ts, note, key, look_first=False)
        except Exception:  # a dropped connection, a timeout: it may or may not have posted
            logger.exception("could not post a thread note", extra={"key": key})
            posted = False
        if posted:
            await self._outbox.complete(item_id)
        else:
            await self._outbox.retry_later(item_id, "thread note not posted yet", backoff(1))
            self._outbox.kick()
        return True

    async def deliver(self, item: ClaimedItem) -> None:
        """The worker's try: post the note unless an earlier try did."""
        assert item.handoff_id is not None
        card = await self._handoffs.card(item.handoff_id)
        if card is None:
            await self._outbox.give_up(item.id, "the handoff is gone")
            return
        if not card.message_ts:
            # A decision taken before the post was recorded: its note waits for the thread
            # (the post flushes it as soon as it is recorded).
            raise RuntimeError("the handoff is not posted yet")  # retried with backoff
        key = str(item.payload["key"])
        note = _note_of(item.payload)
        if not await self.post_once(card.channel, card.message_ts, note, key, look_first=True):
            raise RuntimeError("Slack refused the thread note")  # retried with backoff
        await self._outbox.complete(item.id)

    async def flush(self, handoff_id: str, channel: str, thread_ts: str) -> None:
        """Post the handoff's queued notes now (those of the decision just taken), in order.

        Each was queued with its event; one another process holds is left to it, and one that
        fails is left to the worker, which reads the thread before trying again.
        """
        items = await self._outbox.claim(50, kind=OutboxKind.THREAD_NOTE, handoff_id=handoff_id)
        for item in items:
            key = str(item.payload["key"])
            try:
                note = _note_of(item.payload)
                posted = await self.post_once(
                    channel, thread_ts, note, key, look_first=item.attempts > 1
                )
            except Exception:  # a dropped connection, a timeout: it may or may not have posted
                logger.exception("could not post a thread note", extra={"key": key})
                posted = False
            if posted:
                await self._outbox.complete(item.id)
            else:
                await self._outbox.retry_later(
                    item.id, "thread note not posted yet", backoff(item.attempts)
                )
                self._outbox.kick()

    async def posted(self, channel: str, thread_ts: str, key: str) -> bool:
        """Is the note with ``key`` in the thread already?"""
        found = await find_posted(
            self._slack,
            channel,
            event_type=NOTE_EVENT,
            key=key,
            now=self._clock(),
            thread_ts=thread_ts,
        )
        return found is not None

    async def queue(self, handoff_id: str, note: JSON, key: str) -> int | None:
        """Queue the note's work, claimed by this process for one lease (``add`` posts it
        next); its id, or None if the same note is queued already."""
        now = self._clock()
        try:
            async with self._db.sessions() as session, session.begin():
                item = Outbox.enqueue(
                    session,
                    kind=OutboxKind.THREAD_NOTE,
                    key=key,
                    handoff_id=handoff_id,
                    now=now,
                    payload={"key": key, "text": note["text"], "blocks": note.get("blocks")},
                )
                item.locked_until = now + self._outbox.lease
                await session.flush()
                item_id: int = item.id
        except IntegrityError:
            return None
        return item_id
