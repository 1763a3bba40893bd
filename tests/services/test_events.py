"""Domain events: every HandoffService transition writes exactly one, in the change's transaction;
an EventLog fans events out to subscribed connectors; bulk rows match what record() writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.plisio import parse_callback
from services.db.engine import Database
from services.db.models import Approval, AuditEntry, HandoffRow, InvoiceRow, OutboxItem
from services.events import (
    BOT,
    PLISIO,
    Event,
    EventLog,
    EventType,
    OutboxKind,
    Subscriptions,
    connector_key,
)
from services.handoff_model import Handoff
from services.handoffs import DecisionResult, HandoffService
from services.intake import HandoffIntake
from services.outbox import Outbox
from services.payments import PaymentOutcome, PaymentState, PaymentUpdates, payment_event
from services.reminders import ReminderService
from services.routing import RoutingConfig
from tests.support.clock import FakeClock
from tests.support.examples import example

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
APPROVER, OTHER = "U0APPROVER1", "U0APPROVER2"
UNTIL = NOW + timedelta(hours=4)


class Boom(Exception):
    """Raised after a change was made, inside its transaction."""


class FailingEventLog(EventLog):
    """Records the event, then fails the transaction it is part of."""

    def record(self, session: AsyncSession, event: Event) -> Event:
        super().record(session, event)
        raise Boom(event.type.value)


async def store(db: Database, routing: RoutingConfig, call_id: str, **changes: Any) -> str:
    intake = HandoffIntake(db, lambda: routing, clock=lambda: NOW)
    handoff = Handoff.model_validate(example("create_invoice", call_id=call_id, **changes))
    return (await intake.store(handoff)).handoff_id


async def update_row(db: Database, handoff_id: str, **values: Any) -> None:
    async with db.sessions() as session, session.begin():
        row = await session.get(HandoffRow, handoff_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


async def add_expired_invoice(db: Database, handoff_id: str) -> None:
    async with db.sessions() as session, session.begin():
        row = await session.get(HandoffRow, handoff_id)
        assert row is not None
        row.status = "invoiced"
        session.add(
            InvoiceRow(
                handoff_id=handoff_id,
                order_number=row.call_id,
                status="expired",
                payment_state="expired",
                txn_id="txn_expired_1",
                amount=Decimal("4200.00"),
                currency="USD",
                created_at=NOW,
                updated_at=NOW,
            )
        )


async def audit(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def outbox(db: Database) -> list[OutboxItem]:
    async with db.sessions() as session:
        return list(await session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


async def handoff_row(db: Database, handoff_id: str) -> HandoffRow:
    async with db.sessions() as session:
        row = await session.get(HandoffRow, handoff_id)
        assert row is not None
        return row


async def approvals(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Approval)) or 0)


Act = Callable[[HandoffService, str], Awaitable[DecisionResult | None]]
Setup = Callable[[Database, str], Awaitable[None]]


async def nothing(db: Database, handoff_id: str) -> None:
    return None


async def two_person(db: Database, handoff_id: str) -> None:
    await update_row(db, handoff_id, two_person=True)


async def approved(db: Database, handoff_id: str) -> None:
    await update_row(db, handoff_id, status="approved")


async def failed_invoice(db: Database, handoff_id: str) -> None:
    await update_row(db, handoff_id, status="action_failed")


# name: (setup, the transition, its event type, its actor, what its detail holds)
TRANSITIONS: dict[str, tuple[Setup, Act, EventType, str, dict[str, Any]]] = {
    "approve (1 of 2)": (
        two_person,
        lambda s, h: s.approve(h, APPROVER, is_approver=True, identity_confirmed=True),
        EventType.APPROVED,
        APPROVER,
        {"approval": 1, "of": 2, "identity_confirmed": True, "email_invoice": False},
    ),
    "approve (final)": (
        nothing,
        lambda s, h: s.approve(h, APPROVER, is_approver=True, identity_confirmed=True),
        EventType.APPROVED,
        APPROVER,
        {"approval": 1, "of": 1, "identity_confirmed": True, "email_invoice": False},
    ),
    "decline": (
        nothing,
        lambda s, h: s.decline(h, APPROVER, "Quote expired"),
        EventType.DECLINED,
        APPROVER,
        {"reason": "Quote expired"},
    ),
    "escalate": (
        nothing,
        lambda s, h: s.escalate(h, OTHER, "Customer on the phone"),
        EventType.ESCALATED,
        OTHER,
        {"reason": "Customer on the phone", "urgency_before": "normal", "urgency": "high"},
    ),
    "reassign": (
        nothing,
        lambda s, h: s.reassign(h, APPROVER, "U0BILLINGOPS"),
        EventType.REASSIGNED,
        APPROVER,
        {"to": "U0BILLINGOPS", "previous": "billing-ops@acme.example"},
    ),
    "snooze": (
        nothing,
        lambda s, h: s.snooze(h, OTHER, UNTIL),
        EventType.SNOOZED,
        OTHER,
        {"until": UNTIL.isoformat()},
    ),
    "mark done": (
        approved,
        lambda s, h: s.mark_done(h, OTHER),
        EventType.DONE,
        OTHER,
        {},
    ),
    "retry": (
        failed_invoice,
        lambda s, h: s.retry(h, APPROVER, is_approver=True),
        EventType.RETRIED,
        APPROVER,
        {},
    ),
    "reissue": (
        add_expired_invoice,
        lambda s, h: s.reissue(h, APPROVER, is_approver=True),
        EventType.REISSUED,
        APPROVER,
        {"previous_order": "dnx_evt_reissue", "previous_state": "expired"},
    ),
    "record (refusal)": (
        nothing,
        lambda s, h: s.record(h, OTHER, EventType.REFUSED, {"action": "approve", "reason": "x"}),
        EventType.REFUSED,
        OTHER,
        {"action": "approve", "reason": "x"},
    ),
}


def service(db: Database, routing: RoutingConfig, events: EventLog | None = None) -> HandoffService:
    return HandoffService(db, lambda: routing, clock=lambda: NOW, events=events)


@pytest.mark.parametrize("name", list(TRANSITIONS))
async def test_each_transition_writes_exactly_one_event(
    database: Database, routing: RoutingConfig, name: str
) -> None:
    setup, act, event_type, actor, detail = TRANSITIONS[name]
    handoff_id = await store(database, routing, f"dnx_evt_{name.split()[0]}")
    await setup(database, handoff_id)
    before = await audit(database)

    result = await act(service(database, routing), handoff_id)

    assert result is None or result.ok, result
    new = (await audit(database))[len(before) :]
    assert [(e.action, e.actor, e.handoff_id, e.at) for e in new] == [
        (event_type.value, actor, handoff_id, NOW)
    ]
    assert detail.items() <= new[0].detail.items()
    assert new[0].key  # every event has its key: connectors' work is keyed by it
    assert Event.from_row(new[0]).type is event_type


@pytest.mark.parametrize("name", list(TRANSITIONS))
async def test_a_failed_transaction_keeps_neither_the_change_nor_its_event(
    database: Database, routing: RoutingConfig, name: str
) -> None:
    setup, act, _, _, _ = TRANSITIONS[name]
    handoff_id = await store(database, routing, f"dnx_evt_{name.split()[0]}")
    await setup(database, handoff_id)
    before_row = await handoff_row(database, handoff_id)
    before = (await audit(database), await outbox(database), await approvals(database))
    broken = service(database, routing, FailingEventLog(Subscriptions({"ledger": EventType})))

    with pytest.raises(Boom):
        await act(broken, handoff_id)

    after_row = await handoff_row(database, handoff_id)
    assert (after_row.status, after_row.version, after_row.urgency, after_row.owner) == (
        before_row.status,
        before_row.version,
        before_row.urgency,
        before_row.owner,
    )
    assert (after_row.snoozed_until, after_row.resolution) == (
        before_row.snoozed_until,
        before_row.resolution,
    )
    after = (await audit(database), await outbox(database), await approvals(database))
    assert [e.id for e in after[0]] == [e.id for e in before[0]]
    assert [i.id for i in after[1]] == [i.id for i in before[1]]
    assert after[2] == before[2]


async def test_subscribed_connectors_get_one_item_per_event_and_others_none(
    database: Database, routing: RoutingConfig
) -> None:
    events = EventLog(
        Subscriptions({"zendesk": [EventType.DECLINED], "sheets": [EventType.DECLINED]})
    )
    handoffs = service(database, routing, events)
    declined = await store(database, routing, "dnx_evt_fanout")
    escalated = await store(database, routing, "dnx_evt_quiet")
    before = len(await outbox(database))

    await handoffs.escalate(escalated, APPROVER, "nobody subscribes to this")
    assert len(await outbox(database)) == before
    await handoffs.decline(declined, APPROVER, "Quote expired")

    [event] = [e for e in await audit(database) if e.action == EventType.DECLINED.value]
    assert event.key is not None
    work = (await outbox(database))[before:]
    assert sorted((i.kind, i.dedupe_key, i.handoff_id) for i in work) == [
        (OutboxKind.CONNECTOR.value, connector_key("sheets", event.key), declined),
        (OutboxKind.CONNECTOR.value, connector_key("zendesk", event.key), declined),
    ]
    assert connector_key("sheets", event.key) == f"sheets:{event.key}"
    assert sorted(i.payload["connector"] for i in work) == ["sheets", "zendesk"]
    assert {i.payload["event"] for i in work} == {event.key}
    assert all(i.status == "pending" and i.available_at is not None for i in work)


async def test_bulk_rows_match_what_record_writes(database: Database) -> None:
    events = EventLog(Subscriptions({"zendesk": [EventType.RECEIVED, EventType.NOTE_ADDED]}))
    written = [
        Event(EventType.RECEIVED, None, "dialnexa", NOW, {"workflow": "dispute"}, key="k1"),
        Event(EventType.NOTE_ADDED, None, APPROVER, NOW, {"text": "called back"}, key="k2"),
        Event(EventType.LOOKED_UP, None, OTHER, NOW, {}, key="k3"),
    ]
    audit_rows, work_rows = events.rows(written)
    async with database.sessions() as session, session.begin():
        for event in written:
            events.record(session, event)

    columns = ("key", "handoff_id", "at", "actor", "action", "detail")
    stored = [{c: getattr(e, c) for c in columns} for e in await audit(database)]
    assert stored == [{c: row[c] for c in columns} for row in audit_rows]
    work_columns = ("handoff_id", "kind", "dedupe_key", "payload", "status", "attempts")
    queued = [{c: getattr(i, c) for c in work_columns} for i in await outbox(database)]
    assert queued == [{c: row[c] for c in work_columns} for row in work_rows]
    assert [i["dedupe_key"] for i in queued] == ["zendesk:k1", "zendesk:k2"]
    assert [Event.from_row(e) for e in await audit(database)] == written


async def test_intake_writes_received_events_and_their_connector_work_in_bulk(
    database: Database, routing: RoutingConfig
) -> None:
    events = EventLog(Subscriptions({"sheets": [EventType.RECEIVED]}))
    intake = HandoffIntake(database, lambda: routing, clock=lambda: NOW, events=events)
    calls = [f"dnx_evt_bulk_{i}" for i in range(5)]
    results = await asyncio.gather(
        *(intake.store(Handoff.model_validate(example("create_invoice", call_id=c))) for c in calls)
    )

    received = await audit(database)
    assert sorted(e.handoff_id or "" for e in received) == sorted(r.handoff_id for r in results)
    assert {(e.action, e.actor) for e in received} == {(EventType.RECEIVED.value, "dialnexa")}
    assert all(e.detail["workflow"] == "create_invoice" for e in received)
    work = await outbox(database)
    posts = [i for i in work if i.kind == OutboxKind.POST_HANDOFF.value]
    assert sorted(i.dedupe_key for i in posts) == sorted(f"post_handoff:{c}" for c in calls)
    connectors = [i for i in work if i.kind == OutboxKind.CONNECTOR.value]
    assert sorted(i.dedupe_key for i in connectors) == sorted(
        connector_key("sheets", e.key or "") for e in received
    )


async def test_a_claimed_reminder_step_records_nudge_due_with_its_nudge(
    database: Database, routing: RoutingConfig
) -> None:
    handoff_id = await store(database, routing, "dnx_evt_nudge")
    row = await handoff_row(database, handoff_id)
    assert row.deadline is not None and row.next_reminder_at is not None
    clock = FakeClock(row.deadline + timedelta(minutes=1))
    reminders = ReminderService(
        database, lambda: routing, Outbox(database, clock=clock), clock=clock
    )
    before = len(await audit(database))

    assert await reminders.run_once() == 1
    assert await reminders.run_once() == 0

    [due] = (await audit(database))[before:]
    [nudge] = [i for i in await outbox(database) if i.kind == OutboxKind.NUDGE.value]
    assert (due.action, due.actor, due.handoff_id, due.at) == (
        EventType.NUDGE_DUE.value,
        BOT,
        handoff_id,
        clock.now,
    )
    assert due.detail == {
        "step": nudge.payload["step"],
        "kind": nudge.payload["kind"],
        "due_at": nudge.payload["due_at"],
        "owner": nudge.payload["owner"],
    }


async def test_plisio_callbacks_write_their_events_as_plisio(
    database: Database, routing: RoutingConfig
) -> None:
    handoff_id = await store(database, routing, "dnx_evt_paid")
    await add_expired_invoice(database, handoff_id)
    await update_row(database, handoff_id, status="invoiced")
    async with database.sessions() as session, session.begin():
        invoice = await session.scalar(select(InvoiceRow))
        assert invoice is not None
        invoice.status, invoice.payment_state = "new", "awaiting"
    events = EventLog(Subscriptions({"quickbooks": [EventType.PAID]}))
    payments = PaymentUpdates(database, clock=lambda: NOW, events=events)
    before = len(await audit(database))

    paid = await payments.apply(
        parse_callback(
            {
                "txn_id": "txn_expired_1",
                "status": "completed",
                "order_number": "dnx_evt_paid",
                "currency": "USDT",
                "amount": "4200",
                "invoice_total_sum": "4200",
                "source_amount": "4200.00",
                "source_currency": "USD",
            }
        )
    )
    unknown = await payments.apply(
        parse_callback({"txn_id": "txn_nobody", "status": "completed", "order_number": "nope"})
    )

    assert (paid.outcome, unknown.outcome) == (
        PaymentOutcome.UPDATED,
        PaymentOutcome.UNKNOWN_INVOICE,
    )
    new = (await audit(database))[before:]
    assert [(e.action, e.actor, e.handoff_id) for e in new] == [
        (EventType.PAID.value, PLISIO, handoff_id),
        (EventType.CALLBACK_UNMATCHED.value, PLISIO, None),
    ]
    assert new[0].detail["state"] == "paid" and new[1].detail["txn_id"] == "txn_nobody"
    work = [i for i in await outbox(database) if i.kind == OutboxKind.CONNECTOR.value]
    assert [i.dedupe_key for i in work] == [connector_key("quickbooks", new[0].key or "")]


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (PaymentState.PAID, EventType.PAID),
        (PaymentState.OVERPAID, EventType.MISMATCH),
        (PaymentState.UNDERPAID, EventType.MISMATCH),
        (PaymentState.REVIEW, EventType.MISMATCH),
        (PaymentState.EXPIRED, EventType.EXPIRED),
        (PaymentState.CANCELLED, EventType.CANCELLED),
        (PaymentState.AWAITING, EventType.PAYMENT_STATUS),
        (PaymentState.ERROR, EventType.PAYMENT_STATUS),
        (PaymentState.OTHER, EventType.PAYMENT_STATUS),
    ],
)
def test_a_payment_state_is_recorded_as_its_own_event(
    state: PaymentState, event: EventType
) -> None:
    assert payment_event(state) is event
