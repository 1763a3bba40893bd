"""Group commit: concurrent handoffs share transactions, and each caller still gets its own answer."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.db.engine import Database, DatabaseUnavailable
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.handoff_model import Handoff
from services.intake import HandoffIntake, IntakeResult, post_outbox_key
from services.routing import RoutingConfig
from tests.support.examples import example


def handoff(call_id: str, **changes: Any) -> Handoff:
    return Handoff.model_validate(example("create_invoice", call_id=call_id, **changes))


async def count(db: Database, model: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class CountingDatabase:
    """Counts the transactions the intake opens on a real database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.transactions = 0
        self.is_sqlite = db.is_sqlite
        self.sessions = db.sessions

    @property
    def engine(self) -> Any:
        outer = self

        class Engine:
            def begin(self) -> Any:
                outer.transactions += 1
                return outer._db.engine.begin()

        return Engine()


async def test_concurrent_handoffs_share_transactions_and_each_gets_its_answer(
    database: Database, routing: RoutingConfig
) -> None:
    counting = CountingDatabase(database)
    intake = HandoffIntake(counting, lambda: routing, max_batch=16)  # type: ignore[arg-type]
    calls = [f"dnx_batch_{i}" for i in range(40)]

    results = await asyncio.gather(*(intake.store(handoff(c)) for c in calls))

    assert all(not r.duplicate for r in results)
    assert len({r.handoff_id for r in results}) == 40
    # All 40 are queued before the writer first runs: batches of 16, 16 and 8.
    assert counting.transactions == 3
    async with database.sessions() as session:
        rows = {r.call_id: r.id for r in (await session.scalars(select(HandoffRow))).all()}
        keys = set((await session.scalars(select(OutboxItem.dedupe_key))).all())
        audit = (await session.scalars(select(AuditEntry.handoff_id))).all()
    assert rows == {c: r.handoff_id for c, r in zip(calls, results, strict=True)}
    assert keys == {post_outbox_key(c) for c in calls}
    assert sorted(h or "" for h in audit) == sorted(rows.values())


async def test_repeats_inside_one_batch_and_across_batches_resolve_to_the_first(
    database: Database, routing: RoutingConfig
) -> None:
    intake = HandoffIntake(database, lambda: routing)
    stored = await intake.store(handoff("dnx_seen_before"))

    results = await asyncio.gather(
        intake.store(handoff("dnx_new")),
        intake.store(handoff("dnx_seen_before")),
        intake.store(handoff("dnx_new")),
        intake.store(handoff("dnx_other")),
        intake.store(handoff("dnx_new")),
    )

    new, seen, new_again, other, new_third = results
    assert seen == IntakeResult(stored.handoff_id, duplicate=True)
    assert not new.duplicate and not other.duplicate
    assert new_again == new_third == IntakeResult(new.handoff_id, duplicate=True)
    assert await count(database, HandoffRow) == 3
    assert await count(database, OutboxItem) == 3
    assert await count(database, AuditEntry) == 3


async def test_one_bad_row_fails_only_its_own_request(
    database: Database, routing: RoutingConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = HandoffIntake(database, lambda: routing)
    taken = await intake.store(handoff("dnx_owner_of_the_id"))
    # The next id the intake draws collides with a stored handoff's primary key: that insert
    # breaks its transaction, which also held other people's handoffs.
    real_uuid4 = uuid.uuid4
    draws = iter([uuid.UUID(taken.handoff_id)])
    monkeypatch.setattr(
        "services.intake.rows.uuid.uuid4", lambda: next(draws, None) or real_uuid4()
    )

    results = await asyncio.gather(
        *(intake.store(handoff(f"dnx_mixed_{i}")) for i in range(4)), return_exceptions=True
    )

    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and not isinstance(failed[0], DatabaseUnavailable)
    assert sum(isinstance(r, IntakeResult) and not r.duplicate for r in results) == 3
    assert await count(database, HandoffRow) == 4
    assert await count(database, OutboxItem) == 4


async def test_database_failure_reaches_every_waiting_request(
    tmp_path: Path, routing: RoutingConfig
) -> None:
    # A database file without the bot's tables: every insert fails with an OperationalError.
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    intake = HandoffIntake(empty, lambda: routing)
    try:
        results = await asyncio.gather(
            *(intake.store(handoff(f"dnx_gone_{i}")) for i in range(3)), return_exceptions=True
        )
    finally:
        await empty.dispose()

    assert all(isinstance(r, DatabaseUnavailable) for r in results), results
