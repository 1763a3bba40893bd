"""Finding a message an interrupted earlier try already posted, by the metadata it carries."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["HISTORY_LOOKBACK", "find_posted"]

logger = logging.getLogger(__name__)

HISTORY_LOOKBACK = timedelta(hours=6)


async def find_posted(
    slack: AsyncWebClient,
    channel: str,
    *,
    event_type: str,
    key: str,
    now: datetime,
    thread_ts: str | None = None,
    field: str = "key",
) -> tuple[str, str] | None:
    """(channel, ts) of the message whose metadata is ``event_type`` with ``field`` = ``key``.

    Looks in the thread when ``thread_ts`` is given, else in the last six hours of the channel.
    A history that cannot be read counts as "not posted": the caller posts, which is the lesser
    harm than never posting.
    """
    try:
        if thread_ts:
            response = await slack.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
            )
        else:
            oldest = (now - HISTORY_LOOKBACK).timestamp()
            response = await slack.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
            )
    except SlackApiError:
        logger.warning("could not read history before posting again", extra={"key": key})
        return None
    for message in response.get("messages") or []:
        metadata = message.get("metadata") or {}
        if (
            metadata.get("event_type") == event_type
            and (metadata.get("event_payload") or {}).get(field) == key
        ):
            return str(response.get("channel") or channel), str(message["ts"])
    return None
