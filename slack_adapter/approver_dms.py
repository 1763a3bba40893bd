"""Sends approval requests to approvers' DMs (outbox kind "approver_dm") and keeps them in step.

One outbox item per event that makes a handoff wait for someone (``services.approver_dms``).
Its handler resolves who gets a copy when it runs (routing.toml, each person's Home-tab choice,
an active delegate) and posts each copy once: the copy's row is claimed first, and a retry that
finds a claimed row without a ts looks in that DM (by the copy's metadata key) before posting.
``DmCopies.sync`` updates every copy to the channel message's state (``HandoffMessages``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.approver_dm import APPROVER_DM_EVENT, approver_dm_message
from services.approver_dms import (
    ApproverDmRecords,
    ApproverPrefs,
    DmCopy,
    DmReason,
    dm_targets,
)
from services.cards import HandoffCard
from services.handoffs import HandoffService
from services.outbox import ClaimedItem, Outbox
from services.routing import RoutingConfig
from slack_adapter.history import find_posted

__all__ = ["ApproverDmSender", "Delegates", "DmCopies"]

logger = logging.getLogger(__name__)

# DM errors that no retry will fix: that person gets no copy (the channel message stays).
UNREACHABLE = frozenset(
    {"user_not_found", "users_not_found", "cannot_dm_bot", "user_disabled", "account_inactive"}
)

# Maps an approver to whoever acts for them now (delegation); None: nobody stands in.
Delegates = Callable[[str], Awaitable[str | None]]


class DmCopies:
    """Updates a handoff's DM copies to what its channel message shows (best effort)."""

    def __init__(
        self, records: ApproverDmRecords, slack: AsyncWebClient, *, clock: Callable[[], datetime]
    ) -> None:
        self.records = records
        self._slack = slack
        self._clock = clock

    async def sync(self, card: HandoffCard) -> None:
        """Every posted copy of ``card``'s handoff now matches the channel message.

        chat.update is a cheap (tier 3) call and a handoff has a few copies at most; the client
        waits out a 429 itself. A copy that cannot be updated is logged, never raised: the
        channel message is the record.
        """
        try:
            copies = await self.records.copies(card.handoff_id)
        except Exception:
            logger.exception("could not read the DM copies", extra={"handoff_id": card.handoff_id})
            return
        now = self._clock()
        for copy in copies:
            assert copy.channel is not None and copy.ts is not None
            message = approver_dm_message(card, copy.reason, now=now)
            try:
                await self._slack.chat_update(
                    channel=copy.channel, ts=copy.ts, text=message["text"], blocks=message["blocks"]
                )
            except SlackApiError:
                logger.warning(
                    "could not update a DM copy",
                    extra={"handoff_id": card.handoff_id, "approver": copy.approver},
                )


class ApproverDmSender:
    """The outbox handler that sends a handoff's DM copies."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        handoffs: HandoffService,
        records: ApproverDmRecords,
        prefs: ApproverPrefs,
        slack: AsyncWebClient,
        routing: Callable[[], RoutingConfig],
        clock: Callable[[], datetime],
        delegates: Delegates | None = None,
        copies: DmCopies | None = None,
    ) -> None:
        self.outbox = outbox
        self.handoffs = handoffs
        self.records = records
        self.prefs = prefs
        self.slack = slack
        self.routing = routing
        self.clock = clock
        # Delegation extends who is asked: an approver away is replaced by their delegate.
        self.delegates = delegates
        self.copies = copies

    async def deliver(self, item: ClaimedItem) -> None:
        """Send the item's copies that are not sent yet; then the item is done."""
        assert item.handoff_id is not None
        reason = DmReason(str(item.payload["reason"]))
        actor = str(item.payload.get("actor") or "")
        card = await self.handoffs.card(item.handoff_id)
        if card is None or not self._still_waiting(card, reason):
            await self.outbox.complete(item.id)
            return
        if not card.message_ts:
            raise RuntimeError("the handoff's channel message is not posted yet")
        targets = await self.targets(card, reason, actor)
        posted = [await self._send_once(card, target, reason) for target in targets]
        await self.outbox.complete(item.id)
        if any(posted) and self.copies is not None:
            # Decided while the copies were being drawn: bring them in step at once.
            fresh = await self.handoffs.card(card.handoff_id)
            if fresh is not None and fresh != card:
                await self.copies.sync(fresh)

    def _still_waiting(self, card: HandoffCard, reason: DmReason) -> bool:
        return not card.closed if reason is DmReason.ESCALATION else card.decidable

    async def targets(self, card: HandoffCard, reason: DmReason, actor: str) -> list[str]:
        """Who gets a copy now (``services.approver_dms.dm_targets``, with live delegates)."""
        routing = self.routing()
        people = [*routing.approvers.users, routing.mentions.finance_lead or ""]
        standing_in: dict[str, str] = {}
        if self.delegates is not None:
            for person in filter(None, people):
                found = await self.delegates(person)
                if found:
                    standing_in[person] = found
        choices = await self.prefs.choices({*filter(None, people), *standing_in.values()})
        return dm_targets(
            reason,
            routing=routing,
            actor=actor,
            requested_by=card.requested_by,
            choices=choices,
            delegate=lambda person: standing_in.get(person, person),
        )

    async def _send_once(self, card: HandoffCard, target: str, reason: DmReason) -> bool:
        """Post ``target``'s copy unless it was sent already; True when posted now."""
        copy = await self.records.claim(card.handoff_id, target, reason)
        if copy.ts is not None or (copy.claimed_before and copy.channel == ""):
            return False  # sent already (or the person could not be reached)
        try:
            opened = await self.slack.conversations_open(users=target)
            channel = str(opened["channel"]["id"])
            if copy.claimed_before:
                found = await find_posted(
                    self.slack,
                    channel,
                    event_type=APPROVER_DM_EVENT,
                    key=copy.key,
                    now=self.clock(),
                )
                if found is not None:
                    await self.records.posted(copy.id, found[0], found[1])
                    return False
            await self._post(card, copy, channel)
        except SlackApiError as exc:
            if exc.response.get("error") in UNREACHABLE:
                # No retry will reach them: the channel message stays their way in.
                logger.warning("cannot DM an approval request", extra={"user": target})
                await self.records.posted(copy.id, "", None)
                return False
            raise
        return True

    async def _post(self, card: HandoffCard, copy: DmCopy, channel: str) -> None:
        message = approver_dm_message(card, copy.reason, now=self.clock())
        response = await self.slack.chat_postMessage(
            channel=channel,
            text=message["text"],
            blocks=message["blocks"],
            metadata={
                "event_type": APPROVER_DM_EVENT,
                "event_payload": {"handoff_id": card.handoff_id, "key": copy.key},
            },
            unfurl_links=False,
            unfurl_media=False,
        )
        await self.records.posted(copy.id, str(response.get("channel") or channel), response["ts"])
