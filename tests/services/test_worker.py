"""The generic outbox worker: dispatch by kind, retries with backoff, lanes in order and in pace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.db.engine import Database
from services.db.models import OutboxItem
from services.events import OutboxKind
from services.outbox import ClaimedItem, Outbox
from services.worker import Worker, backoff
from tests.support.clock import FakeClock
from tests.support.db import fresh_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def queue(db: Database, clock: FakeClock, kind: str, key: str, **payload: str) -> None:
    async with db.sessions() as session, session.begin():
        session.add(
            OutboxItem(
                **Outbox.values(
                    kind=OutboxKind.NUDGE, key=key, handoff_id=None, now=clock(), payload=payload
                )
                | {"kind": kind}
            )
        )


async def rows(db: Database) -> dict[str, OutboxItem]:
    async with db.sessions() as session:
        return {r.dedupe_key: r for r in (await session.scalars(select(OutboxItem))).all()}


async def test_items_go_to_the_handler_of_their_kind(db: Database, clock: FakeClock) -> None:
    outbox = Outbox(db, clock=clock)
    seen: list[tuple[str, str]] = []

    async def nudge(item: ClaimedItem) -> None:
        seen.append(("nudge", item.payload["n"]))
        await outbox.complete(item.id)

    async def connector(item: ClaimedItem) -> None:
        seen.append(("connector", item.payload["n"]))
        await outbox.complete(item.id)

    worker = Worker(outbox, {OutboxKind.NUDGE: nudge})
    worker.register(OutboxKind.CONNECTOR, connector)
    await queue(db, clock, "nudge", "a", n="1")
    await queue(db, clock, "connector", "b", n="2")
    assert await worker.run_once() == 2
    assert sorted(seen) == [("connector", "2"), ("nudge", "1")]
    assert {k: r.status for k, r in (await rows(db)).items()} == {"a": "done", "b": "done"}


async def test_unknown_and_unhandled_kinds_are_given_up(db: Database, clock: FakeClock) -> None:
    worker = Worker(Outbox(db, clock=clock))
    await queue(db, clock, "bogus", "a")
    await queue(db, clock, "nudge", "b")  # a real kind nobody registered
    await worker.run_once()
    found = await rows(db)
    assert {k: r.status for k, r in found.items()} == {"a": "failed", "b": "failed"}
    assert "unknown outbox kind 'bogus'" in (found["a"].last_error or "")


async def test_a_failing_handler_is_retried_with_backoff(db: Database, clock: FakeClock) -> None:
    outbox = Outbox(db, clock=clock)
    tries: list[int] = []

    async def flaky(item: ClaimedItem) -> None:
        tries.append(item.attempts)
        if item.attempts < 3:
            raise RuntimeError("boom")
        await outbox.complete(item.id)

    worker = Worker(outbox, {OutboxKind.NUDGE: flaky})
    await queue(db, clock, "nudge", "a")
    await worker.run_once()
    item = (await rows(db))["a"]
    assert item.status == "pending"
    assert item.last_error == "RuntimeError: boom"
    assert item.available_at == clock() + backoff(1)
    assert await worker.run_once() == 0  # not due yet
    clock.advance(seconds=1)
    await worker.run_once()
    clock.advance(seconds=2)
    await worker.run_once()
    assert tries == [1, 2, 3]
    assert (await rows(db))["a"].status == "done"
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 20)] == [1, 2, 4, 300]


class TwoPerLane:
    """Items whose payload names a lane run in it, two per pass."""

    def __init__(self) -> None:
        self.windows: list[float] = []

    async def assign(self, items: Sequence[ClaimedItem]) -> Mapping[int, str]:
        return {i.id: str(i.payload["lane"]) for i in items if "lane" in i.payload}

    def room(self, lane: str, window: float) -> int:
        self.windows.append(window)
        return 2


async def test_a_lane_runs_in_order_and_gives_back_what_its_pace_does_not_allow(
    db: Database, clock: FakeClock
) -> None:
    outbox = Outbox(db, clock=clock, lease=timedelta(seconds=60))
    ran: list[str] = []

    async def handle(item: ClaimedItem) -> None:
        ran.append(item.payload["n"])
        await outbox.complete(item.id)

    lanes = TwoPerLane()
    worker = Worker(outbox, {OutboxKind.POST_HANDOFF: handle}, lanes=lanes)
    for n in range(5):
        await queue(db, clock, "post_handoff", f"c{n}", n=f"c{n}", lane="C1")
    await queue(db, clock, "post_handoff", "free", n="free")

    assert await worker.run_once() == 6
    assert sorted(ran) == ["c0", "c1", "free"]
    assert [n for n in ran if n != "free"] == ["c0", "c1"]
    assert lanes.windows == [10.0]  # at most LANE_SECONDS, a third of the lease
    left = await rows(db)
    assert [left[f"c{n}"].attempts for n in range(2, 5)] == [0, 0, 0]  # given back uncounted
    await worker.run_once()
    await worker.run_once()
    assert ran[3:] == ["c2", "c3", "c4"]


async def test_a_slow_connector_item_does_not_hold_up_a_post(
    db: Database, clock: FakeClock
) -> None:
    outbox = Outbox(db, clock=clock)
    release = asyncio.Event()
    posted = asyncio.Event()

    async def connector(item: ClaimedItem) -> None:
        await release.wait()  # a vendor's pace
        await outbox.complete(item.id)

    async def post(item: ClaimedItem) -> None:
        await outbox.complete(item.id)
        posted.set()

    worker = Worker(
        outbox, {OutboxKind.CONNECTOR: connector, OutboxKind.POST_HANDOFF: post}, poll_seconds=0.05
    )
    await queue(db, clock, "connector", "slow", n="1")
    running = asyncio.create_task(worker.run_forever())
    try:
        await asyncio.sleep(0.1)
        await queue(db, clock, "post_handoff", "post", n="2")
        await asyncio.wait_for(posted.wait(), timeout=5)
        assert (await rows(db))["slow"].status == "pending"  # still running beside the passes
        release.set()
        for _ in range(100):
            if (await rows(db))["slow"].status == "done":
                break
            await asyncio.sleep(0.05)
        assert (await rows(db))["slow"].status == "done"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_stop_lets_the_pass_under_way_finish_then_returns(
    db: Database, clock: FakeClock
) -> None:
    outbox = Outbox(db, clock=clock)
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(item: ClaimedItem) -> None:
        await release.wait()
        await outbox.complete(item.id)
        finished.append(item.payload["n"])

    worker = Worker(outbox, {OutboxKind.NUDGE: slow}, poll_seconds=0.01)
    worker.register(OutboxKind.CONNECTOR, slow)
    await queue(db, clock, "nudge", "a", n="1")
    await queue(db, clock, "connector", "b", n="2")  # runs beside the pass
    running = asyncio.create_task(worker.run_forever())
    while not all(r.locked_until for r in (await rows(db)).values()):
        await asyncio.sleep(0.01)
    worker.stop()
    release.set()
    await asyncio.wait_for(running, timeout=5)
    assert sorted(finished) == ["1", "2"]
    assert {k: r.status for k, r in (await rows(db)).items()} == {"a": "done", "b": "done"}
