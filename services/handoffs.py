"""Finance decisions on a handoff: approve, decline, escalate, reassign, done, retry.

Every decision is one database transaction that locks the handoff row first (``FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), so concurrent or double clicks are
decided by the database: exactly one wins and the others learn who did. Work with side effects
(creating the Plisio invoice, looking invoices up) is queued in the outbox in that same
transaction, so a crash after the decision never loses or repeats it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services import external_refs
from services.cards import (
    ActionMark,
    ApprovalMark,
    HandoffCard,
    InfoWaiting,
    InvoiceInfo,
    RefundInfo,
)
from services.db.engine import Database
from services.db.models import (
    Approval,
    AuditEntry,
    HandoffRow,
    InfoRequestRow,
    InvoiceRow,
    OutboxItem,
    RefundRow,
)
from services.events import Event, EventLog, EventType, OutboxKind
from services.external_refs import LinkedRecord
from services.handoff_model import Handoff, Urgency, Workflow
from services.outbox import Outbox
from services.payments import PAID_STATES
from services.redaction import redact_text
from services.refunds import service as refunds
from services.routing import INVOICE_WORKFLOWS, ReviewFlag, RoutingConfig
from services.states import CLOSED, DECIDABLE, HandoffStatus

__all__ = [
    "Decision",
    "DecisionResult",
    "HandoffService",
    "Outcome",
    "build_card",
    "current_invoice",
    "reissue_order_number",
]

logger = logging.getLogger(__name__)

# Approved with an invoice that is being created, failed, or not paid yet.
UNPAID_STATUSES = frozenset(
    {
        HandoffStatus.PROCESSING.value,
        HandoffStatus.ACTION_FAILED.value,
        HandoffStatus.INVOICED.value,
    }
)
# The events a card shows as marks (who did what last).
CARD_ACTIONS = (
    EventType.APPROVED,
    EventType.DECLINED,
    EventType.ESCALATED,
    EventType.REASSIGNED,
    EventType.DONE,
    EventType.RETRIED,
    EventType.SNOOZED,
    EventType.REISSUED,
)
# The events that decide a handoff (the answer to "already decided by whom?").
DECIDING_ACTIONS = (EventType.APPROVED, EventType.DECLINED)
# Longest order number Plisio is sent (the column's width).
ORDER_NUMBER_MAX = 128


class Outcome(StrEnum):
    DONE = "done"  # the decision was recorded
    PARTIAL = "partial"  # first of two approvals recorded
    NOT_FOUND = "not_found"
    NOT_APPROVER = "not_approver"
    IDENTITY_REQUIRED = "identity_required"
    SAME_APPROVER = "same_approver"
    SAME_PERSON = "same_person"  # an approval already counts them (a delegate approved for them)
    OWN_REQUEST = "own_request"
    FOR_OWN_REQUEST = "for_own_request"  # a delegate standing in only for the requester
    ALREADY_DECIDED = "already_decided"
    CLOSED = "closed"
    NOT_APPLICABLE = "not_applicable"
    AWAITING_APPROVAL = "awaiting_approval"  # mark done while approval is still pending
    UNPAID = "unpaid"  # mark done while the handoff's invoice is not paid


class Decision(StrEnum):
    INVOICE = "invoice"  # a Plisio invoice will be created
    LOOKUP = "lookup"  # the customer's invoices will be posted in the thread
    RECORD = "record"  # recorded; the owner carries out the next step
    REFUND = "refund"  # the refund is released to Stripe, or handed to the manual checklist


@dataclass(frozen=True, slots=True)
class DecisionResult:
    outcome: Outcome
    card: HandoffCard | None = None
    decision: Decision | None = None
    by: str | None = None  # who decided first, for "already approved by @x"
    at: datetime | None = None
    queued: tuple[str, ...] = field(default_factory=tuple)  # outbox kinds queued

    @property
    def ok(self) -> bool:
        return self.outcome in {Outcome.DONE, Outcome.PARTIAL}


def effect_of(workflow: Workflow, has_money: bool, *, has_refund: bool = False) -> Decision:
    """What approval does for a workflow (a refund handoff with a refund row: the refund)."""
    if workflow is Workflow.REFUND and has_refund:
        return Decision.REFUND
    if workflow in INVOICE_WORKFLOWS and has_money:
        return Decision.INVOICE
    if workflow in {Workflow.RECEIPT_RESEND, Workflow.INVOICE_LOOKUP}:
        return Decision.LOOKUP
    return Decision.RECORD


def _raise_urgency(urgency: Urgency) -> Urgency:
    return Urgency.URGENT if urgency.rank >= Urgency.HIGH.rank else Urgency.HIGH


class HandoffService:
    """Reads handoffs as cards and applies finance decisions atomically."""

    def __init__(
        self,
        db: Database,
        routing: Callable[[], RoutingConfig],
        *,
        clock: Callable[[], datetime],
        sandbox: bool = False,
        events: EventLog | None = None,
    ) -> None:
        self._db = db
        self._routing = routing
        self._clock = clock
        self._sandbox = sandbox
        self._events = events or EventLog()

    # ---- reading -------------------------------------------------------------------------

    async def card(self, handoff_id: str) -> HandoffCard | None:
        async with self._db.reads() as session:
            row = await session.get(HandoffRow, handoff_id)
            return None if row is None else await self._card(session, row)

    async def card_by_call(self, call_id: str) -> HandoffCard | None:
        async with self._db.reads() as session:
            row = await session.scalar(select(HandoffRow).where(HandoffRow.call_id == call_id))
            return None if row is None else await self._card(session, row)

    async def audit_trail(self, handoff_id: str) -> list[AuditEntry]:
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.handoff_id == handoff_id)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
            return list(rows)

    async def linked_records(self, handoff_id: str) -> list[LinkedRecord]:
        """Every external object a connector created or found for the handoff, oldest first."""
        async with self._db.sessions() as session:
            return await external_refs.for_handoff(session, handoff_id)

    async def _card(self, session: AsyncSession, row: HandoffRow) -> HandoffCard:
        approvals = (
            await session.scalars(
                select(Approval)
                .where(Approval.handoff_id == row.id)
                .order_by(Approval.at, Approval.id)
            )
        ).all()
        audit = (
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.handoff_id == row.id, AuditEntry.action.in_(_values(CARD_ACTIONS))
                )
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        ).all()
        invoices = (
            await session.scalars(
                select(InvoiceRow).where(InvoiceRow.handoff_id == row.id).order_by(InvoiceRow.id)
            )
        ).all()
        refund = await session.scalar(select(RefundRow).where(RefundRow.handoff_id == row.id))
        info = await session.scalar(
            select(InfoRequestRow).where(InfoRequestRow.open_handoff_id == row.id)
        )
        return build_card(
            row,
            approvals,
            audit,
            invoices,
            self._routing(),
            sandbox=self._sandbox,
            refund=refund,
            info=info,
        )

    # ---- decisions -----------------------------------------------------------------------

    async def _locked(self, session: AsyncSession, handoff_id: str) -> HandoffRow | None:
        return await session.scalar(
            select(HandoffRow).where(HandoffRow.id == handoff_id).with_for_update()
        )

    def _audit(
        self,
        session: AsyncSession,
        row: HandoffRow,
        actor: str,
        action: EventType | str,
        **detail: Any,
    ) -> None:
        """Record the event of a change to ``row``, in the change's transaction."""
        self._events.record(session, Event(EventType(action), row.id, actor, self._clock(), detail))

    def _touch(self, row: HandoffRow) -> None:
        row.updated_at = self._clock()
        row.version += 1

    def _enqueue(
        self,
        session: AsyncSession,
        row: HandoffRow,
        kind: OutboxKind | str,
        key: str,
        **payload: Any,
    ) -> None:
        Outbox.enqueue(
            session,
            kind=OutboxKind(kind),
            key=key,
            handoff_id=row.id,
            now=self._clock(),
            payload=payload,
        )

    async def _first_decider(
        self, session: AsyncSession, row: HandoffRow
    ) -> tuple[str | None, datetime | None]:
        entry = await session.scalar(
            select(AuditEntry)
            .where(
                AuditEntry.handoff_id == row.id,
                AuditEntry.action.in_(_values(DECIDING_ACTIONS)),
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
        return (entry.actor, entry.at) if entry else (None, None)

    async def approve(
        self,
        handoff_id: str,
        user_id: str,
        *,
        is_approver: bool,
        identity_confirmed: bool = False,
        email_invoice: bool = False,
        followup_email: str | None = None,
        acting_for: tuple[str, ...] = (),
    ) -> DecisionResult:
        """Record one approval; the last one needed applies the workflow's effect.

        ``email_invoice`` (the invoice with its payment link) and ``followup_email`` (a
        collections follow-up's exact body) are the approver's email choices: recorded with
        the approval (the follow-up suppressed first) for the Gmail connector, which sends
        only what was chosen, and only to a verified address.

        ``acting_for``: the away approvers a delegate who is not an approver stands in for;
        their approval is recorded ``on_behalf_of`` one of them. No person counts twice: not
        the clicker, and not an away approver whose delegate already approved for them.
        """
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            if row.status not in DECIDABLE:
                by, at = await self._first_decider(session, row)
                outcome = (
                    Outcome.CLOSED
                    if row.status in CLOSED and by is None
                    else Outcome.ALREADY_DECIDED
                )
                return DecisionResult(outcome, by=by, at=at, card=await self._card(session, row))
            if not is_approver and not acting_for:
                return DecisionResult(Outcome.NOT_APPROVER)
            if row.requested_by == user_id:
                return DecisionResult(Outcome.OWN_REQUEST)
            card = await self._card(session, row)
            on_behalf_of: str | None = None
            if not is_approver:
                # A delegate's authority is the away approver's: never for their own request.
                principals = [a for a in acting_for if a != row.requested_by]
                if not principals:
                    return DecisionResult(Outcome.FOR_OWN_REQUEST, card=card)
                counted = {a.user_id for a in card.approvals} | {
                    a.on_behalf_of for a in card.approvals if a.on_behalf_of
                }
                free = [a for a in principals if a not in counted]
                if not free:
                    return DecisionResult(Outcome.SAME_PERSON, card=card)
                on_behalf_of = free[0]
            if any(a.on_behalf_of == user_id for a in card.approvals):
                return DecisionResult(Outcome.SAME_PERSON, card=card)
            if card.identity_check_needed and not identity_confirmed:
                return DecisionResult(Outcome.IDENTITY_REQUIRED, card=card)
            try:
                async with session.begin_nested():
                    session.add(
                        Approval(
                            handoff_id=row.id,
                            approver=user_id,
                            at=self._clock(),
                            on_behalf_of=on_behalf_of,
                        )
                    )
            except IntegrityError:
                return DecisionResult(Outcome.SAME_APPROVER, card=card)
            count = await session.scalar(
                select(func.count()).select_from(Approval).where(Approval.handoff_id == row.id)
            )
            required = 2 if row.two_person else 1
            final = int(count or 0) >= required
            choices: dict[str, Any] = {"email_invoice": email_invoice}
            if on_behalf_of is not None:
                choices["on_behalf_of"] = on_behalf_of
            if followup_email:
                choices["followup_email"] = redact_text(followup_email).text
            self._audit(
                session,
                row,
                user_id,
                # A partial approval too: its detail says which (approval n of m).
                EventType.APPROVED,
                approval=int(count or 0),
                of=required,
                identity_confirmed=identity_confirmed,
                **choices,
            )
            self._touch(row)
            if not final:
                row.status = HandoffStatus.PARTLY_APPROVED.value
                await session.flush()
                return DecisionResult(Outcome.PARTIAL, card=await self._card(session, row))
            decision = effect_of(
                Workflow(row.workflow),
                row.amount is not None and row.currency is not None,
                has_refund=card.refund is not None,
            )
            queued = await self._apply_effect(session, row, decision, card, actor=user_id)
            await session.flush()
            return DecisionResult(
                Outcome.DONE, card=await self._card(session, row), decision=decision, queued=queued
            )

    async def _apply_effect(
        self,
        session: AsyncSession,
        row: HandoffRow,
        decision: Decision,
        card: HandoffCard,
        *,
        actor: str,
    ) -> tuple[str, ...]:
        now = self._clock()
        if decision is Decision.REFUND:
            # Released to Stripe (its connector executes it), the manual checklist, or refused
            # by a guardrail with the reason: the refund's event says which.
            row.status = HandoffStatus.APPROVED.value
            await refunds.approve_refund(session, self._events, row, actor=actor, now=now)
            return ()
        if decision is Decision.INVOICE:
            assert row.amount is not None and row.currency is not None
            row.status = HandoffStatus.PROCESSING.value
            email = card.customer_email if card.email_verified else None
            # The unique order number is the last line of defence against a second invoice.
            session.add(
                InvoiceRow(
                    handoff_id=row.id,
                    order_number=row.call_id,
                    status="creating",
                    amount=row.amount,
                    currency=row.currency,
                    email=email,
                    created_at=now,
                    updated_at=now,
                )
            )
            self._enqueue(session, row, "create_invoice", f"create_invoice:{row.call_id}")
            return ("create_invoice",)
        row.status = HandoffStatus.APPROVED.value
        if decision is Decision.LOOKUP:
            self._enqueue(session, row, "lookup_invoices", f"lookup_invoices:{row.call_id}")
            return ("lookup_invoices",)
        return ()

    async def _refund_change(
        self,
        handoff_id: str,
        user_id: str,
        *,
        is_approver: bool,
        change: Callable[..., Any],
    ) -> DecisionResult:
        """Reverse or Mark refunded: approvers only; ``NOT_APPLICABLE`` (with the card, whose
        refund says why) when the refund is not in the state the action needs."""
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            if not is_approver:
                return DecisionResult(Outcome.NOT_APPROVER)
            changed = await change(session, self._events, row, actor=user_id, now=self._clock())
            if not changed:
                return DecisionResult(Outcome.NOT_APPLICABLE, card=await self._card(session, row))
            self._touch(row)
            await session.flush()
            return DecisionResult(Outcome.DONE, card=await self._card(session, row))

    async def reverse_refund(
        self, handoff_id: str, user_id: str, *, is_approver: bool
    ) -> DecisionResult:
        """Stop an automatic refund in its grace window; the handoff waits for an approver."""
        return await self._refund_change(
            handoff_id, user_id, is_approver=is_approver, change=refunds.reverse_refund
        )

    async def mark_refunded(
        self, handoff_id: str, user_id: str, *, is_approver: bool
    ) -> DecisionResult:
        """An approver says the manual (crypto) refund was sent."""
        return await self._refund_change(
            handoff_id, user_id, is_approver=is_approver, change=refunds.mark_refunded
        )

    async def decline(
        self, handoff_id: str, user_id: str, reason: str, *, on_behalf_of: str | None = None
    ) -> DecisionResult:
        """Close the handoff with a reason (``on_behalf_of``: the away approver a delegate
        declined for, recorded in the audit entry)."""
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            # A failed invoice creation may also be declined instead of retried.
            if row.status not in DECIDABLE and row.status != HandoffStatus.ACTION_FAILED.value:
                by, at = await self._first_decider(session, row)
                return DecisionResult(
                    Outcome.ALREADY_DECIDED, by=by, at=at, card=await self._card(session, row)
                )
            row.status = HandoffStatus.DECLINED.value
            row.resolution = {**row.resolution, "decline_reason": reason}
            row.next_reminder_at = None
            self._touch(row)
            behalf = {"on_behalf_of": on_behalf_of} if on_behalf_of else {}
            self._audit(session, row, user_id, EventType.DECLINED, reason=reason, **behalf)
            await session.flush()
            return DecisionResult(Outcome.DONE, card=await self._card(session, row))

    async def _change_open(
        self,
        handoff_id: str,
        user_id: str,
        action: EventType,
        change: Callable[[HandoffRow], dict[str, Any] | None],
    ) -> DecisionResult:
        """Apply ``change`` to a handoff that is not closed and audit it as ``action``.

        ``change`` returns the audit detail, or None when the action does not apply now.
        """
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            if row.status in CLOSED:
                return DecisionResult(Outcome.CLOSED, card=await self._card(session, row))
            detail = change(row)
            if detail is None:
                return DecisionResult(Outcome.NOT_APPLICABLE, card=await self._card(session, row))
            self._touch(row)
            self._audit(session, row, user_id, action, **detail)
            await session.flush()
            return DecisionResult(Outcome.DONE, card=await self._card(session, row))

    async def escalate(self, handoff_id: str, user_id: str, reason: str) -> DecisionResult:
        """Raise urgency and record why; the caller reposts it to the escalation channel."""

        def change(row: HandoffRow) -> dict[str, Any]:
            before = row.urgency
            row.urgency = _raise_urgency(Urgency(row.urgency)).value
            row.urgent = True
            return {"reason": reason, "urgency_before": before, "urgency": row.urgency}

        return await self._change_open(handoff_id, user_id, EventType.ESCALATED, change)

    async def reassign(self, handoff_id: str, user_id: str, new_owner: str) -> DecisionResult:
        """Make ``new_owner`` (a Slack user id) the owner; their reminders start afresh."""

        def change(row: HandoffRow) -> dict[str, Any]:
            previous = row.owner_slack_id or row.owner
            row.owner = new_owner
            row.owner_slack_id = new_owner
            self._restart_reminders(row)
            return {"to": new_owner, "previous": previous}

        return await self._change_open(handoff_id, user_id, EventType.REASSIGNED, change)

    async def mark_done(
        self, handoff_id: str, user_id: str, *, is_approver: bool = False
    ) -> DecisionResult:
        """The owner finished the follow-up: close the handoff and stop its reminders.

        Never while it still waits for an approval (``AWAITING_APPROVAL``) or while its invoice
        is being created, failed or unpaid (``UNPAID``): a paid invoice closes it by itself.
        The one exception is an invoice Plisio settled badly (underpaid, expired, cancelled or
        held for review): an approver may close it after review, and the audit entry says what
        was accepted.
        """
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            if row.status in CLOSED:
                return DecisionResult(Outcome.CLOSED, card=await self._card(session, row))
            if row.status in DECIDABLE:
                return DecisionResult(
                    Outcome.AWAITING_APPROVAL, card=await self._card(session, row)
                )
            detail: dict[str, Any] | None = None
            if row.status in UNPAID_STATUSES:
                card = await self._card(session, row)
                invoice = card.invoice
                reviewed = (
                    row.status == HandoffStatus.INVOICED.value
                    and invoice is not None
                    and invoice.reissuable
                )
                if not (reviewed and is_approver):
                    return DecisionResult(Outcome.UNPAID, card=card)
                assert invoice is not None
                detail = {
                    "after_review": invoice.payment_state,
                    "order_number": invoice.order_number,
                    "received": None if invoice.received is None else str(invoice.received),
                    "received_currency": invoice.received_currency,
                }
            row.status = HandoffStatus.DONE.value
            row.next_reminder_at = None
            self._touch(row)
            self._audit(session, row, user_id, EventType.DONE, **(detail or {}))
            await session.flush()
            return DecisionResult(Outcome.DONE, card=await self._card(session, row))

    async def record(
        self,
        handoff_id: str | None,
        actor: str,
        action: EventType | str,
        detail: dict[str, Any],
    ) -> None:
        """Record one event that changes nothing else (refusals, look-ups)."""
        async with self._db.sessions() as session, session.begin():
            self._events.record(
                session, Event(EventType(action), handoff_id, actor, self._clock(), detail)
            )

    async def request_context(self, handoff_id: str, user_id: str) -> DecisionResult:
        """Refresh context: record ``context_requested``; the read connectors (Stripe, HubSpot)
        look the customer up again, bypassing their caches, and the message is updated."""
        async with self._db.sessions() as session, session.begin():
            row = await session.get(HandoffRow, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            self._events.record(
                session,
                Event(EventType.CONTEXT_REQUESTED, handoff_id, user_id, self._clock(), {}),
            )
            card = await self._card(session, row)
        return DecisionResult(Outcome.DONE, card=card, queued=(OutboxKind.CONNECTOR.value,))

    async def snooze(self, handoff_id: str, user_id: str, until: datetime) -> DecisionResult:
        """Push the follow-up reminder to ``until``; the escalation ladder starts again then."""

        def change(row: HandoffRow) -> dict[str, Any]:
            row.snoozed_until = until
            row.next_reminder_at = until
            row.reminder_step = 0
            return {"until": until.isoformat()}

        return await self._change_open(handoff_id, user_id, EventType.SNOOZED, change)

    async def retry(self, handoff_id: str, user_id: str, *, is_approver: bool) -> DecisionResult:
        """Try a failed invoice creation again (the worker looks the order up first)."""
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            if not is_approver:
                return DecisionResult(Outcome.NOT_APPROVER)
            if row.status != HandoffStatus.ACTION_FAILED.value:
                return DecisionResult(Outcome.NOT_APPLICABLE, card=await self._card(session, row))
            invoice = current_invoice(await self._invoices(session, row))
            order_number = invoice.order_number if invoice is not None else row.call_id
            key = _create_key(order_number)
            outbox = await session.scalar(select(OutboxItem).where(OutboxItem.dedupe_key == key))
            now = self._clock()
            if outbox is None:
                self._enqueue(session, row, "create_invoice", key, order_number=order_number)
            else:
                outbox.status = "pending"
                outbox.available_at = now
                outbox.locked_until = None
            row.status = HandoffStatus.PROCESSING.value
            self._touch(row)
            self._audit(session, row, user_id, "retried")
            await session.flush()
            return DecisionResult(
                Outcome.DONE, card=await self._card(session, row), queued=("create_invoice",)
            )

    async def _invoices(self, session: AsyncSession, row: HandoffRow) -> list[InvoiceRow]:
        rows = await session.scalars(
            select(InvoiceRow)
            .where(InvoiceRow.handoff_id == row.id)
            .order_by(InvoiceRow.id)
            .with_for_update()
        )
        return list(rows.all())

    async def reissue(self, handoff_id: str, user_id: str, *, is_approver: bool) -> DecisionResult:
        """Replace an expired, cancelled or underpaid invoice with a new one (new order number).

        The old invoice stays (marked superseded) for the audit trail. The row lock makes a
        double click reissue once: the second click finds the new invoice and is refused.
        """
        async with self._db.sessions() as session, session.begin():
            row = await self._locked(session, handoff_id)
            if row is None:
                return DecisionResult(Outcome.NOT_FOUND)
            if not is_approver:
                return DecisionResult(Outcome.NOT_APPROVER)
            if row.status in CLOSED:
                return DecisionResult(Outcome.CLOSED, card=await self._card(session, row))
            invoices = await self._invoices(session, row)
            old = current_invoice(invoices)
            if old is None or _invoice_info(old).reissuable is False:
                by, at = await self._last(session, row, "reissued")
                return DecisionResult(
                    Outcome.NOT_APPLICABLE, by=by, at=at, card=await self._card(session, row)
                )
            now = self._clock()
            order_number = reissue_order_number(row.call_id, len(invoices) + 1)
            old.superseded_at = now
            old.updated_at = now
            session.add(
                InvoiceRow(
                    handoff_id=row.id,
                    order_number=order_number,
                    status="creating",
                    amount=old.amount,
                    currency=old.currency,
                    email=old.email,
                    created_at=now,
                    updated_at=now,
                )
            )
            self._enqueue(
                session,
                row,
                "create_invoice",
                _create_key(order_number),
                order_number=order_number,
            )
            row.status = HandoffStatus.PROCESSING.value
            self._touch(row)
            self._audit(
                session,
                row,
                user_id,
                "reissued",
                previous_order=old.order_number,
                previous_txn_id=old.txn_id,
                previous_status=old.status,
                previous_state=old.payment_state,
                order_number=order_number,
            )
            await session.flush()
            return DecisionResult(
                Outcome.DONE, card=await self._card(session, row), queued=("create_invoice",)
            )

    async def _last(
        self, session: AsyncSession, row: HandoffRow, action: EventType | str
    ) -> tuple[str | None, datetime | None]:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.handoff_id == row.id, AuditEntry.action == EventType(action).value)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
        return (entry.actor, entry.at) if entry else (None, None)

    def _restart_reminders(self, row: HandoffRow) -> None:
        if row.deadline is None or row.status in CLOSED:
            row.next_reminder_at = None
            return
        heads_up = timedelta(minutes=self._routing().reminders.heads_up_before_minutes)
        now = self._clock()
        row.reminder_step = 0
        row.snoozed_until = None
        row.next_reminder_at = max(row.deadline - heads_up, now) if row.deadline > now else now


def _values(actions: Sequence[EventType]) -> list[str]:
    """The stored ``audit_log.action`` values of ``actions`` (for SQL ``IN``)."""
    return [action.value for action in actions]


def _create_key(order_number: str) -> str:
    """The outbox key of the work creating one invoice (the first one's order number is the call id)."""
    return f"create_invoice:{order_number}"


def _invoice_info(invoice: InvoiceRow) -> InvoiceInfo:
    return InvoiceInfo(
        order_number=invoice.order_number,
        status=invoice.status,
        amount=invoice.amount,
        currency=invoice.currency,
        txn_id=invoice.txn_id,
        url=invoice.invoice_url,
        error=invoice.last_error,
        paid=invoice.paid_at is not None or invoice.payment_state in PAID_STATES,
        payment_state=invoice.payment_state,
        expected=invoice.expected_amount,
        expected_currency=invoice.expected_currency,
        received=invoice.received_amount,
        received_currency=invoice.received_currency,
        review_reason=invoice.review_reason,
        superseded=invoice.superseded_at is not None,
    )


def current_invoice(invoices: Sequence[InvoiceRow]) -> InvoiceRow | None:
    """The invoice a handoff is about now: the one paid, else the newest no reissue replaced."""
    paid = [i for i in invoices if i.paid_at is not None]
    live = paid or [i for i in invoices if i.superseded_at is None] or list(invoices)
    return live[-1] if live else None


def reissue_order_number(call_id: str, issue: int) -> str:
    """The order number of a handoff's ``issue``-th invoice: ``{call_id}-r{issue}``.

    Stable, so a retry after a crash looks the same order up in Plisio before creating it again.
    A call id too long to take the suffix keeps its start and a short digest of the whole.
    """
    suffix = f"-r{issue}"
    if len(call_id) + len(suffix) <= ORDER_NUMBER_MAX:
        return call_id + suffix
    digest = hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:12]
    keep = ORDER_NUMBER_MAX - len(suffix) - len(digest) - 1
    return f"{call_id[:keep]}-{digest}{suffix}"


def build_card(
    row: HandoffRow,
    approvals: Any,
    audit: Any,
    invoices: Sequence[InvoiceRow],
    routing: RoutingConfig,
    *,
    sandbox: bool = False,
    refund: RefundRow | None = None,
    info: InfoRequestRow | None = None,
) -> HandoffCard:
    """Assemble the display view of one handoff from its stored rows."""
    handoff = Handoff.model_validate(row.payload)
    invoice = current_invoice(invoices)
    invoice_info = _invoice_info(invoice) if invoice is not None else None
    superseded = tuple(_invoice_info(i) for i in invoices if i is not invoice)
    return HandoffCard(
        handoff_id=row.id,
        call_id=row.call_id,
        kind=row.kind,
        handoff=handoff,
        workflow=Workflow(row.workflow),
        urgency=Urgency(row.urgency),
        urgent=row.urgent,
        status=HandoffStatus(row.status),
        channel=row.channel,
        message_ts=row.message_ts,
        urgent_reasons=tuple(row.resolution.get("urgent_reasons", ())),
        review_flags=tuple(ReviewFlag(f) for f in row.review_flags),
        missing_fields=tuple(row.missing_fields),
        redacted=tuple(row.redacted),
        owner=row.owner,
        owner_slack_id=row.owner_slack_id,
        requested_by=row.requested_by,
        deadline=row.deadline,
        amount=row.amount,
        currency=row.currency,
        two_person=row.two_person,
        approvals=tuple(ApprovalMark(a.approver, a.at, a.on_behalf_of) for a in approvals),
        actions=tuple(
            ActionMark(e.action, e.actor, e.at, e.detail.get("reason") or e.detail.get("to"))
            for e in audit
        ),
        decline_reason=row.resolution.get("decline_reason"),
        invoice=invoice_info,
        superseded_invoices=superseded,
        last_error=invoice.last_error if invoice is not None else None,
        mention_group=routing.mentions.finance_group if row.urgent else None,
        sandbox=sandbox,
        received_at=row.created_at,
        context={
            str(name): dict(value)
            for name, value in (row.context or {}).items()
            if isinstance(value, dict)
        },
        refund=_refund_info(refund, row.resolution) if refund is not None else None,
        info=None
        if info is None
        else InfoWaiting(info.asked_by, info.asked_to, info.question, info.asked_at, info.due_at),
    )


def _refund_info(refund: RefundRow, resolution: dict[str, Any] | None) -> RefundInfo:
    policy = (resolution or {}).get(refunds.POLICY_KEY)
    waits = policy.get("reasons") if isinstance(policy, dict) else None
    return RefundInfo(
        status=refund.status,
        system=refund.system,
        amount=refund.amount,
        currency=refund.currency,
        payment_ref=refund.payment_ref,
        automatic=refund.automatic,
        policy_version=refund.policy_version,
        rule=refund.rule,
        decided_by=refund.decided_by,
        execute_after=refund.execute_after,
        external_id=refund.external_id,
        error=refund.error,
        not_automatic=tuple(str(r) for r in waits) if isinstance(waits, list) else (),
    )
