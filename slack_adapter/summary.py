"""Sends the weekly summary DM (outbox kind ``weekly_summary``; queued by services/summary.py).

The outbox runs an item at least once: a retry first looks in the DM for the summary an
interrupted try may already have sent (its metadata carries the item's key), so a lead hears each
week's numbers once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.metrics import weekly_summary_message
from services.metrics import MetricsQueries
from services.outbox import ClaimedItem, Outbox
from slack_adapter.dm import UNREACHABLE
from slack_adapter.history import find_posted

__all__ = ["SUMMARY_EVENT", "SummarySender"]

logger = logging.getLogger(__name__)

SUMMARY_EVENT = "finance_weekly_summary"


class SummarySender:
    """The outbox handler of the weekly summary."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        queries: MetricsQueries,
        slack: AsyncWebClient,
        clock: Callable[[], datetime],
    ) -> None:
        self._outbox = outbox
        self._queries = queries
        self._slack = slack
        self._clock = clock

    async def deliver(self, item: ClaimedItem) -> None:
        """DM one lead their week's numbers, unless an earlier try did."""
        user, key = str(item.payload["user"]), str(item.payload["key"])
        until = datetime.fromisoformat(str(item.payload["until"]))
        period = timedelta(days=int(item.payload.get("days") or 7))
        try:
            opened = await self._slack.conversations_open(users=user)
            channel = str(opened["channel"]["id"])
            if item.attempts > 1 and await find_posted(
                self._slack, channel, event_type=SUMMARY_EVENT, key=key, now=self._clock()
            ):
                await self._outbox.complete(item.id)
                return
            message = weekly_summary_message(await self._queries.report(until, period))
            await self._slack.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata={"event_type": SUMMARY_EVENT, "event_payload": {"key": key}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in UNREACHABLE:
                logger.warning("cannot DM the weekly summary", extra={"user": user, "key": key})
                await self._outbox.give_up(item.id, f"cannot DM {user}: {error}")
                return
            raise  # retried with backoff
        await self._outbox.complete(item.id)
