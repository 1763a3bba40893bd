"""The private confirmation of an /invoice new request: sent now, linked once it is posted.

The request's post happens in the outbox (just kicked); a background task waits for it and edits
the DM to link it, so the form's listener still answers Slack within 3 s when Bolt processes
before responding. ``stop_follow_ups`` cancels the waiting ones at shut-down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.request import request_confirmation
from services.cards import HandoffCard
from services.requests import InvoiceRequest

__all__ = ["POST_WAIT", "CardsByCall", "confirm_request", "stop_follow_ups"]

logger = logging.getLogger(__name__)

POST_WAIT = 30.0  # seconds a confirmation waits for its post before leaving the link out
_FOLLOW_UPS: set[asyncio.Task[None]] = set()  # confirmations waiting to add their link


class CardsByCall(Protocol):
    """Finds a handoff's card by its call (or request) ID."""

    async def card_by_call(self, call_id: str) -> HandoffCard | None: ...


async def confirm_request(
    client: AsyncWebClient,
    requests: CardsByCall,
    user: str,
    checked: InvoiceRequest,
    request_id: str,
    duplicate: bool,
) -> None:
    """DM the requester now (sent; where it will appear), then add the link once it is posted.

    The post happens in the outbox, just kicked; a background task waits for it (up to
    ``POST_WAIT``) and edits the DM to link it. If the post takes longer, the first DM stays true.
    """
    card = await requests.card_by_call(request_id)
    details: dict[str, Any] = {
        "amount": checked.amount,
        "currency": checked.currency,
        "email": checked.email,
        "request_id": request_id,
        "about_call": checked.call_id,
        "duplicate": duplicate,
    }
    try:
        opened = await client.conversations_open(users=user)
        dm = opened["channel"]["id"]
        first = request_confirmation(channel=card.channel if card else None, **details)
        sent = await client.chat_postMessage(channel=dm, **first)
    except SlackApiError:
        logger.warning("could not confirm an invoice request to its requester")
        return
    # The link follows in the background: this listener must answer Slack within 3 s even when
    # Bolt processes before responding.
    task = asyncio.create_task(_link_when_posted(client, requests, dm, str(sent["ts"]), details))
    _FOLLOW_UPS.add(task)
    task.add_done_callback(_FOLLOW_UPS.discard)


async def _link_when_posted(
    client: AsyncWebClient, requests: CardsByCall, dm: str, ts: str, details: dict[str, Any]
) -> None:
    """Edit the confirmation to link the request once its message is in Slack."""
    posted = await _wait_for_post(requests, str(details["request_id"]))
    if posted is None or posted.message_ts is None:
        return
    try:
        found = await client.chat_getPermalink(channel=posted.channel, message_ts=posted.message_ts)
        permalink = found.get("permalink")
        if not permalink:
            return
        linked = request_confirmation(channel=posted.channel, permalink=str(permalink), **details)
        await client.chat_update(channel=dm, ts=ts, **linked)
    except SlackApiError:
        logger.warning("could not link an invoice request to its requester")


async def stop_follow_ups() -> None:
    """Cancel the confirmations still waiting for their post (at shut-down)."""
    mine = [t for t in _FOLLOW_UPS if t.get_loop() is asyncio.get_running_loop()]
    for task in mine:
        task.cancel()
    await asyncio.gather(*mine, return_exceptions=True)


async def _wait_for_post(requests: CardsByCall, request_id: str) -> HandoffCard | None:
    """The request's card once its message is in Slack, or None after ``POST_WAIT`` seconds."""
    waited, pause = 0.0, 0.1
    while waited < POST_WAIT:
        try:
            card = await requests.card_by_call(request_id)
        except Exception:  # shutting down, or the database is away: the first DM stands
            logger.debug("stopped waiting for a request's post", exc_info=True)
            return None
        if card is not None and card.message_ts:
            return card
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, 1.0)
    return None
