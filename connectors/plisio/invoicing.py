"""The outbox work of invoices: create a handoff's invoice once, answer ``/invoice <email>``.

An invoice looks its order number up before creating anything after an unclear failure, so
retries and crashes never make a second invoice. Whatever the provider (or this process) refuses
ends in the visible failed state with the reason, Retry and Decline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from blocks.audit import thread_note
from blocks.invoices import invoice_list_message
from connectors.plisio.errors import PlisioError
from connectors.plisio.lookup import InvoiceLookup
from connectors.plisio.wording import customer_order_name, failure_reason, invoice_description
from services import external_refs
from services.cards import HandoffCard
from services.db.engine import Database
from services.db.models import HandoffRow, InvoiceRow
from services.events import PLISIO, Event, EventLog, EventType
from services.handoffs import HandoffService, current_invoice
from services.outbox import ClaimedItem, Outbox
from services.payment_provider import (
    InvoiceRequest,
    PaymentProvider,
    PaymentProviderError,
    ProviderInvoice,
)
from services.states import HandoffStatus

__all__ = [
    "BOT_INVOICE_STATUSES",
    "INVOICE_ATTEMPTS",
    "Invoicing",
    "Refresh",
    "customer_order_name",
    "failure_reason",
    "invoice_description",
]

logger = logging.getLogger(__name__)

INVOICE_ATTEMPTS = 4  # automatic tries before the handoff shows Retry
# Invoice statuses the bot writes itself before Plisio has reported anything.
BOT_INVOICE_STATUSES = ("creating", "unknown", "failed")


class Refresh(Protocol):
    """Brings a handoff's Slack message up to date and adds a thread note (False: note failed)."""

    async def __call__(
        self,
        handoff_id: str,
        *,
        note: dict[str, Any] | None = None,
        note_key: str | None = None,
        unless_noted: bool = False,
    ) -> bool: ...


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300, 2 ** max(0, attempts - 1)))


@dataclass
class Invoicing:
    """Carries out ``OutboxKind.CREATE_INVOICE`` and ``OutboxKind.LOOKUP_INVOICES`` items."""

    db: Database
    outbox: Outbox
    handoffs: HandoffService
    provider: PaymentProvider
    lookup: InvoiceLookup
    slack: AsyncWebClient  # posts the /invoice answer in the thread
    refresh: Refresh  # the handoff message and its thread notes (the Slack side)
    public_url: str  # where Plisio sends callbacks (tests set it once their server is up)
    clock: Callable[[], datetime]
    events: EventLog = field(default_factory=EventLog)

    async def _invoice_row(self, handoff_id: str, order_number: str | None) -> InvoiceRow | None:
        """The invoice this work creates: the one it names, else the handoff's current one."""
        async with self.db.sessions() as session:
            if order_number:
                return await session.scalar(
                    select(InvoiceRow).where(InvoiceRow.order_number == order_number)
                )
            rows = await session.scalars(
                select(InvoiceRow)
                .where(InvoiceRow.handoff_id == handoff_id)
                .order_by(InvoiceRow.id)
            )
            return current_invoice(rows.all())

    async def create_invoice(self, item: ClaimedItem) -> None:
        """Create the handoff's invoice once, whatever happened on earlier tries.

        Whatever the provider (or this process) refuses ends in the visible failed state with
        the reason, Retry and Decline: a permanent refusal at once, anything else after
        ``INVOICE_ATTEMPTS`` tries. The message never shows "Creating…" for ever.
        """
        assert item.handoff_id is not None
        card = await self.handoffs.card(item.handoff_id)
        order = item.payload.get("order_number")
        invoice = await self._invoice_row(
            item.handoff_id, order if isinstance(order, str) else None
        )
        if card is None:
            await self.outbox.give_up(item.id, "handoff missing")
            return
        if invoice is None:  # never expected; still, no handoff is left "Creating…"
            missing = PlisioError("internal error: the invoice record is missing")
            await self._invoice_failed(item, card, order or card.call_id, missing)
            return
        try:
            await self._create_invoice(item, card, invoice)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Not the provider's answer (a bug, the database): retried, but never for ever.
            if item.attempts < INVOICE_ATTEMPTS:
                raise
            logger.exception("creating the invoice failed", extra={"handoff_id": card.handoff_id})
            await self._invoice_failed(
                item, card, invoice.order_number, PlisioError(f"internal error: {exc}")
            )

    async def _create_invoice(
        self, item: ClaimedItem, card: HandoffCard, invoice: InvoiceRow
    ) -> None:
        if invoice.txn_id:
            noted = await self._invoice_created(
                card,
                invoice.order_number,
                ProviderInvoice(invoice.txn_id, invoice.invoice_url, invoice.status),
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
                    note_key=_invoice_note_key(card.handoff_id, invoice.order_number, card.call_id),
                    unless_noted=True,
                )
            await self._finish_invoice_item(item, noted)
            return
        try:
            existing: list[ProviderInvoice] = []
            if item.attempts > 1 or invoice.last_error:
                # An earlier try may have reached the provider before failing: never create a
                # second invoice.
                existing = await self.provider.find_invoices(invoice.order_number)
            if existing:
                noted = await self._invoice_created(card, invoice.order_number, existing[0])
            else:
                created = await self.provider.create_invoice(
                    InvoiceRequest(
                        order_number=invoice.order_number,
                        order_name=customer_order_name(card),
                        amount=invoice.amount,
                        currency=invoice.currency,
                        description=invoice_description(card),
                        email=invoice.email,
                        callback_url=f"{self.public_url}/plisio/callback?json=true",
                    )
                )
                noted = await self._invoice_created(card, invoice.order_number, created)
        except PaymentProviderError as exc:
            await self._invoice_failed(item, card, invoice.order_number, exc)
            return
        except ValueError as exc:  # refused before sending (a zero or negative amount)
            await self._invoice_failed(item, card, invoice.order_number, PlisioError(str(exc)))
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
        self, card: HandoffCard, order_number: str, made: ProviderInvoice
    ) -> bool:
        """Record the invoice; the first time, show it. False if its thread note failed."""
        now = self.clock()
        txn_id, url = made.invoice_id, made.url
        async with self.db.sessions() as session, session.begin():
            await session.execute(
                update(InvoiceRow)
                .where(InvoiceRow.order_number == order_number)
                .values(txn_id=txn_id, invoice_url=url, last_error=None, updated_at=now)
            )
            # A callback may have got here first (Plisio calls back at once): keep its status.
            await session.execute(
                update(InvoiceRow)
                .where(
                    InvoiceRow.order_number == order_number,
                    InvoiceRow.status.in_(BOT_INVOICE_STATUSES),
                )
                .values(status=made.status)
            )
            await external_refs.record(
                session,
                handoff_id=card.handoff_id,
                system=self.provider.name,
                kind="invoice",
                external_id=txn_id,
                url=url,
                now=now,
                detail={"order_number": order_number},
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
                self.events.record(
                    session,
                    Event(
                        type=EventType.INVOICE_CREATED,
                        handoff_id=card.handoff_id,
                        actor=PLISIO,
                        at=now,
                        detail={"txn_id": txn_id, "url": url},
                    ),
                )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return True  # recorded by an earlier try, which showed it (or is retried for it)
        return await self.refresh(
            card.handoff_id,
            note=thread_note("invoice_created", "plisio", now, detail=url or txn_id),
            note_key=_invoice_note_key(card.handoff_id, order_number, card.call_id),
        )

    async def _invoice_failed(
        self,
        item: ClaimedItem,
        card: HandoffCard,
        order_number: str,
        exc: PaymentProviderError,
    ) -> None:
        now = self.clock()
        reason = failure_reason(exc)
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
                self.events.record(
                    session,
                    Event(
                        type=EventType.INVOICE_FAILED,
                        handoff_id=card.handoff_id,
                        actor=PLISIO,
                        at=now,
                        detail={"error": reason[:500], "attempts": item.attempts},
                    ),
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


def _invoice_note_key(handoff_id: str, order_number: str, call_id: str) -> str:
    # The first invoice keeps the key notes already in Slack carry; a reissue adds its order.
    base = f"invoice_created:{handoff_id}"
    return base if order_number == call_id else f"{base}:{order_number}"
