"""Sends queued reminders (outbox kind "nudge"): a DM to the owner or the lead, or a channel reply.

The outbox runs an item at least once; before sending again, a retry looks for the message an
interrupted try may already have sent (its metadata carries the nudge's key), so each reminder
reaches its person once. A nudge whose ladder was restarted (snooze, reassign) or whose handoff
closed after the claim is dropped unsent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from blocks.common import JSON
from blocks.nudge import nudge_message, owner_missing_message
from services.cards import HandoffCard
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow
from services.delivery import Delivery
from services.directory import SlackDirectory
from services.handoffs import HandoffService
from services.outbox import ClaimedItem, Outbox
from services.reminders import NudgeKind, base_time
from services.routing import RoutingConfig
from services.slack_history import find_posted

__all__ = ["NUDGE_EVENT", "NudgeSender"]

logger = logging.getLogger(__name__)

NUDGE_EVENT = "finance_nudge"
AUDIT_ACTION = "nudge_sent"
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
# DM errors that no retry will fix: the reminder goes to the channel instead.
UNREACHABLE = frozenset(
    {"user_not_found", "users_not_found", "cannot_dm_bot", "user_disabled", "account_inactive"}
)


@dataclass
class NudgeSender:
    """The outbox handler for reminders."""

    db: Database
    outbox: Outbox
    handoffs: HandoffService
    delivery: Delivery
    slack: AsyncWebClient
    directory: SlackDirectory
    routing: Callable[[], RoutingConfig]
    clock: Callable[[], datetime]

    async def deliver(self, item: ClaimedItem) -> None:
        """Send one claimed reminder step, record it in the audit log, refresh the message."""
        assert item.handoff_id is not None
        kind = NudgeKind(item.payload["kind"])
        key = str(item.payload["key"])
        retry = item.attempts > 1
        card = await self.handoffs.card(item.handoff_id)
        if card is None or card.closed or await self._stale(item.handoff_id, item.payload):
            await self.outbox.complete(item.id)
            return
        if retry and await self._recorded(item.handoff_id, key):
            await self.outbox.complete(item.id)
            return
        now = self.clock()
        permalink = await self._permalink(card)
        sent_to = await self._send(card, kind, key, now=now, permalink=permalink, retry=retry)
        await self._record(card.handoff_id, item.payload, sent_to, now)
        await self.outbox.complete(item.id)
        if kind is not NudgeKind.HEADS_UP:  # the channel message now says "Overdue by ..."
            await self.delivery.refresh(card.handoff_id)

    async def _stale(self, handoff_id: str, payload: dict[str, Any]) -> bool:
        async with self.db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
        if row is None:
            return True
        base = base_time(row.deadline, row.snoozed_until)
        restarted = base is None or base != datetime.fromisoformat(str(payload["base"]))
        rewound = row.reminder_step <= int(payload["step"])
        owner_changed = payload.get("owner") not in {row.owner_slack_id, row.owner}
        return restarted or rewound or owner_changed

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
            if lead and SLACK_USER.match(lead) and await self._dm(lead, card, message, key, retry):
                return lead
            # No lead to DM (unset, or a user group): say it in the thread, mentioning them.
            message = nudge_message(card, kind, now=now, permalink=permalink, mention=lead)
            return await self._to_channel(card, message, key, retry=retry, broadcast=False)
        owner = await self._owner_id(card)
        if owner is not None:
            message = nudge_message(card, kind, now=now, permalink=permalink)
            if await self._dm(owner, card, message, key, retry):
                return owner
        missing = owner_missing_message(card, now=now, permalink=permalink)
        return await self._to_channel(card, missing, key, retry=retry, broadcast=False)

    async def _owner_id(self, card: HandoffCard) -> str | None:
        if card.owner_slack_id:
            return card.owner_slack_id
        owner = (card.owner or "").strip()
        if "@" not in owner:
            return None
        user_id = await self.directory.user_for_email(owner)
        if user_id:
            async with self.db.sessions() as session, session.begin():
                await session.execute(
                    update(HandoffRow)
                    .where(HandoffRow.id == card.handoff_id, HandoffRow.owner_slack_id.is_(None))
                    .values(owner_slack_id=user_id)
                )
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

    async def _permalink(self, card: HandoffCard) -> str | None:
        if not card.message_ts:
            return None
        try:
            response = await self.slack.chat_getPermalink(
                channel=card.channel, message_ts=card.message_ts
            )
        except SlackApiError:
            logger.warning("no permalink for a reminder", extra={"handoff_id": card.handoff_id})
            return None
        permalink = response.get("permalink")
        return str(permalink) if permalink else None

    async def _recorded(self, handoff_id: str, key: str) -> bool:
        async with self.db.sessions() as session:
            details = await session.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.handoff_id == handoff_id, AuditEntry.action == AUDIT_ACTION
                )
            )
            return any((d or {}).get("key") == key for d in details)

    async def _record(
        self, handoff_id: str, payload: dict[str, Any], sent_to: str, now: datetime
    ) -> None:
        detail = {
            "step": payload["step"],
            "kind": payload["kind"],
            "notified": sent_to,
            "due_at": payload.get("due_at"),
            "key": payload["key"],
        }
        async with self.db.sessions() as session, session.begin():
            session.add(
                AuditEntry(
                    handoff_id=handoff_id, at=now, actor="bot", action=AUDIT_ACTION, detail=detail
                )
            )
