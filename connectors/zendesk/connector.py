"""Zendesk: the customer's billing ticket, linked or created once, with a private note per
decision.

- ``POSTED`` (the message is in Slack, so its permalink exists): a handoff whose
  ``links.support_ticket_url`` is a ticket of this Zendesk gets a private note there; any other
  handoff with a customer email gets one new ticket (``external_id`` = the call ID, an
  ``Idempotency-Key`` from it, looked up by ``external_id`` first). A ticket URL of another
  Zendesk is never written to. No customer email: no ticket.
- Every later decision adds exactly one private note (``PUT /api/v2/tickets/{id}.json``),
  marked with the event's key; a retry reads the ticket's comments before writing again.

Never a public comment, never a status change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from connectors.base import ConnectorContext, Done, GiveUp, Link, Result, RetryAfter
from connectors.runtime import backoff
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.errors import ZendeskAPIError, ZendeskError
from connectors.zendesk.models import Ticket
from connectors.zendesk.wording import (
    MARKED,
    TicketFacts,
    decision_note,
    has_marker,
    subject,
    summary,
)
from services import external_refs
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.events import Event, EventType, connector_key
from services.handoff_model import Handoff

__all__ = ["NAME", "NOTE_EVENTS", "ZendeskConnector", "idempotency_key", "own_ticket_id"]

NAME = "zendesk"
NOTE_EVENTS = frozenset(
    {
        EventType.APPROVED,
        EventType.DECLINED,
        EventType.ESCALATED,
        EventType.REASSIGNED,
        EventType.INVOICE_CREATED,
        EventType.PAID,
        EventType.MISMATCH,
        EventType.NOTE_ADDED,
        EventType.DONE,
    }
)
WAIT_FOR_TICKET = 5.0  # seconds: a note waits this long for its ticket (the POSTED item)
_TICKET_PATH = re.compile(r"/agent/tickets/([0-9]{1,19})/?")

Permalink = Callable[[str], Awaitable[str | None]]


def idempotency_key(call_id: str) -> str:
    """The ``Idempotency-Key`` of the ticket of one call (the same on every try)."""
    return "finance-bot-ticket-" + hashlib.sha256(call_id.encode()).hexdigest()[:40]


def own_ticket_id(url: str, base_url: str) -> int | None:
    """The ticket id when ``url`` is a ticket page of the Zendesk at ``base_url``; else None."""
    ours, theirs = urlsplit(base_url.rstrip("/")), urlsplit(url)
    if theirs.scheme not in {"http", "https"} or theirs.username or theirs.password:
        return None
    if (theirs.hostname or "").lower() != (ours.hostname or "").lower():
        return None
    if theirs.port != ours.port:
        return None
    path, prefix = theirs.path, ours.path.rstrip("/")
    if prefix:
        if not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix) :]
    match = _TICKET_PATH.fullmatch(path)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class _Loaded:
    handoff: Handoff
    row_owner: str | None
    amount: str | None
    currency: str | None
    notes: int  # private notes the bot counted on the ticket so far (shown on the message)


class ZendeskConnector:
    """Links or creates the handoff's ticket and adds one private note per decision."""

    name = NAME
    handles = frozenset({EventType.POSTED, *NOTE_EVENTS})

    def __init__(
        self, client: ZendeskClient, db: Database, *, permalink: Permalink | None = None
    ) -> None:
        self._client = client
        self._db = db
        self._permalink = permalink

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        try:
            if event.type is EventType.POSTED:
                return await self._ticket(event, event.handoff_id, context)
            return await self._note(event, event.handoff_id, context)
        except ZendeskAPIError as exc:
            if exc.retryable:
                wait = exc.retry_after if exc.retry_after is not None else backoff(context.attempt)
                return RetryAfter(wait, f"Zendesk answered {exc}")
            return GiveUp(f"Zendesk refused the ticket: {exc}")
        except ZendeskError as exc:
            return RetryAfter(backoff(context.attempt), str(exc))

    # ---- the ticket ----------------------------------------------------------------------

    async def _ticket(self, event: Event, handoff_id: str, context: ConnectorContext) -> Result:
        loaded = await self._load(handoff_id)
        if loaded is None:
            return Done()
        handoff = loaded.handoff
        known = await self._known_ticket(handoff_id)
        if known is not None:  # posted again (rerouted, reposted): the ticket is linked already
            return self._done(await self._client.ticket(known), loaded.notes)
        if handoff.customer is None or handoff.customer.email is None:
            return Done()
        named = handoff.links.support_ticket_url if handoff.links else None
        ticket_id = own_ticket_id(str(named), self._client.base_url) if named else None
        facts = TicketFacts(
            owner=loaded.row_owner,
            amount=loaded.amount,
            currency=loaded.currency,
            permalink=await self._link_to_slack(handoff_id),
        )
        body = summary(handoff, facts, event.key)
        if ticket_id is not None:
            try:
                ticket, _ = await self._note_once(ticket_id, body, event.key, context)
            except ZendeskAPIError as exc:
                if exc.http_status != 404:
                    raise
                # The ticket it names is gone: the customer still gets one.
            else:
                return self._done(ticket, 1, linked=True)
        return self._done(await self._create(handoff, body), 1)

    async def _create(self, handoff: Handoff, body: str) -> Ticket:
        """One ticket per call: found by ``external_id`` first, created with an idempotency key."""
        found = await self._client.tickets_by_external_id(handoff.call_id)
        if found:
            return min(found, key=lambda t: t.id)
        customer = handoff.customer
        assert customer is not None and customer.email is not None
        requester: dict[str, str] = {"email": str(customer.email)}
        if customer.name:
            requester["name"] = customer.name
        workflow = handoff.effective_workflow.value
        return await self._client.create_ticket(
            {
                "subject": subject(handoff),
                "external_id": handoff.call_id,
                "requester": requester,
                "comment": {"body": body, "public": False},
                "tags": ["dialnexa", workflow],
            },
            idempotency_key=idempotency_key(handoff.call_id),
        )

    # ---- notes ---------------------------------------------------------------------------

    async def _note(self, event: Event, handoff_id: str, context: ConnectorContext) -> Result:
        text = decision_note(event)
        if text is None:
            return Done()
        loaded = await self._load(handoff_id)
        if loaded is None:
            return Done()
        ticket_id = await self._known_ticket(handoff_id)
        if ticket_id is None:
            if loaded.handoff.customer is None or loaded.handoff.customer.email is None:
                return Done()  # no ticket is ever made for it
            if not await self._ticket_work_finished(handoff_id):
                return RetryAfter(WAIT_FOR_TICKET, "the handoff's Zendesk ticket is not linked yet")
            # Finished: read again, it may have linked the ticket since the first look.
            ticket_id = await self._known_ticket(handoff_id)
            if ticket_id is None:
                return Done()  # its ticket failed (the thread was told once): nothing to note
        wait = await self._earlier_still_pending(handoff_id, event.key, context)
        if wait is not None:
            return RetryAfter(wait, "an earlier Zendesk note of this handoff is not written yet")
        ticket, counted = await self._note_once(ticket_id, text, event.key, context)
        return self._done(ticket, counted if counted is not None else loaded.notes + 1)

    async def _note_once(
        self, ticket_id: int, text: str, event_key: str, context: ConnectorContext
    ) -> tuple[Ticket, int | None]:
        """Add ``text`` as a private note unless an earlier try of this event already did.

        Also says how many of the bot's notes the ticket holds. The comments are read on every
        try, not only on retries: what the message shows is counted on the ticket itself, never
        derived from a stored count another note may be updating at the same moment.
        """
        comments = await self._client.comments(ticket_id)
        ours = sum(1 for c in comments if MARKED in c.body)
        if any(has_marker(c.body, event_key) for c in comments):
            return await self._client.ticket(ticket_id), ours
        return await self._client.add_private_note(ticket_id, text), ours + 1

    async def _ticket_work_finished(self, handoff_id: str) -> bool:
        """Whether the handoff's POSTED item for this connector is done or given up."""
        async with self._db.sessions() as session:
            posted = await session.scalar(
                select(AuditEntry.key)
                .where(
                    AuditEntry.handoff_id == handoff_id,
                    AuditEntry.action == EventType.POSTED.value,
                )
                .order_by(AuditEntry.id)
                .limit(1)
            )
            if posted is None:
                return False
            status = await session.scalar(
                select(OutboxItem.status).where(
                    OutboxItem.dedupe_key == connector_key(self.name, posted)
                )
            )
        return status in {"done", "failed"}

    async def _earlier_still_pending(
        self, handoff_id: str, event_key: str, context: ConnectorContext
    ) -> float | None:
        """Seconds to wait when an earlier event's note is still to be written (notes keep the
        order of the decisions on the ticket); None when this one may go now."""
        async with self._db.sessions() as session:
            mine = await session.scalar(select(AuditEntry.id).where(AuditEntry.key == event_key))
            pending = (
                await session.execute(
                    select(OutboxItem.payload, OutboxItem.available_at).where(
                        OutboxItem.handoff_id == handoff_id,
                        OutboxItem.status == "pending",
                        OutboxItem.dedupe_key.like(f"{self.name}:%"),
                    )
                )
            ).all()
            others: dict[str, datetime] = {
                str(p.get("event")): at for p, at in pending if p.get("event") != event_key
            }
            if mine is None or not others:
                return None
            earlier = (
                await session.scalars(
                    select(AuditEntry.key).where(
                        AuditEntry.key.in_(list(others)), AuditEntry.id < mine
                    )
                )
            ).all()
        if not earlier:
            return None
        due = max(others[str(key)] for key in earlier)
        # Just after the earlier one is due again (it may be waiting out a Retry-After).
        return max(WAIT_FOR_TICKET, (due - context.clock()).total_seconds() + 1)

    # ---- helpers -------------------------------------------------------------------------

    def _done(self, ticket: Ticket, notes: int, *, linked: bool = False) -> Done:
        url = self._client.agent_url(ticket.id)
        label = f"ticket #{ticket.id}"
        lines = [
            f"Status: {(ticket.status or 'unknown').capitalize()}",
            f"{notes} private note{'s' if notes != 1 else ''} from finance",
        ]
        context: dict[str, Any] = {
            "url": url,
            "label": label,
            "lines": lines,
            "ticket_id": ticket.id,
            "notes": notes,
        }
        detail = {"linked": True} if linked else {}
        return Done(
            context=context,
            links=(Link("ticket", str(ticket.id), url, label=label, detail=detail),),
        )

    async def _known_ticket(self, handoff_id: str) -> int | None:
        async with self._db.sessions() as session:
            ref = await external_refs.find(session, handoff_id, self.name, "ticket")
        return int(ref.external_id) if ref is not None and ref.external_id.isdigit() else None

    async def _load(self, handoff_id: str) -> _Loaded | None:
        async with self._db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            if row is None:
                return None
            handoff = Handoff.model_validate(row.payload)
            before = (row.context or {}).get(self.name) or {}
            notes = before.get("notes") if isinstance(before, dict) else None
            return _Loaded(
                handoff=handoff,
                row_owner=row.owner,
                amount=None if row.amount is None else format(row.amount, "f"),
                currency=row.currency,
                notes=notes if isinstance(notes, int) else 0,
            )

    async def _link_to_slack(self, handoff_id: str) -> str | None:
        if self._permalink is None:
            return None
        try:
            return await self._permalink(handoff_id)
        except Exception:  # a ticket without the Slack link beats no ticket
            return None
