"""The Slack side of the low-priority digest (outbox kind ``digest``).

``services.digest`` says which handoffs a digest holds and releases them; this posts the digest
message (once: a retry looks for it by its key first), then, once the released handoffs are
posted in its thread, rewrites it with a link on every line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from blocks.digest import digest_message
from services.digest import LINK_TRIES, LINK_WAIT, DigestService
from services.outbox import ClaimedItem, Outbox
from slack_adapter.history import find_posted
from slack_adapter.messages import permalink

__all__ = ["DIGEST_EVENT", "DigestPoster"]

logger = logging.getLogger(__name__)

DIGEST_EVENT = "finance_digest"


class DigestPoster:
    """The outbox handler that posts digests."""

    def __init__(
        self,
        digest: DigestService,
        outbox: Outbox,
        slack: AsyncWebClient,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.digest = digest
        self.outbox = outbox
        self.slack = slack
        self.clock = clock

    async def deliver(self, item: ClaimedItem) -> None:
        """Post the digest and release its handoffs into the thread; later, link the lines."""
        if "parent_ts" in item.payload:
            await self._link(item)
            return
        channel = str(item.payload["channel"])
        held = await self.digest.held(channel)
        cards = await self.digest.cards([h for _, h in held])
        if not cards:
            await self.outbox.complete(item.id)
            return
        slot = datetime.fromisoformat(str(item.payload["slot"]))
        found = None
        if item.attempts > 1:  # an interrupted try may have posted the digest already
            found = await find_posted(
                self.slack,
                channel,
                event_type=DIGEST_EVENT,
                key=str(item.payload["key"]),
                now=self.clock(),
            )
        if found is None:
            message = digest_message(cards, slot=slot, links={})
            response = await self.slack.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata={
                    "event_type": DIGEST_EVENT,
                    "event_payload": {"key": item.payload["key"]},
                },
                unfurl_links=False,
            )
            found = (str(response["channel"]), str(response["ts"]))
        parent_channel, parent_ts = found
        await self.digest.release(item, held, parent_channel=parent_channel, parent_ts=parent_ts)
        await self.outbox.retry_later(item.id, "waiting for the handoff posts", LINK_WAIT)

    async def _link(self, item: ClaimedItem) -> None:
        cards = await self.digest.cards([str(h) for h in item.payload.get("handoffs", [])])
        if any(not c.message_ts for c in cards) and item.attempts < LINK_TRIES:
            await self.outbox.retry_later(item.id, "waiting for the handoff posts", LINK_WAIT)
            return
        links: dict[str, str] = {}
        for card in cards:
            link = await permalink(self.slack, card.channel, card.message_ts)
            if link:
                links[card.handoff_id] = link
        slot = datetime.fromisoformat(str(item.payload["slot"]))
        message = digest_message(cards, slot=slot, links=links)
        await self.slack.chat_update(
            channel=str(item.payload["parent_channel"]),
            ts=str(item.payload["parent_ts"]),
            text=message["text"],
            blocks=message["blocks"],
        )
        await self.outbox.complete(item.id)
