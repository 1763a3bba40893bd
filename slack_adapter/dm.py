"""Sends queued reminders (outbox kind "nudge"): a DM to the owner or the lead, or a channel reply.

The outbox runs an item at least once; before sending again, a retry looks for the message an
interrupted try may already have sent (its metadata carries the nudge's key), so each reminder
reaches its person once. A nudge whose ladder was restarted (snooze, reassign) or whose handoff
closed after the claim is dropped unsent (``services.nudges`` decides).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.common import JSON
from blocks.info import info_nudge
from blocks.nudge import for_away_approver, nudge_message, owner_missing_message
from services.cards import HandoffCard
from services.handoffs import HandoffService
from services.info_requests import InfoRequest
from services.nudges import NudgeRecords
from services.outbox import ClaimedItem, Outbox
from services.posts import PostRecords
from services.reminders import NudgeKind
from services.routing import RoutingConfig
from slack_adapter.directory import SlackDirectory
from slack_adapter.history import find_posted
from slack_adapter.messages import HandoffMessages, permalink

__all__ = ["NUDGE_EVENT", "NudgeSender", "StandIn"]

# Who gets an away approver's reminders now (``services.delegation``): their delegate, or None.
StandIn = Callable[[str], Awaitable[str | None]]

logger = logging.getLogger(__name__)

NUDGE_EVENT = "finance_nudge"
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
# DM errors that no retry will fix: the reminder goes to the channel instead.
UNREACHABLE = frozenset(
    {"user_not_found", "users_not_found", "cannot_dm_bot", "user_disabled", "account_inactive"}
)


class NudgeSender:
    """The outbox handler for reminders."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        handoffs: HandoffService,
        records: NudgeRecords,
        posts: PostRecords,
        messages: HandoffMessages,
        slack: AsyncWebClient,
        directory: SlackDirectory,
        routing: Callable[[], RoutingConfig],
        clock: Callable[[], datetime],
        stand_in: StandIn | None = None,
    ) -> None:
        self.outbox = outbox
        self.handoffs = handoffs
        self.records = records
        self.posts = posts
        self.messages = messages
        self.slack = slack
        self.directory = directory
        self.routing = routing
        self.clock = clock
        self.stand_in = stand_in

    async def deliver(self, item: ClaimedItem) -> None:
        """Send one claimed reminder step, record it in the audit log, refresh the message."""
        assert item.handoff_id is not None
        if "info_request" in item.payload:
            await self._deliver_info(item)
            return
        kind = NudgeKind(item.payload["kind"])
        key = str(item.payload["key"])
        retry = item.attempts > 1
        card = await self.handoffs.card(item.handoff_id)
        if card is None or card.closed or await self.records.stale(item.handoff_id, item.payload):
            await self.outbox.complete(item.id)
            return
        if retry and await self.records.recorded(item.handoff_id, key):
            await self.outbox.complete(item.id)
            return
        now = self.clock()
        link = await permalink(self.slack, card.channel, card.message_ts)
        sent_to = await self._send(card, kind, key, now=now, permalink=link, retry=retry)
        await self.records.record(card.handoff_id, item.payload, sent_to, now)
        await self.outbox.complete(item.id)
        if kind is not NudgeKind.HEADS_UP:  # the channel message now says "Overdue by ..."
            await self.messages.refresh(card.handoff_id)

    async def _deliver_info(self, item: ClaimedItem) -> None:
        """One reminder step about an unanswered question: the person asked, then the lead,
        then the thread; dropped unsent once it was answered or its handoff was decided."""
        assert item.handoff_id is not None
        kind = NudgeKind(item.payload["kind"])
        key = str(item.payload["key"])
        retry = item.attempts > 1
        card = await self.handoffs.card(item.handoff_id)
        request = await self.records.info_request(item.payload)
        if card is None or not card.decidable or request is None:
            await self.outbox.complete(item.id)
            return
        if retry and await self.records.recorded(item.handoff_id, key):
            await self.outbox.complete(item.id)
            return
        now = self.clock()
        link = await permalink(self.slack, card.channel, card.message_ts)
        sent_to = await self._send_info(card, request, kind, key, now=now, link=link, retry=retry)
        await self.records.record(card.handoff_id, item.payload, sent_to, now)
        await self.outbox.complete(item.id)

    async def _send_info(
        self,
        card: HandoffCard,
        request: InfoRequest,
        kind: NudgeKind,
        key: str,
        *,
        now: datetime,
        link: str | None,
        retry: bool,
    ) -> str:
        if kind is NudgeKind.LEAD:
            lead = self.routing().mentions.finance_lead
            message = info_nudge(card, request, kind, now=now, permalink=link)
            if lead and SLACK_USER.match(lead) and await self._dm(lead, card, message, key, retry):
                return lead
            message = info_nudge(card, request, kind, now=now, permalink=link, mention=lead)
            return await self._to_channel(card, message, key, retry=retry, broadcast=False)
        if kind is not NudgeKind.CHANNEL:
            message = info_nudge(card, request, kind, now=now, permalink=link)
            if await self._dm(request.asked_to, card, message, key, retry):
                return request.asked_to
        message = info_nudge(card, request, NudgeKind.CHANNEL, now=now, permalink=link)
        return await self._to_channel(card, message, key, retry=retry, broadcast=False)

    async def _send(
        self,
        card: HandoffCard,
        kind: NudgeKind,
        key: str,
        *,
        now: datetime,
        permalink: str | None,
        retry: bool,
    ) -> str:
        """Deliver the step; return who heard it (a user id or "channel")."""
        if kind is NudgeKind.CHANNEL:
            message = nudge_message(card, kind, now=now, permalink=permalink)
            return await self._to_channel(card, message, key, retry=retry, broadcast=True)
        if kind is NudgeKind.LEAD:
            lead = self.routing().mentions.finance_lead
            message = nudge_message(card, kind, now=now, permalink=permalink)
            if lead and SLACK_USER.match(lead):
                to, message = await self._recipient(lead, message)
                if await self._dm(to, card, message, key, retry):
                    return to
            # No lead to DM (unset, or a user group): say it in the thread, mentioning them.
            message = nudge_message(card, kind, now=now, permalink=permalink, mention=lead)
            return await self._to_channel(card, message, key, retry=retry, broadcast=False)
        owner = await self._owner_id(card)
        if owner is not None:
            message = nudge_message(card, kind, now=now, permalink=permalink)
            to, message = await self._recipient(owner, message)
            if await self._dm(to, card, message, key, retry):
                return to
        missing = owner_missing_message(card, now=now, permalink=permalink)
        return await self._to_channel(card, missing, key, retry=retry, broadcast=False)

    async def _recipient(self, user: str, message: JSON) -> tuple[str, JSON]:
        """``user``, or their delegate while they are away (checked now, at sending)."""
        if self.stand_in is None:
            return user, message
        delegate = await self.stand_in(user)
        if delegate is None or delegate == user:
            return user, message
        return delegate, for_away_approver(message, user)

    async def _owner_id(self, card: HandoffCard) -> str | None:
        if card.owner_slack_id:
            return card.owner_slack_id
        owner = (card.owner or "").strip()
        if "@" not in owner:
            return None
        user_id = await self.directory.user_for_email(owner)
        if user_id:
            await self.posts.set_owner_user(card.handoff_id, user_id)
        return user_id

    def _metadata(self, card: HandoffCard, key: str) -> JSON:
        return {
            "event_type": NUDGE_EVENT,
            "event_payload": {"handoff_id": card.handoff_id, "key": key},
        }

    async def _dm(self, user: str, card: HandoffCard, message: JSON, key: str, retry: bool) -> bool:
        """DM ``user``; False when Slack says they cannot be reached."""
        try:
            opened = await self.slack.conversations_open(users=user)
            channel = str(opened["channel"]["id"])
            if retry and await self._found(channel, None, key):
                return True
            await self.slack.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata=self._metadata(card, key),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            if exc.response.get("error") in UNREACHABLE:
                logger.warning("cannot DM a reminder", extra={"user": user, "key": key})
                return False
            raise
        return True

    async def _to_channel(
        self, card: HandoffCard, message: JSON, key: str, *, retry: bool, broadcast: bool
    ) -> str:
        """A reply in the handoff's thread (or a channel post when it is not posted yet)."""
        thread = card.message_ts
        if retry and await self._found(card.channel, thread, key):
            return "channel"
        await self.slack.chat_postMessage(
            channel=card.channel,
            thread_ts=thread,
            reply_broadcast=bool(thread) and broadcast,
            text=message["text"],
            blocks=message["blocks"],
            metadata=self._metadata(card, key),
            unfurl_links=False,
            unfurl_media=False,
        )
        return "channel"

    async def _found(self, channel: str, thread_ts: str | None, key: str) -> bool:
        """Did an interrupted earlier try already post this nudge?"""
        found = await find_posted(
            self.slack,
            channel,
            event_type=NUDGE_EVENT,
            key=key,
            now=self.clock(),
            thread_ts=thread_ts,
        )
        return found is not None
