"""The Home tab's queries against a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.db.engine import Database
from services.db.models import Approval, AuditEntry, HandoffRow
from services.home import HomeQueries
from tests.support.examples import example

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ME, OTHER = "U0APPROVER1", "U0APPROVER2"


async def add(
    db: Database,
    *,
    owner: str | None = None,
    status: str = "open",
    deadline: datetime | None = None,
    requested_by: str | None = None,
    two_person: bool = False,
    approvers: tuple[str, ...] = (),
    created: datetime = NOW,
) -> str:
    handoff_id = uuid.uuid4().hex
    async with db.sessions() as session, session.begin():
        session.add(
            HandoffRow(
                id=handoff_id,
                call_id=f"dnx_call_{handoff_id[:12]}",
                kind="handoff",
                workflow="dispute",
                urgency="normal",
                urgent=False,
                status=status,
                channel="C0FINANCE",
                owner=owner,
                owner_slack_id=owner,
                requested_by=requested_by,
                deadline=deadline,
                two_person=two_person,
                payload=example("duplicate_charge_dispute"),
                occurred_at=created,
                created_at=created,
                updated_at=created,
            )
        )
        await session.flush()
        for approver in approvers:
            session.add(Approval(handoff_id=handoff_id, approver=approver, at=created))
    return handoff_id


async def test_my_queue_puts_overdue_first_and_leaves_closed_out(database: Database) -> None:
    later = await add(database, owner=ME, deadline=NOW + timedelta(days=2))
    overdue = await add(database, owner=ME, deadline=NOW - timedelta(hours=1))
    undated = await add(database, owner=ME)
    await add(database, owner=ME, status="done", deadline=NOW - timedelta(days=1))
    await add(database, owner=OTHER, deadline=NOW - timedelta(days=3))
    home = await HomeQueries(database).snapshot(ME, approver=False, now=NOW)
    assert [i.handoff_id for i in home.mine] == [overdue, later, undated]
    assert home.mine_total == 3
    assert home.overdue == 1
    assert home.counts == {"open": 3, "done": 1}
    assert home.mine[0].customer == "Quill Analytics"
    assert home.awaiting == () and home.awaiting_total == 0


async def test_approval_queue_skips_my_requests_and_my_approvals(database: Database) -> None:
    waiting = await add(database, created=NOW - timedelta(hours=2))
    second = await add(
        database, status="partly_approved", two_person=True, approvers=(OTHER,), created=NOW
    )
    await add(database, status="partly_approved", two_person=True, approvers=(ME,))
    await add(database, requested_by=ME)
    await add(database, status="approved")
    home = await HomeQueries(database).snapshot(ME, approver=True, now=NOW)
    assert [i.handoff_id for i in home.awaiting] == [waiting, second]
    assert home.awaiting_total == 2
    assert home.awaiting[1].approvals == 1


async def test_recent_lists_each_handoff_once_newest_first(database: Database) -> None:
    first = await add(database)
    second = await add(database)
    async with database.sessions() as session, session.begin():
        for minutes, handoff_id, action, actor in [
            (1, first, "approved", ME),
            (2, second, "escalated", ME),
            (3, first, "done", ME),
            (4, second, "nudge_sent", ME),  # not a person's action
            (5, second, "declined", OTHER),
        ]:
            session.add(
                AuditEntry(
                    handoff_id=handoff_id,
                    at=NOW + timedelta(minutes=minutes),
                    actor=actor,
                    action=action,
                    detail={},
                )
            )
    home = await HomeQueries(database).snapshot(ME, approver=False, now=NOW)
    assert [(r.item.handoff_id, r.action) for r in home.recent] == [
        (first, "done"),
        (second, "escalated"),
    ]
