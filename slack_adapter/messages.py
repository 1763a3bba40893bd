"""A handoff's channel message kept up to date in place, its thread notes, and permalinks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.handoff import handoff_message
from services.cards import HandoffCard
from services.handoffs import HandoffService
from slack_adapter.notes import ThreadNotes

__all__ = ["HandoffMessages", "permalink"]

logger = logging.getLogger(__name__)


async def permalink(slack: AsyncWebClient, channel: str, ts: str | None) -> str | None:
    """The message's permalink, or None when there is no message or Slack will not say."""
    if not ts:
        return None
    try:
        response = await slack.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        logger.warning("no permalink for a message", extra={"channel": channel})
        return None
    link = response.get("permalink")
    return str(link) if link else None


class CopySync(Protocol):
    """Brings the copies of a handoff's message elsewhere (approvers' DMs) in step with it."""

    async def sync(self, card: HandoffCard) -> None: ...


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0


class HandoffMessages:
    """Updates handoff messages and adds keyed thread notes under them."""

    def __init__(
        self,
        handoffs: HandoffService,
        slack: AsyncWebClient,
        notes: ThreadNotes,
        *,
        clock: Callable[[], datetime],
        copies: CopySync | None = None,
    ) -> None:
        self._handoffs = handoffs
        self._slack = slack
        self.notes = notes
        self._clock = clock
        self.copies = copies  # the DM copies of each message (slack_adapter.approver_dms)
        # One read-and-update of a message at a time, so an update drawn from an older read can
        # never land after (and over) one drawn from a newer read.
        self._updating: dict[str, _Turn] = {}

    @contextlib.asynccontextmanager
    async def _one_update_at_a_time(self, handoff_id: str) -> AsyncIterator[None]:
        turn = self._updating.setdefault(handoff_id, _Turn())
        turn.holders += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.holders -= 1
            if not turn.holders:
                del self._updating[handoff_id]

    async def refresh(
        self,
        handoff_id: str,
        *,
        note: dict[str, Any] | None = None,
        note_key: str | None = None,
        unless_noted: bool = False,
        flush_notes: bool = True,
    ) -> bool:
        """Bring the channel message (and its DM copies) up to date and add a thread note.

        ``flush_notes=False`` leaves the notes queued with their events to the outbox worker
        (a caller that must answer quickly, such as Plisio's callback, does not wait for the
        thread's posting pace).

        Every note carries a key (``note_key``, else one derived from the note's content). A note
        without ``note_key`` is posted once by ``ThreadNotes.add`` (queued, posted, retried by the
        worker). With ``note_key`` the caller's own outbox work retries it: the note is posted
        now (after reading the thread when ``unless_noted``), and False means it was not. The
        message update is best effort either way.
        """
        async with self._one_update_at_a_time(handoff_id):
            card = await self._handoffs.card(handoff_id)
            if card is None or not card.message_ts:
                return True
            await self._update(handoff_id, card, card.message_ts)
            if self.copies is not None:
                await self.copies.sync(card)
        # The notes of what was just decided were queued with their events: post them now.
        if flush_notes:
            await self.notes.flush(handoff_id, card.channel, card.message_ts)
        if note is None:
            return True
        if note_key is None:
            return await self.notes.add(handoff_id, card.channel, card.message_ts, note)
        return await self.notes.post_once(
            card.channel, card.message_ts, note, note_key, look_first=unless_noted
        )

    async def _update(self, handoff_id: str, card: HandoffCard, ts: str) -> None:
        message = handoff_message(card, now=self._clock())
        try:
            await self._slack.chat_update(
                channel=card.channel,
                ts=ts,
                text=message["text"],
                blocks=message["blocks"],
            )
        except SlackApiError:
            logger.exception(
                "could not update the handoff message", extra={"handoff_id": handoff_id}
            )

    async def permalink(self, channel: str, ts: str | None) -> str | None:
        return await permalink(self._slack, channel, ts)
