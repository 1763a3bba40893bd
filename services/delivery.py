"""Carries out queued work: posting handoffs to Slack and creating Plisio invoices.

Each kind of outbox item is safe to run again after a crash: a post checks the channel for a
message already carrying the handoff's id before posting, and an invoice looks its order number up
in Plisio before creating anything, so retries never duplicate a message or an invoice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from blocks.audit import thread_note
from blocks.handoff import handoff_message
from blocks.invoices import invoice_list_message
from services.cards import HandoffCard
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, InvoiceRow
from services.directory import SlackDirectory
from services.handoffs import HandoffService
from services.outbox import ClaimedItem, Outbox
from services.plisio import InvoiceLookup, Operation, PlisioClient, PlisioError
from services.slack_history import find_posted
from services.states import HandoffStatus

__all__ = ["ChannelPacer", "Delivery", "RateLimited", "invoice_description"]

logger = logging.getLogger(__name__)

METADATA_EVENT = "finance_handoff"
# Thread notes that must appear once even across retries carry this, with a key.
NOTE_EVENT = "finance_handoff_note"
INVOICE_ATTEMPTS = 4  # automatic tries before the handoff shows Retry
# Slack errors that no retry will fix for that channel.
UNPOSTABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action"})
# Pacing of handoff posts, per channel (Slack allows about one a second, short bursts tolerated).
SLOWDOWN = 0.8  # a channel that answers 429 gets this share of its rate from then on...
SPEEDUP_AFTER = 300.0  # ...and one step of it back after this many seconds without a 429
MIN_POST_RATE = 0.05  # posts/s: however often Slack says 429, try again within 20 s
RATE_LIMITED_TRIES = 5  # 429s one post may meet before its outbox item backs off
LANE_SECONDS = 10.0  # the most one pass spends posting to one channel (other work waits for it)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300, 2 ** max(0, attempts - 1)))


def _retry_after(headers: Any) -> float:
    try:
        return min(300.0, max(1.0, float(headers.get("Retry-After", 1))))
    except (TypeError, ValueError, AttributeError):
        return 1.0


class RateLimited(Exception):
    """Slack kept answering 429 to one post; the outbox tries it again later."""


class ChannelPacer:
    """Spaces one channel's posts at its rate and slows down whenever Slack answers 429.

    Slack says how long to wait (Retry-After) but not how fast to go, so a 429 both pauses the
    channel for Retry-After and lowers its rate; quiet minutes bring the rate back up.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = rate
        self.rate = rate
        self._clock = clock
        self._next = clock()
        self._limited_at: float | None = None

    def reserve(self) -> float:
        """Take the channel's next slot; returns the seconds to wait for it."""
        now = self._clock()
        if self._limited_at is not None and now - self._limited_at >= SPEEDUP_AFTER:
            self.rate = min(self.ceiling, self.rate / SLOWDOWN)
            self._limited_at = None if self.rate >= self.ceiling else now
        slot = max(now, self._next)
        self._next = slot + 1 / self.rate
        return slot - now

    def rate_limited(self, retry_after: float) -> None:
        """Slack refused a post: nothing is posted here for ``retry_after`` s, then slower."""
        now = self._clock()
        self.rate = max(MIN_POST_RATE, self.rate * SLOWDOWN)
        self._next = max(self._next, now + retry_after)
        self._limited_at = now


def invoice_description(card: HandoffCard) -> str:
    """The short operational summary Plisio shows on the invoice."""
    handoff = card.handoff
    parts = [f"{card.workflow.value.replace('_', ' ').capitalize()} for call {card.call_id}."]
    if handoff.follow_up and handoff.follow_up.next_step:
        parts.append(handoff.follow_up.next_step.rstrip(".") + ".")
    else:
        parts.append(handoff.caller_request[:200].rstrip(".") + ".")
    if handoff.links and handoff.links.transcript_url:
        parts.append(f"Transcript: {handoff.links.transcript_url}")
    return " ".join(parts)[:500]


@dataclass
class Delivery:
    """The outbox worker's hands."""

    db: Database
    outbox: Outbox
    handoffs: HandoffService
    slack: AsyncWebClient
    directory: SlackDirectory
    plisio: PlisioClient
    lookup: InvoiceLookup
    public_url: str
    clock: Callable[[], datetime]
    poll_seconds: float = 1.0
    fallback_channel: str | None = None  # where a handoff goes when its channel refuses it
    # Outbox kinds carried out by other services (reminder nudges, digests), by kind.
    kinds: dict[str, Callable[[ClaimedItem], Awaitable[None]]] = field(default_factory=dict)
    post_rate: float = 1.0  # handoff posts per second per channel, before any 429
    # Posts handoffs without automatic retries (built from ``slack`` when not given): a 429 is
    # waited out here in the channel's pace, and any other failure may have posted, so the
    # outbox tries again after looking for the message.
    poster: AsyncWebClient | None = None
    _pacers: dict[str, ChannelPacer] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.poster is None:
            self.poster = AsyncWebClient(
                token=self.slack.token,
                base_url=self.slack.base_url,
                timeout=self.slack.timeout,
                retry_handlers=[],
            )

    def pacer(self, channel: str) -> ChannelPacer:
        """The pace of one channel's posts (shared by every pass of this process)."""
        pacer = self._pacers.get(channel)
        if pacer is None:
            pacer = self._pacers[channel] = ChannelPacer(self.post_rate)
        return pacer

    # ---- the loop ------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Claim and run due items until cancelled."""
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
                worked = 0
            if not worked:
                self.outbox.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outbox.wake.wait(), timeout=self.poll_seconds)

    async def run_once(self, limit: int = 50) -> int:
        """Run every due item once (posts to one channel in order, channels side by side)."""
        items = await self.outbox.claim(limit)
        if not items:
            return 0
        # Slack allows about one post per second per channel: keep each channel's posts in order.
        by_channel: dict[str, list[ClaimedItem]] = defaultdict(list)
        others: list[ClaimedItem] = []
        channels = await self._channels([i.handoff_id for i in items if i.kind == "post_handoff"])
        for item in items:
            if item.kind == "post_handoff":
                by_channel[channels.get(item.handoff_id or "", "")].append(item)
            else:
                others.append(item)

        # One pass posts what its channel's pace allows well inside the lease (so no other
        # process takes those items up meanwhile) and gives the rest back, attempts uncounted.
        window = min(LANE_SECONDS, self.outbox.lease.total_seconds() / 3)

        async def lane(channel: str, batch: list[ClaimedItem]) -> None:
            room = max(1, int(self.pacer(channel).rate * window))
            for claimed in batch[room:]:
                await self.outbox.release(claimed.id)
            for claimed in batch[:room]:
                await self._run(claimed)

        await asyncio.gather(
            *(lane(c, b) for c, b in by_channel.items()), *(self._run(i) for i in others)
        )
        return len(items)

    async def _channels(self, handoff_ids: list[str | None]) -> dict[str, str]:
        ids = [i for i in handoff_ids if i]
        if not ids:
            return {}
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(HandoffRow.id, HandoffRow.channel).where(HandoffRow.id.in_(ids))
            )
            return {row.id: row.channel for row in rows}

    async def _run(self, item: ClaimedItem) -> None:
        handler = {
            "post_handoff": self.post_handoff,
            "create_invoice": self.create_invoice,
            "lookup_invoices": self.lookup_invoices,
        }.get(item.kind) or self.kinds.get(item.kind)
        if handler is None:
            await self.outbox.give_up(item.id, f"unknown outbox kind {item.kind!r}")
            return
        try:
            await handler(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception(
                "outbox item failed", extra={"kind": item.kind, "handoff_id": item.handoff_id}
            )
            await self.outbox.retry_later(
                item.id, f"{exc.__class__.__name__}: {exc}", _backoff(item.attempts)
            )

    # ---- posting -------------------------------------------------------------------------

    async def post_handoff(self, item: ClaimedItem) -> None:
        """Post a stored handoff to its channel exactly once."""
        assert item.handoff_id is not None
        await self._resolve_owner(item.handoff_id)
        card = await self.handoffs.card(item.handoff_id)
        if card is None or card.message_ts:
            if card is not None and item.attempts > 1:
                # An earlier try recorded the post and may have died before bringing it up to date.
                await self.refresh(card.handoff_id)
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
                response = await self._paced_post(
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
        await self._record_post(card.handoff_id, channel, ts)
        # A click between the post and its recording (or, after a crash, before the post was
        # found again) had no message to refresh: show what it decided now.
        latest = await self.handoffs.card(card.handoff_id)
        if latest is not None and (
            found is not None or replace(latest, channel=card.channel, message_ts=None) != card
        ):
            await self.refresh(card.handoff_id)
        await self.outbox.complete(item.id)

    async def _paced_post(self, channel: str, **kwargs: Any) -> Any:
        """``chat.postMessage`` in the channel's pace; only a 429 (nothing posted) is retried."""
        assert self.poster is not None
        pacer = self.pacer(channel)
        for _ in range(RATE_LIMITED_TRIES):
            await asyncio.sleep(pacer.reserve())
            try:
                return await self.poster.chat_postMessage(channel=channel, **kwargs)
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                pacer.rate_limited(_retry_after(exc.response.headers))
                logger.warning("Slack rate-limited posts to %s; now %.2f/s", channel, pacer.rate)
        raise RateLimited(f"{RATE_LIMITED_TRIES} answers of 429 from Slack for {channel}")

    async def _reroute(self, handoff_id: str, channel: str, error: str) -> bool:
        """Send a handoff whose channel cannot take it to the default channel instead."""
        fallback = self.fallback_channel
        if not fallback or fallback == channel:
            logger.error("cannot post handoff %s to %s: %s", handoff_id, channel, error)
            return False
        now = self.clock()
        async with self.db.sessions() as session, session.begin():
            await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.message_ts.is_(None))
                .values(channel=fallback, updated_at=now)
            )
            session.add(
                AuditEntry(
                    handoff_id=handoff_id,
                    at=now,
                    actor="bot",
                    action="rerouted",
                    detail={"from": channel, "to": fallback, "error": error},
                )
            )
        logger.warning(
            "handoff %s rerouted from %s (%s) to %s", handoff_id, channel, error, fallback
        )
        return True

    async def _resolve_owner(self, handoff_id: str) -> None:
        async with self.db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            owner = row.owner if row is not None and row.owner_slack_id is None else None
        if not owner or "@" not in owner:
            return
        try:
            user_id = await self.directory.user_for_email(owner)
        except SlackApiError:
            logger.warning("could not resolve the owner's email", extra={"handoff_id": handoff_id})
            return
        if user_id:
            async with self.db.sessions() as session, session.begin():
                await session.execute(
                    update(HandoffRow)
                    .where(HandoffRow.id == handoff_id, HandoffRow.owner_slack_id.is_(None))
                    .values(owner_slack_id=user_id)
                )

    async def _find_earlier_post(
        self, card: HandoffCard, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        """A message an earlier, interrupted try may already have posted."""
        return await find_posted(
            self.slack,
            card.channel,
            event_type=METADATA_EVENT,
            key=card.handoff_id,
            field="handoff_id",
            now=self.clock(),
            thread_ts=thread_ts,
        )

    async def _record_post(self, handoff_id: str, channel: str, ts: str) -> None:
        now = self.clock()
        async with self.db.sessions() as session, session.begin():
            result = await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.message_ts.is_(None))
                .values(channel=channel, message_ts=ts, updated_at=now)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                session.add(
                    AuditEntry(
                        handoff_id=handoff_id,
                        at=now,
                        actor="bot",
                        action="posted",
                        detail={"channel": channel, "ts": ts},
                    )
                )

    async def refresh(
        self,
        handoff_id: str,
        *,
        note: dict[str, Any] | None = None,
        note_key: str | None = None,
        unless_noted: bool = False,
    ) -> bool:
        """Bring the channel message up to date and add a thread note if given.

        A note with a ``note_key`` carries it as metadata; with ``unless_noted`` the thread is
        read first and a note with that key already there is not posted again. Returns False
        when the note could not be posted (the message update is best effort either way).
        """
        card = await self.handoffs.card(handoff_id)
        if card is None or not card.message_ts:
            return True
        message = handoff_message(card, now=self.clock())
        try:
            await self.slack.chat_update(
                channel=card.channel,
                ts=card.message_ts,
                text=message["text"],
                blocks=message["blocks"],
            )
        except SlackApiError:
            logger.exception(
                "could not update the handoff message", extra={"handoff_id": handoff_id}
            )
        if note is None:
            return True
        if unless_noted and note_key is not None:
            found = await find_posted(
                self.slack,
                card.channel,
                event_type=NOTE_EVENT,
                key=note_key,
                now=self.clock(),
                thread_ts=card.message_ts,
            )
            if found is not None:
                return True
        metadata = (
            {"event_type": NOTE_EVENT, "event_payload": {"key": note_key}} if note_key else None
        )
        try:
            await self.slack.chat_postMessage(
                channel=card.channel,
                thread_ts=card.message_ts,
                text=note["text"],
                blocks=note["blocks"],
                metadata=metadata,
            )
        except SlackApiError:
            logger.exception("could not post a thread note", extra={"handoff_id": handoff_id})
            return False
        return True

    # ---- invoices ------------------------------------------------------------------------

    async def _invoice_row(self, handoff_id: str) -> InvoiceRow | None:
        async with self.db.sessions() as session:
            return await session.scalar(
                select(InvoiceRow).where(InvoiceRow.handoff_id == handoff_id)
            )

    async def create_invoice(self, item: ClaimedItem) -> None:
        """Create the handoff's Plisio invoice once, whatever happened on earlier tries."""
        assert item.handoff_id is not None
        card = await self.handoffs.card(item.handoff_id)
        invoice = await self._invoice_row(item.handoff_id)
        if card is None or invoice is None:
            await self.outbox.give_up(item.id, "handoff or invoice row missing")
            return
        if invoice.txn_id:
            noted = await self._invoice_created(
                card, invoice.order_number, invoice.txn_id, invoice.invoice_url, invoice.status
            )
            if item.attempts > 1:
                # An earlier try recorded the invoice and may have died (or met a Slack error)
                # before showing it: update the message and add the note unless it is there.
                noted = await self.refresh(
                    card.handoff_id,
                    note=thread_note(
                        "invoice_created",
                        "plisio",
                        invoice.updated_at,
                        detail=invoice.invoice_url or invoice.txn_id,
                    ),
                    note_key=_invoice_note_key(card.handoff_id),
                    unless_noted=True,
                )
            await self._finish_invoice_item(item, noted)
            return
        try:
            existing: list[Operation] = []
            if item.attempts > 1 or invoice.last_error:
                # An earlier try may have reached Plisio before failing: never create a second one.
                existing = await self.plisio.find_by_order_number(invoice.order_number)
            if existing:
                op = existing[0]
                noted = await self._invoice_created(
                    card, invoice.order_number, op.id, op.invoice_url, op.status
                )
            else:
                created = await self.plisio.create_invoice(
                    order_number=invoice.order_number,
                    order_name=f"{card.workflow.value.replace('_', ' ').capitalize()} {card.call_id}"[
                        :100
                    ],
                    source_amount=invoice.amount,
                    source_currency=invoice.currency,
                    description=invoice_description(card),
                    email=invoice.email,
                    callback_url=f"{self.public_url}/plisio/callback?json=true",
                )
                noted = await self._invoice_created(
                    card, invoice.order_number, created.txn_id, created.invoice_url, "new"
                )
        except PlisioError as exc:
            await self._invoice_failed(item, card, invoice.order_number, exc)
            return
        await self._finish_invoice_item(item, noted)

    async def _finish_invoice_item(self, item: ClaimedItem, noted: bool) -> None:
        """Done once the invoice note is in the thread; else try the note again later."""
        if noted:
            await self.outbox.complete(item.id)
        else:
            await self.outbox.retry_later(
                item.id,
                "invoice created; its thread note is not posted yet",
                _backoff(item.attempts),
            )

    async def _invoice_created(
        self, card: HandoffCard, order_number: str, txn_id: str, url: str | None, status: str
    ) -> bool:
        """Record the invoice; the first time, show it. False if its thread note failed."""
        now = self.clock()
        async with self.db.sessions() as session, session.begin():
            await session.execute(
                update(InvoiceRow)
                .where(InvoiceRow.order_number == order_number)
                .values(
                    txn_id=txn_id, invoice_url=url, status=status, last_error=None, updated_at=now
                )
            )
            moved = await session.execute(
                update(HandoffRow)
                .where(
                    HandoffRow.id == card.handoff_id,
                    HandoffRow.status.in_(
                        [HandoffStatus.PROCESSING.value, HandoffStatus.ACTION_FAILED.value]
                    ),
                )
                .values(
                    status=HandoffStatus.INVOICED.value,
                    updated_at=now,
                    version=HandoffRow.version + 1,
                )
            )
            if moved.rowcount == 1:  # type: ignore[attr-defined]
                session.add(
                    AuditEntry(
                        handoff_id=card.handoff_id,
                        at=now,
                        actor="plisio",
                        action="invoice_created",
                        detail={"txn_id": txn_id, "url": url},
                    )
                )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return True  # recorded by an earlier try, which showed it (or is retried for it)
        return await self.refresh(
            card.handoff_id,
            note=thread_note("invoice_created", "plisio", now, detail=url or txn_id),
            note_key=_invoice_note_key(card.handoff_id),
        )

    async def _invoice_failed(
        self, item: ClaimedItem, card: HandoffCard, order_number: str, exc: PlisioError
    ) -> None:
        now = self.clock()
        reason = exc.message if hasattr(exc, "message") else str(exc)
        retry = exc.retryable and item.attempts < INVOICE_ATTEMPTS
        async with self.db.sessions() as session, session.begin():
            await session.execute(
                update(InvoiceRow)
                .where(InvoiceRow.order_number == order_number)
                .values(
                    status="unknown" if exc.retryable else "failed",
                    last_error=reason[:500],
                    updated_at=now,
                )
            )
            if not retry:
                await session.execute(
                    update(HandoffRow)
                    .where(
                        HandoffRow.id == card.handoff_id,
                        HandoffRow.status == HandoffStatus.PROCESSING.value,
                    )
                    .values(
                        status=HandoffStatus.ACTION_FAILED.value,
                        updated_at=now,
                        version=HandoffRow.version + 1,
                    )
                )
                session.add(
                    AuditEntry(
                        handoff_id=card.handoff_id,
                        at=now,
                        actor="plisio",
                        action="invoice_failed",
                        detail={"error": reason[:500], "attempts": item.attempts},
                    )
                )
        if retry:
            logger.warning(
                "Plisio failed; will look the order up and retry",
                extra={"handoff_id": card.handoff_id},
            )
            await self.outbox.retry_later(item.id, reason, _backoff(item.attempts))
            return
        await self.outbox.give_up(item.id, reason)
        await self.refresh(
            card.handoff_id, note=thread_note("invoice_failed", "plisio", now, detail=reason)
        )

    async def lookup_invoices(self, item: ClaimedItem) -> None:
        """Post the customer's Plisio invoices in the handoff's thread."""
        assert item.handoff_id is not None
        card = await self.handoffs.card(item.handoff_id)
        if card is None or not card.message_ts:
            await self.outbox.retry_later(
                item.id, "waiting for the Slack post", timedelta(seconds=5)
            )
            return
        email = card.customer_email
        invoices = await self.lookup.invoices_for_email(email) if email else []
        message = invoice_list_message(
            email=email, invoices=invoices, verified=card.email_verified, sandbox=card.sandbox
        )
        await self.slack.chat_postMessage(
            channel=card.channel,
            thread_ts=card.message_ts,
            text=message["text"],
            blocks=message["blocks"],
        )
        await self.outbox.complete(item.id)


def _invoice_note_key(handoff_id: str) -> str:
    return f"invoice_created:{handoff_id}"
