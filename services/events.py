"""Domain events: the one vocabulary of what happened to a handoff.

Every state change writes one event in the same transaction as the change (``EventLog.record``).
The audit log *is* the event log (table ``audit_log``): the App Home, ``/handoff``'s trail and the
thread notes read it, and each connector subscribed to an event type gets one outbox item per
event, keyed ``{connector}:{event key}``, so a retry, a double click or a crash cannot make a
second external write.

Facts that change no state (a refused click, a look-up, a nudge sent) are events too: the audit
log must show them, and nothing subscribes to them unless it wants to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.db.models import AuditEntry

__all__ = [
    "BOT",
    "PLISIO",
    "Event",
    "EventLog",
    "EventType",
    "OutboxKind",
    "Subscriptions",
    "Work",
    "connector_key",
    "new_event_key",
]

BOT = "bot"  # the actor of what the bot does by itself
PLISIO = "plisio"  # the actor of what a Plisio callback reports


class EventType(StrEnum):
    """Every kind of event; the values are what ``audit_log.action`` holds (unchanged since v1)."""

    RECEIVED = "received"  # a DialNexa handoff was stored
    POSTED = "posted"  # its message is in Slack
    REROUTED = "rerouted"  # its channel refused the post; it went to the fallback channel
    APPROVED = "approved"  # one approval recorded (detail: approval n of m)
    DECLINED = "declined"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    SNOOZED = "snoozed"
    DONE = "done"
    RETRIED = "retried"  # a failed invoice is tried again
    REISSUED = "reissued"  # a new invoice replaces a badly settled one
    INVOICE_CREATED = "invoice_created"
    INVOICE_FAILED = "invoice_failed"
    # What a Plisio callback concluded about an invoice's money. The callback itself records
    # PAYMENT_STATUS (detail: the status and the concluded state) for every change it applies;
    # PAID ... CANCELLED name the concluded states in thread notes.
    PAID = "paid"
    MISMATCH = "mismatch"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    PAYMENT_STATUS = "payment_status"
    # A Plisio callback that changed nothing, recorded for the investigation.
    CALLBACK_UNMATCHED = "callback_unmatched"  # no stored invoice has its txn_id / order number
    CALLBACK_CONFLICT = "callback_conflict"  # txn_id and order number name different invoices
    STATUS_REGRESSION = "status_regression"  # a paid invoice reported unpaid again: kept paid
    STATUS_OUT_OF_ORDER = "status_out_of_order"  # an earlier status after a later one: kept
    NUDGE_DUE = "nudge_due"  # a reminder step was claimed and its nudge queued
    NUDGE_SENT = "nudge_sent"  # a reminder or escalation DM went out
    APPROVAL_DM_SENT = "approval_dm_sent"  # a handoff's decision message copied to a DM
    NOTE_ADDED = "note_added"  # a note in the handoff's thread
    CONTEXT_UPDATED = "context_updated"  # a read-side connector learned something
    CONTEXT_REQUESTED = "context_requested"  # someone asked to read the connected systems again
    CONNECTOR_FAILED = "connector_failed"  # a connector gave up on an event (detail: why)
    EXTERNAL_LINKED = "external_linked"  # a connector created or found an external object
    # Refunds (services/refunds). Connectors that move or book money subscribe to RELEASED
    # (execute now) and to SUCCEEDED / MARKED (book what happened).
    REFUND_SCHEDULED = "refund_scheduled"  # allowed by policy; executes after the grace window
    REFUND_REVERSED = "refund_reversed"  # a person stopped an automatic refund in its grace window
    REFUND_RELEASED = "refund_released"  # approved (or grace over): execute it now
    REFUND_SUCCEEDED = "refund_succeeded"  # the payment system refunded the money
    REFUND_FAILED = "refund_failed"  # the payment system refused or the refund failed
    REFUND_REFUSED = "refund_refused"  # a guardrail refused it (disputed, over the payment, ...)
    REFUND_MANUAL = "refund_manual"  # no API can refund it (crypto): finance follows a checklist
    REFUND_MARKED = "refund_marked"  # an approver marked a manual refund as done
    INFO_REQUESTED = "info_requested"  # an approver asked a question before deciding
    INFO_ANSWERED = "info_answered"  # the person asked answered it (thread reply or modal)
    REFUSED = "refused"  # a click, command or submission the policy refused
    LOOKED_UP = "looked_up"  # /invoice <email>, /handoff and other read-only answers
    EXPORTED = "exported"  # the audit trail left as CSV (detail: via, from, to, rows)
    # Delegation (services/delegation): an approver away until a time, and who stands in.
    DELEGATION_SET = "delegation_set"  # detail: approver, delegate, until, replaced (an old one)
    DELEGATION_ENDED = "delegation_ended"  # "I'm back" (detail: the delegation ended)


class OutboxKind(StrEnum):
    """Every kind of queued work; ``Outbox.enqueue`` takes nothing else."""

    POST_HANDOFF = "post_handoff"  # the Slack adapter posts a stored handoff
    CREATE_INVOICE = "create_invoice"  # the payment provider creates an invoice
    LOOKUP_INVOICES = "lookup_invoices"  # /invoice <email> answered in the background
    NUDGE = "nudge"  # a reminder DM
    DIGEST = "digest"  # the Slack adapter posts one channel's low-priority digest
    THREAD_NOTE = "thread_note"  # the Slack adapter adds one keyed note to a handoff's thread
    CONNECTOR = "connector"  # one (connector, event) pair: payload {connector, event}
    WEEKLY_SUMMARY = "weekly_summary"  # the finance lead's weekly numbers (services/summary.py)
    APPROVER_DM = "approver_dm"  # copies of a decision message to approvers' DMs (one event)
    EXPORT = "export"  # the audit trail as CSV, uploaded to the requester's DM


def new_event_key() -> str:
    """A fresh event key: unique, and stable once written (it keys every connector's work)."""
    return uuid.uuid4().hex


def connector_key(connector: str, event_key: str) -> str:
    """The outbox dedupe key of one connector's work on one event."""
    return f"{connector}:{event_key}"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened, as it is written to the audit log."""

    type: EventType
    handoff_id: str | None
    actor: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)
    key: str = field(default_factory=new_event_key)

    def row(self) -> dict[str, Any]:
        """The ``audit_log`` values of this event (for bulk inserts)."""
        return {
            "key": self.key,
            "handoff_id": self.handoff_id,
            "at": self.at,
            "actor": self.actor,
            "action": self.type.value,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_row(cls, entry: AuditEntry) -> Event:
        return cls(
            type=EventType(entry.action),
            handoff_id=entry.handoff_id,
            actor=entry.actor,
            at=entry.at,
            detail=dict(entry.detail or {}),
            key=entry.key or f"audit-{entry.id}",
        )


class NoteLike(Protocol):
    """A thread note as data (``services.notes.NoteSpec``)."""

    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Work:
    """Outbox work an event asks for, beside its connectors and note (``EventLog(work=...)``)."""

    kind: OutboxKind
    key: str
    payload: Mapping[str, Any] = field(default_factory=dict)


class Subscriptions:
    """Which connectors handle which event types; fixed at start-up."""

    def __init__(self, table: Mapping[str, Iterable[EventType]] | None = None) -> None:
        self._by_type: dict[EventType, tuple[str, ...]] = {}
        for connector, types in (table or {}).items():
            for event_type in types:
                self._by_type[event_type] = (*self._by_type.get(event_type, ()), connector)

    def connectors_for(self, event_type: EventType) -> tuple[str, ...]:
        return self._by_type.get(event_type, ())

    def __bool__(self) -> bool:
        return bool(self._by_type)


class EventLog:
    """Writes events: the audit row, one outbox item per subscribed connector and, when
    ``notes`` says the handoff's thread is told about it, the note's work, all in the caller's
    transaction."""

    def __init__(
        self,
        subscriptions: Subscriptions | None = None,
        *,
        notes: Callable[[Event], NoteLike | None] | None = None,
        work: Iterable[Callable[[Event], Work | None]] = (),
    ) -> None:
        self.subscriptions = subscriptions or Subscriptions()
        self.notes = notes
        # More work an event asks for (approver DMs): queued with the event, keyed by it.
        self.work = tuple(work)

    def extra_work(self, event: Event) -> list[Work]:
        """The work ``work``'s hooks ask for on ``event``."""
        return [found for hook in self.work if (found := hook(event)) is not None]

    def record(self, session: AsyncSession, event: Event) -> Event:
        """Add ``event`` (and its connectors' work) to ``session``'s transaction."""
        # Imported here: the outbox imports this module's vocabulary.
        from services.outbox import Outbox

        session.add(AuditEntry(**event.row()))
        for connector in self.subscriptions.connectors_for(event.type):
            Outbox.enqueue(
                session,
                kind=OutboxKind.CONNECTOR,
                key=connector_key(connector, event.key),
                handoff_id=event.handoff_id,
                payload={"connector": connector, "event": event.key},
                now=event.at,
            )
        note = self.notes(event) if self.notes is not None else None
        if note is not None:
            key = f"note:{event.key}"
            Outbox.enqueue(
                session,
                kind=OutboxKind.THREAD_NOTE,
                key=key,
                handoff_id=event.handoff_id,
                payload={"key": key, "spec": note.payload()},
                now=event.at,
            )
        for extra in self.extra_work(event):
            Outbox.enqueue(
                session,
                kind=extra.kind,
                key=extra.key,
                handoff_id=event.handoff_id,
                payload=dict(extra.payload),
                now=event.at,
            )
        return event

    def rows(self, events: Iterable[Event]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Audit and outbox values for a bulk insert of ``events`` (intake's batches)."""
        from services.outbox import Outbox

        audit: list[dict[str, Any]] = []
        work: list[dict[str, Any]] = []
        for event in events:
            audit.append(event.row())
            for connector in self.subscriptions.connectors_for(event.type):
                work.append(
                    Outbox.values(
                        kind=OutboxKind.CONNECTOR,
                        key=connector_key(connector, event.key),
                        handoff_id=event.handoff_id,
                        payload={"connector": connector, "event": event.key},
                        now=event.at,
                    )
                )
            note = self.notes(event) if self.notes is not None else None
            if note is not None:
                key = f"note:{event.key}"
                work.append(
                    Outbox.values(
                        kind=OutboxKind.THREAD_NOTE,
                        key=key,
                        handoff_id=event.handoff_id,
                        payload={"key": key, "spec": note.payload()},
                        now=event.at,
                    )
                )
            for extra in self.extra_work(event):
                work.append(
                    Outbox.values(
                        kind=extra.kind,
                        key=extra.key,
                        handoff_id=event.handoff_id,
                        payload=dict(extra.payload),
                        now=event.at,
                    )
                )
        return audit, work
