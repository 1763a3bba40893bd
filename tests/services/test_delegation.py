"""Delegations in storage: one active per approver, replaced and ended with an audit entry, and
over by themselves once their time has come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.db.engine import Database
from services.db.models import AuditEntry
from services.delegation import DelegationService, UntilProblem, until_problem
from services.events import EventType
from tests.support.clock import FakeClock

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ANA, BEN, ARJUN = "U0APPROVER1", "U0APPROVER2", "U0APLEAD"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def delegations(database: Database, clock: FakeClock) -> DelegationService:
    return DelegationService(database, clock=clock)


async def audit(database: Database) -> list[tuple[str, str, dict[str, object]]]:
    async with database.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.actor, dict(r.detail)) for r in rows]


async def test_set_replace_and_end(delegations: DelegationService, database: Database) -> None:
    until = NOW + timedelta(days=4)
    await delegations.set(ANA, ARJUN, until, by=ANA)
    assert [a.approver for a in await delegations.acting_for(ARJUN)] == [ANA]
    await delegations.set(ANA, BEN, until + timedelta(days=1), by=ANA)
    active = await delegations.active_for(ANA)
    assert active is not None and active.delegate == BEN
    assert await delegations.acting_for(ARJUN) == ()
    assert await delegations.delegate_for(ANA) == BEN
    ended = await delegations.end(ANA, by=ANA)
    assert ended is not None and ended.delegate == BEN
    assert await delegations.active_for(ANA) is None
    assert await delegations.end(ANA, by=ANA) is None  # nothing left to end: nothing audited
    entries = await audit(database)
    assert [(action, actor) for action, actor, _ in entries] == [
        (EventType.DELEGATION_SET.value, ANA),
        (EventType.DELEGATION_SET.value, ANA),
        (EventType.DELEGATION_ENDED.value, ANA),
    ]
    assert "replaced" not in entries[0][2]
    assert entries[1][2]["replaced"] == {"delegate": ARJUN, "until": until.isoformat()}


async def test_it_ends_by_itself_at_its_time(
    delegations: DelegationService, clock: FakeClock
) -> None:
    await delegations.set(ANA, ARJUN, NOW + timedelta(hours=8), by=ANA)
    clock.advance(hours=8)
    assert await delegations.active_for(ANA) is None
    assert await delegations.acting_for(ARJUN) == ()
    assert await delegations.delegate_for(ANA) is None


async def test_one_delegate_may_stand_in_for_two_approvers(
    delegations: DelegationService,
) -> None:
    await delegations.set(ANA, ARJUN, NOW + timedelta(days=1), by=ANA)
    await delegations.set(BEN, ARJUN, NOW + timedelta(days=2), by=BEN)
    assert [a.approver for a in await delegations.acting_for(ARJUN)] == [ANA, BEN]


async def test_a_naive_time_is_refused(delegations: DelegationService) -> None:
    with pytest.raises(ValueError, match="aware"):
        await delegations.set(ANA, ARJUN, datetime(2026, 12, 4, 18, 0), by=ANA)


def test_until_must_be_ahead_and_within_ninety_days() -> None:
    assert until_problem(NOW, NOW) is UntilProblem.PAST
    assert until_problem(NOW - timedelta(minutes=1), NOW) is UntilProblem.PAST
    assert until_problem(NOW + timedelta(days=91), NOW) is UntilProblem.TOO_FAR
    assert until_problem(NOW + timedelta(days=90), NOW) is None
