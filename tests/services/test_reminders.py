"""The reminder ladder (pure, table-driven) and the claim against a real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.db.engine import Database
from services.db.models import HandoffRow, OutboxItem
from services.outbox import Outbox
from services.reminders import (
    NUDGE_KIND,
    NudgeKind,
    Plan,
    ReminderService,
    Step,
    ladder,
    nudge_key,
    plan,
)
from services.routing import LadderStep, Reminders, RoutingConfig
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.routing import make_routing

T = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
DEFAULT = ladder(Reminders())
WITH_HEADS_UP = ladder(Reminders(heads_up_before_minutes=60))
LATE_START = ladder(
    Reminders(
        ladder=[
            LadderStep(after_minutes=30, notify="owner"),
            LadderStep(after_minutes=90, notify="channel"),
        ]
    )
)


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def test_default_ladder_is_owner_then_lead_after_an_hour_then_channel_four_hours_later() -> None:
    expected = (
        Step(NudgeKind.OWNER, m(0)),
        Step(NudgeKind.LEAD, m(60)),
        Step(NudgeKind.CHANNEL, m(300)),
    )
    assert ladder(Reminders()) == expected
    assert WITH_HEADS_UP[0] == Step(NudgeKind.HEADS_UP, m(-60))
    assert WITH_HEADS_UP[1:] == DEFAULT


PLANS: list[tuple[str, tuple[Step, ...], int, datetime | None, datetime, bool, Plan]] = [
    ("owner at the deadline", DEFAULT, 0, T, T, False, Plan(0, 1, T + m(60))),
    ("sent a little late", DEFAULT, 0, T, T + m(0.5), False, Plan(0, 1, T + m(60.5))),
    ("lead an hour later", DEFAULT, 1, T, T + m(60), False, Plan(1, 2, T + m(300))),
    ("channel last", DEFAULT, 2, T, T + m(300), False, Plan(2, 3, None)),
    ("ladder finished", DEFAULT, 3, T, T + m(900), False, Plan(None, 3, None)),
    ("missed owner step keeps the gap", DEFAULT, 0, T, T + m(360), False, Plan(0, 1, T + m(420))),
    ("missed lead step keeps the gap", DEFAULT, 1, T, T + m(420), False, Plan(1, 2, T + m(660))),
    ("heads-up before", WITH_HEADS_UP, 0, T, T - m(60), False, Plan(0, 1, T)),
    (
        "late heads-up: owner still at the deadline",
        WITH_HEADS_UP,
        0,
        T,
        T - m(5),
        False,
        Plan(0, 1, T),
    ),
    ("stale heads-up skipped", WITH_HEADS_UP, 0, T, T, False, Plan(1, 2, T + m(60))),
    ("first step after the deadline", LATE_START, 0, T, T, False, Plan(None, 0, T + m(30))),
    ("then it is sent", LATE_START, 0, T, T + m(30), False, Plan(0, 1, T + m(90))),
    ("closed handoff", DEFAULT, 1, T, T + m(60), True, Plan(None, 1, None)),
    ("no deadline", DEFAULT, 0, None, T, False, Plan(None, 0, None)),
]


@pytest.mark.parametrize(
    ("steps", "step", "base", "now", "closed", "expected"),
    [p[1:] for p in PLANS],
    ids=[p[0] for p in PLANS],
)
def test_plan(
    steps: tuple[Step, ...],
    step: int,
    base: datetime | None,
    now: datetime,
    closed: bool,
    expected: Plan,
) -> None:
    assert plan(steps, step=step, base=base, now=now, closed=closed) == expected


def test_nudge_key_changes_with_each_run_of_the_ladder() -> None:
    assert nudge_key("h1", 0, T, 3) == f"nudge:h1:0:{int(T.timestamp())}:v3"
    assert nudge_key("h1", 0, T, 3) != nudge_key("h1", 0, T, 4)  # reassigned: a fresh ladder
    assert nudge_key("h1", 0, T, 3) != nudge_key("h1", 0, T + m(60), 3)  # snoozed


# ---- the claim, on SQLite or PostgreSQL ----------------------------------------------------


async def add_handoff(
    db: Database,
    *,
    deadline: datetime | None,
    status: str = "open",
    next_at: datetime | None = None,
    step: int = 0,
    snoozed_until: datetime | None = None,
) -> str:
    handoff_id = uuid.uuid4().hex
    async with db.sessions() as session, session.begin():
        session.add(
            HandoffRow(
                id=handoff_id,
                call_id=f"dnx_call_{handoff_id[:12]}",
                kind="handoff",
                workflow="billing_question",
                urgency="normal",
                urgent=False,
                status=status,
                channel="C0FINANCE",
                owner="U0AP",
                owner_slack_id="U0AP",
                deadline=deadline,
                payload=example("billing_question_minimal"),
                occurred_at=T,
                created_at=T,
                updated_at=T,
                next_reminder_at=next_at if next_at is not None else deadline,
                reminder_step=step,
                snoozed_until=snoozed_until,
            )
        )
    return handoff_id


def service(db: Database, clock: FakeClock, routing: RoutingConfig, **kw: Any) -> ReminderService:
    return ReminderService(db, lambda: routing, Outbox(db, clock=clock), clock=clock, **kw)


async def nudges(db: Database) -> list[OutboxItem]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxItem).where(OutboxItem.kind == NUDGE_KIND).order_by(OutboxItem.id)
        )
        return list(rows)


async def row(db: Database, handoff_id: str) -> HandoffRow:
    async with db.sessions() as session:
        found = await session.get(HandoffRow, handoff_id)
        assert found is not None
        return found


async def test_due_step_is_claimed_once_with_its_nudge_queued(database: Database) -> None:
    clock = FakeClock(T - m(10))
    reminders = service(database, clock, make_routing())
    handoff_id = await add_handoff(database, deadline=T)
    assert await reminders.run_once() == 0  # not due yet
    clock.advance(minutes=10)
    assert await reminders.run_once() == 1
    assert await reminders.run_once() == 0  # claimed: nothing more until the lead's step
    items = await nudges(database)
    assert [(i.handoff_id, i.payload["kind"], i.payload["step"]) for i in items] == [
        (handoff_id, "owner", 0)
    ]
    assert items[0].dedupe_key == nudge_key(handoff_id, 0, T, 1)
    stored = await row(database, handoff_id)
    assert (stored.reminder_step, stored.next_reminder_at) == (1, T + m(60))


async def test_ladder_steps_go_out_in_order_each_once(database: Database) -> None:
    clock = FakeClock(T)
    reminders = service(database, clock, make_routing())
    await add_handoff(database, deadline=T)
    for minutes in (0, 30, 60, 120, 300, 600, 6000):
        clock.now = T + m(minutes)
        await reminders.run_once()
        await reminders.run_once()
    assert [i.payload["kind"] for i in await nudges(database)] == ["owner", "lead", "channel"]


async def test_closed_and_snoozed_handoffs_get_nothing(database: Database) -> None:
    clock = FakeClock(T + m(30))
    reminders = service(database, clock, make_routing())
    paid = await add_handoff(database, deadline=T, status="paid")
    snoozed = await add_handoff(database, deadline=T, snoozed_until=T + m(60), next_at=T + m(60))
    assert await reminders.run_once() == 0
    assert (await row(database, paid)).next_reminder_at is None  # cleared, never scanned again
    assert (await row(database, snoozed)).next_reminder_at == T + m(60)
    clock.now = T + m(60)
    assert await reminders.run_once() == 1
    [item] = await nudges(database)
    assert item.handoff_id == snoozed
    assert item.payload["base"] == (T + m(60)).isoformat()  # the ladder restarts from the snooze


async def test_batches_cover_every_due_row(database: Database) -> None:
    clock = FakeClock(T)
    reminders = service(database, clock, make_routing(), batch_size=3)
    ids = {await add_handoff(database, deadline=T - m(i)) for i in range(10)}
    assert await reminders.run_once() == 10
    assert {i.handoff_id for i in await nudges(database)} == ids


async def test_concurrent_passes_claim_each_step_once(database: Database) -> None:
    clock = FakeClock(T)
    routing = make_routing()
    passes = [service(database, clock, routing, batch_size=7) for _ in range(4)]
    for i in range(25):
        await add_handoff(database, deadline=T - m(i))
    for minutes in (0, 60, 120, 300, 420):
        clock.now = T + m(minutes)
        await asyncio.gather(*(p.run_once() for p in passes))
    items = await nudges(database)
    keys = [i.dedupe_key for i in items]
    assert len(keys) == len(set(keys)) == 25 * 3
