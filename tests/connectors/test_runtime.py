"""ConnectorRuntime: one outbox item per (connector, event), and what each answer does to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connectors.base import Done, GiveUp, RetryAfter
from connectors.runtime import ConnectorRuntime
from services.db.engine import Database
from services.db.models import AuditEntry, OutboxItem
from services.events import BOT, Event, EventLog, EventType, OutboxKind, Subscriptions
from services.outbox import ClaimedItem, Outbox
from tests.connectors.toy import ScriptedToy
from tests.support.clock import FakeClock
from tests.support.db import fresh_database

CARD = "4111 1111 1111 1111"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def record(db: Database, log: EventLog, event: Event) -> None:
    async with db.sessions() as session, session.begin():
        log.record(session, event)


def note(clock: FakeClock, key: str = "ev1") -> Event:
    return Event(EventType.NOTE_ADDED, None, BOT, clock(), {"text": "hello"}, key=key)


async def setup(
    db: Database, clock: FakeClock, toy: ScriptedToy, **options: int
) -> tuple[ConnectorRuntime, Outbox]:
    outbox = Outbox(db, clock=clock)
    log = EventLog(Subscriptions({toy.name: toy.handles}))
    runtime = ConnectorRuntime(db, outbox, [toy], clock, log, **options)
    await record(db, log, note(clock))
    return runtime, outbox


async def claim_one(outbox: Outbox) -> ClaimedItem:
    items = await outbox.claim()
    assert len(items) == 1 and items[0].kind == OutboxKind.CONNECTOR.value
    return items[0]


async def item_row(db: Database) -> OutboxItem:
    async with db.sessions() as session:
        row = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "connector"))
        assert row is not None
        return row


async def failures(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == EventType.CONNECTOR_FAILED.value)
        )
        return list(rows)


async def test_done_completes_the_item_and_the_connector_saw_the_event(
    db: Database, clock: FakeClock
) -> None:
    toy = ScriptedToy([Done()])
    runtime, outbox = await setup(db, clock, toy)
    item = await claim_one(outbox)
    assert item.payload == {"connector": "toy", "event": "ev1"}
    await runtime.run(item)
    assert toy.seen == [("ev1", 1)]
    assert (await item_row(db)).status == "done"
    assert await failures(db) == []


async def test_retry_after_reschedules_with_the_connectors_delay(
    db: Database, clock: FakeClock
) -> None:
    toy = ScriptedToy([RetryAfter(30, "HTTP 429"), Done()])
    runtime, outbox = await setup(db, clock, toy)
    await runtime.run(await claim_one(outbox))
    row = await item_row(db)
    assert (row.status, row.last_error) == ("pending", "HTTP 429")
    assert row.available_at == clock() + timedelta(seconds=30)
    assert await outbox.claim() == []  # not due yet
    clock.advance(seconds=31)
    again = await claim_one(outbox)
    await runtime.run(again)
    assert toy.seen == [("ev1", 1), ("ev1", 2)]
    assert (await item_row(db)).status == "done"


async def test_retries_are_capped_then_given_up_once(db: Database, clock: FakeClock) -> None:
    toy = ScriptedToy([RetryAfter(1, "HTTP 503")])
    runtime, outbox = await setup(db, clock, toy, max_attempts=3)
    for _ in range(3):
        await runtime.run(await claim_one(outbox))
        clock.advance(seconds=5)
    assert await outbox.claim() == []
    row = await item_row(db)
    assert row.status == "failed" and "gave up after 3 tries: HTTP 503" in (row.last_error or "")
    [failed] = await failures(db)
    assert failed.detail["connector"] == "toy" and failed.detail["event"] == "note_added"


async def test_give_up_fails_the_item_and_records_connector_failed_once(
    db: Database, clock: FakeClock
) -> None:
    toy = ScriptedToy([GiveUp(f"Toy refused the ticket: card {CARD} is not allowed")])
    runtime, outbox = await setup(db, clock, toy)
    item = await claim_one(outbox)
    await runtime.run(item)
    await runtime.run(item)  # a crash after recording, before the outbox heard: run again
    assert (await item_row(db)).status == "failed"
    [failed] = await failures(db)
    assert failed.detail["connector"] == "toy"
    assert failed.detail["event"] == "note_added"
    assert failed.detail["reason"].startswith("Toy refused the ticket")
    assert CARD not in str(failed.detail)  # suppressed before it is recorded
    assert "hello" not in str(failed.detail)  # never the event's payload
    assert CARD not in ((await item_row(db)).last_error or "")


async def test_a_connector_that_raises_is_retried_with_backoff(
    db: Database, clock: FakeClock
) -> None:
    toy = ScriptedToy([RuntimeError("socket closed"), Done()])
    runtime, outbox = await setup(db, clock, toy)
    await runtime.run(await claim_one(outbox))
    row = await item_row(db)
    assert row.status == "pending" and "RuntimeError: socket closed" in (row.last_error or "")
    assert row.available_at > clock()
    clock.advance(minutes=10)
    await runtime.run(await claim_one(outbox))
    assert (await item_row(db)).status == "done"
    assert await failures(db) == []


async def test_an_unknown_connector_is_given_up_with_a_clear_reason(
    db: Database, clock: FakeClock
) -> None:
    toy = ScriptedToy([Done()])
    _, outbox = await setup(db, clock, toy)
    runtime = ConnectorRuntime(db, outbox, [], clock, EventLog())  # toy is off now
    await runtime.run(await claim_one(outbox))
    row = await item_row(db)
    assert row.status == "failed" and row.last_error == "no connector named 'toy' is on"
    [failed] = await failures(db)
    assert failed.detail["connector"] == "toy"
    assert toy.seen == []


async def test_the_same_event_recorded_twice_makes_one_outbox_item(
    db: Database, clock: FakeClock
) -> None:
    toy = ScriptedToy([Done()])
    other = ScriptedToy([Done()], name="other")
    log = EventLog(Subscriptions({"toy": toy.handles, "other": other.handles}))
    await record(db, log, note(clock, "dup"))
    with pytest.raises(IntegrityError):
        await record(db, log, note(clock, "dup"))  # a retry, a double click, a second replica
    async with db.sessions() as session:
        keys = (await session.scalars(select(OutboxItem.dedupe_key))).all()
        audit = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert sorted(keys) == ["other:dup", "toy:dup"]  # one per connector, not per recording
    assert audit == 1


def test_subscriptions_come_from_the_connectors_that_are_on(clock: FakeClock) -> None:
    toy = ScriptedToy([Done()], handles=frozenset({EventType.PAID, EventType.APPROVED}))
    runtime = ConnectorRuntime(None, None, [toy], clock, EventLog())  # type: ignore[arg-type]
    subscriptions = runtime.subscriptions()
    assert subscriptions.connectors_for(EventType.PAID) == ("toy",)
    assert subscriptions.connectors_for(EventType.DECLINED) == ()


async def test_a_read_side_connector_stores_what_it_learned_on_the_handoff_once(
    db: Database, clock: FakeClock
) -> None:
    from services.db.models import HandoffRow
    from services.handoff_model import Handoff
    from services.intake import HandoffIntake
    from tests.support.examples import example
    from tests.support.routing import make_routing

    routing = make_routing()
    intake = HandoffIntake(db, lambda: routing, clock=clock)
    handoff = Handoff.model_validate(example("create_invoice", call_id="dnx_ctx_1"))
    handoff_id = (await intake.store(handoff)).handoff_id
    learned = {"subscription": {"status": "past_due", "note": f"card {CARD}"}}
    toy = ScriptedToy([Done(context=learned)], handles=frozenset({EventType.NOTE_ADDED}))
    outbox = Outbox(db, clock=clock)
    log = EventLog(Subscriptions({toy.name: toy.handles}))
    runtime = ConnectorRuntime(db, outbox, [toy], clock, log)
    await record(db, log, Event(EventType.NOTE_ADDED, handoff_id, BOT, clock(), key="ev-ctx"))

    (item,) = [i for i in await outbox.claim() if i.kind == OutboxKind.CONNECTOR.value]
    await runtime.run(item)
    # A crash before the item was marked done runs it again: the context is the same, the
    # "context updated" event is not repeated.
    await runtime.run(item)

    async with db.sessions() as session:
        row = await session.get(HandoffRow, handoff_id)
        assert row is not None and row.context is not None
        updates = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == EventType.CONTEXT_UPDATED.value)
            )
        )
    stored = row.context["toy"]["subscription"]
    assert stored["status"] == "past_due"
    assert "4111" not in stored["note"] and "card ending 1111" in stored["note"]
    assert [(u.handoff_id, u.detail["connector"]) for u in updates] == [(handoff_id, "toy")]
