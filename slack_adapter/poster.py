"""Posts stored handoffs to their channels, exactly once (outbox kind ``post_handoff``).

Posts go out in each channel's pace (``ChannelPacer``) through a client without automatic
retries: a 429 is waited out here, and any other failure may have posted, so the outbox tries
again after looking for the message (its metadata carries the handoff's id). A channel that can
never take the post sends the handoff to the default channel instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.handoff import handoff_message
from services.cards import HandoffCard
from services.handoffs import HandoffService
from services.outbox import ClaimedItem, Outbox
from services.posts import PostRecords
from services.telemetry import NO_TELEMETRY, POST, Telemetry
from slack_adapter.directory import SlackDirectory
from slack_adapter.history import find_posted
from slack_adapter.messages import HandoffMessages
from slack_adapter.pacing import Pacers, RateLimited, retry_after
from slack_adapter.workspaces import TeamRoutedClient

__all__ = ["METADATA_EVENT", "RATE_LIMITED_TRIES", "UNPOSTABLE", "HandoffPoster", "no_retry_client"]

logger = logging.getLogger(__name__)

METADATA_EVENT = "finance_handoff"
# Slack errors that no retry will fix for that channel.
UNPOSTABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action"})
RATE_LIMITED_TRIES = 5  # 429s one post may meet before its outbox item backs off


def no_retry_client(slack: AsyncWebClient) -> AsyncWebClient:
    """``slack``'s twin that retries nothing (a retried 5xx could post twice)."""
    if isinstance(slack, TeamRoutedClient):  # several workspaces: keep choosing the token
        return slack.without_retries()
    return AsyncWebClient(
        token=slack.token, base_url=slack.base_url, timeout=slack.timeout, retry_handlers=[]
    )


class HandoffPoster:
    """The outbox handler that posts handoffs."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        handoffs: HandoffService,
        posts: PostRecords,
        slack: AsyncWebClient,
        poster: AsyncWebClient,
        directory: SlackDirectory,
        messages: HandoffMessages,
        pacers: Pacers,
        clock: Callable[[], datetime],
        fallback_channel: str | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.outbox = outbox
        self.telemetry = telemetry  # counts Slack's 429s (GET /metrics)
        self.handoffs = handoffs
        self.posts = posts
        self.slack = slack  # reads history (Slack's retrying client)
        self.poster = poster  # posts (no automatic retries)
        self.directory = directory
        self.messages = messages
        self.pacers = pacers
        self.clock = clock
        self.fallback_channel = fallback_channel  # where a handoff goes when its channel refuses

    async def post_handoff(self, item: ClaimedItem) -> None:
        """Post a stored handoff to its channel exactly once."""
        assert item.handoff_id is not None
        await self._resolve_owner(item.handoff_id)
        card = await self.handoffs.card(item.handoff_id)
        if card is None or card.message_ts:
            if card is not None and item.attempts > 1:
                # An earlier try recorded the post and may have died before bringing it up to date.
                await self.messages.refresh(card.handoff_id)
            await self.outbox.complete(item.id)
            return
        # A digest releases held posts into its thread (payload thread_ts).
        thread_ts = item.payload.get("thread_ts")
        found = await self._find_earlier_post(card, thread_ts) if item.attempts > 1 else None
        if found is not None:
            channel, ts = found
        else:
            message = handoff_message(card, now=self.clock())
            try:
                response = await self.paced_post(
                    card.channel,
                    thread_ts=thread_ts,
                    text=message["text"],
                    blocks=message["blocks"],
                    metadata={
                        "event_type": METADATA_EVENT,
                        "event_payload": {"handoff_id": card.handoff_id},
                    },
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error"))
                if error in UNPOSTABLE and await self._reroute(
                    card.handoff_id, card.channel, error
                ):
                    await self.outbox.retry_later(item.id, f"rerouted: {error}", timedelta(0))
                    return
                raise
            channel, ts = str(response["channel"]), str(response["ts"])
        await self.posts.record_post(card.handoff_id, channel, ts)
        # A click between the post and its recording (or, after a crash, before the post was
        # found again) had no message to refresh: show what it decided now.
        latest = await self.handoffs.card(card.handoff_id)
        if latest is not None and (
            found is not None or replace(latest, channel=card.channel, message_ts=None) != card
        ):
            await self.messages.refresh(card.handoff_id)
        await self.outbox.complete(item.id)

    async def paced_post(self, channel: str, **kwargs: Any) -> Any:
        """``chat.postMessage`` in the channel's pace; only a 429 (nothing posted) is retried."""
        pacer = self.pacers(channel)
        for _ in range(RATE_LIMITED_TRIES):
            await asyncio.sleep(pacer.reserve())
            try:
                return await self.poster.chat_postMessage(channel=channel, **kwargs)
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                self.telemetry.slack_rate_limited(POST)
                pacer.rate_limited(retry_after(exc.response.headers))
                logger.warning("Slack rate-limited posts to %s; now %.2f/s", channel, pacer.rate)
        raise RateLimited(f"{RATE_LIMITED_TRIES} answers of 429 from Slack for {channel}")

    async def _reroute(self, handoff_id: str, channel: str, error: str) -> bool:
        """Send a handoff whose channel cannot take it to the default channel instead."""
        fallback = self.fallback_channel
        if not fallback or fallback == channel:
            logger.error("cannot post handoff %s to %s: %s", handoff_id, channel, error)
            return False
        await self.posts.reroute(handoff_id, channel, fallback, error)
        logger.warning(
            "handoff %s rerouted from %s (%s) to %s", handoff_id, channel, error, fallback
        )
        return True

    async def _resolve_owner(self, handoff_id: str) -> None:
        owner = await self.posts.owner_to_resolve(handoff_id)
        if owner is None:
            return
        try:
            user_id = await self.directory.user_for_email(owner)
        except SlackApiError:
            logger.warning("could not resolve the owner's email", extra={"handoff_id": handoff_id})
            return
        if user_id:
            await self.posts.set_owner_user(handoff_id, user_id)

    async def _find_earlier_post(
        self, card: HandoffCard, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        """A message an interrupted earlier try may already have posted."""
        return await find_posted(
            self.slack,
            card.channel,
            event_type=METADATA_EVENT,
            key=card.handoff_id,
            field="handoff_id",
            now=self.clock(),
            thread_ts=thread_ts,
        )
