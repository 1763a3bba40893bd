"""The finance lead's numbers, from a hand-built audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.events import BOT, PLISIO, OutboxKind
from services.metrics import (
    Backlog,
    MetricsQueries,
    Timing,
    handoff_times,
    quantile,
    summarize,
    timing,
)
from services.routing import RoutingConfigError
from tests.support.db import fresh_database
from tests.support.routing import make_routing

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ANA, BEN, CARLOS = "U0APPROVER1", "U0APPROVER2", "U0BILLINGOPS"


def minutes(n: float) -> float:
    return n * 60.0


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([5.0], 0.5, 5.0),
        ([5.0], 0.9, 5.0),
        ([1.0, 3.0], 0.5, 2.0),
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        ([float(n) for n in range(1, 11)], 0.9, 9.1),
        ([float(n) for n in range(1, 11)], 0.5, 5.5),
    ],
)
def test_quantile(values: list[float], q: float, expected: float | None) -> None:
    result = quantile(values, q)
    assert result == pytest.approx(expected) if expected is not None else result is None


def test_timing_of_nothing_is_empty() -> None:
    assert timing([]) == Timing(0, None, None)


# A week of three handoffs, entries in the order they happened:
# - h1 refund: Ana snoozes after 10 min, approves after 30 min (one approval decides), Stripe
#   refunds after 90 min;
# - h2 create_invoice (two-person): Ana approves 1 of 2 after 20 min, Ben 2 of 2 after 60 min,
#   Plisio reports it paid after 180 min; Carlos escalated it after 5 min;
# - h3 create_invoice: nobody acted yet.
HANDOFFS = [
    ("h1", "refund", NOW - timedelta(days=2)),
    ("h2", "create_invoice", NOW - timedelta(days=1)),
    ("h3", "create_invoice", NOW - timedelta(hours=3)),
]


def entries() -> list[tuple[str, datetime, str, str, dict[str, Any]]]:
    h1, h2 = HANDOFFS[0][2], HANDOFFS[1][2]
    return [
        ("h1", h1 + timedelta(minutes=1), BOT, "posted", {}),
        ("h1", h1 + timedelta(minutes=10), ANA, "snoozed", {}),
        ("h1", h1 + timedelta(minutes=30), ANA, "approved", {"approval": 1, "of": 1}),
        ("h1", h1 + timedelta(minutes=90), BOT, "refund_succeeded", {}),
        ("h2", h2 + timedelta(minutes=5), CARLOS, "escalated", {}),
        ("h2", h2 + timedelta(minutes=20), ANA, "approved", {"approval": 1, "of": 2}),
        ("h2", h2 + timedelta(minutes=60), BEN, "approved", {"approval": 2, "of": 2}),
        ("h2", h2 + timedelta(minutes=180), PLISIO, "paid", {"state": "paid"}),
        ("h2", h2 + timedelta(minutes=200), PLISIO, "paid", {"state": "paid"}),  # a repeat
    ]


def test_stages_of_each_handoff() -> None:
    times = {t.handoff_id: t for t in handoff_times(HANDOFFS, entries())}
    assert times["h1"].seconds("first_action") == minutes(10)
    assert times["h1"].seconds("decision") == minutes(30)
    assert times["h1"].seconds("payment") == minutes(90)
    assert times["h2"].first_action is not None and times["h2"].first_action.actor == CARLOS
    # The second approval decides a two-person handoff, and its payment is Ben's.
    assert times["h2"].decision is not None and times["h2"].decision.actor == BEN
    assert times["h2"].seconds("decision") == minutes(60)
    assert times["h2"].payment is not None and times["h2"].payment.actor == BEN
    assert times["h2"].seconds("payment") == minutes(180)  # the first report of it
    assert times["h2"].escalated_by == (CARLOS,)
    assert times["h3"].first_action is None and times["h3"].seconds("decision") is None


def test_report_in_total_per_workflow_and_per_approver() -> None:
    report = summarize(
        handoff_times(HANDOFFS, entries()),
        overdue={"create_invoice": 1, "dispute": 2},
        since=NOW - timedelta(days=7),
        until=NOW,
    )
    assert report.total.received == 3
    assert report.total.first_action == Timing(2, minutes(7.5), minutes(9.5))
    assert report.total.decision == Timing(2, minutes(45), minutes(57))
    assert report.total.payment == Timing(2, minutes(135), minutes(171))
    assert (report.total.escalations, report.total.overdue) == (1, 3)

    invoices = report.by_workflow["create_invoice"]
    assert (invoices.received, invoices.escalations, invoices.overdue) == (2, 1, 1)
    assert invoices.decision == Timing(1, minutes(60), minutes(60))
    assert report.by_workflow["refund"].payment == Timing(1, minutes(90), minutes(90))
    # Overdue work received before the period still shows under its workflow.
    assert report.by_workflow["dispute"].overdue == 2
    assert report.by_workflow["dispute"].received == 0

    assert set(report.by_approver) == {ANA, BEN, CARLOS}
    ana, ben, carlos = (report.by_approver[u] for u in (ANA, BEN, CARLOS))
    assert ana.first_action == Timing(1, minutes(10), minutes(10))
    assert ana.decision == Timing(1, minutes(30), minutes(30))
    assert ana.payment.count == 1 and ana.received == 1
    assert ben.decision == Timing(1, minutes(60), minutes(60))
    assert ben.first_action.count == 0 and ben.payment.count == 1
    assert carlos.escalations == 1 and carlos.first_action.count == 1


def test_the_bot_and_plisio_are_never_people() -> None:
    received = NOW - timedelta(hours=1)
    times = handoff_times(
        [("h", "refund", received)],
        [
            ("h", received + timedelta(minutes=1), BOT, "escalated", {}),
            ("h", received + timedelta(minutes=2), BOT, "declined", {}),
        ],
    )
    assert times[0].first_action is None and times[0].decision is None
    assert summarize(times, overdue={}, since=NOW - timedelta(days=7), until=NOW).by_approver == {}


def test_a_decline_decides() -> None:
    received = NOW - timedelta(hours=1)
    times = handoff_times(
        [("h", "refund", received)],
        [("h", received + timedelta(minutes=15), ANA, "declined", {"reason": "dup"})],
    )
    assert times[0].seconds("decision") == minutes(15)
    assert times[0].seconds("first_action") == minutes(15)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


def handoff_row(handoff_id: str, workflow: str, created: datetime, **more: Any) -> HandoffRow:
    values: dict[str, Any] = {
        "id": handoff_id,
        "call_id": f"call-{handoff_id}",
        "workflow": workflow,
        "urgency": "normal",
        "status": "open",
        "channel": "C0FINANCE",
        "payload": {},
        "occurred_at": created,
        "created_at": created,
        "updated_at": created,
    }
    values.update(more)
    return HandoffRow(**values)


async def test_queries_read_the_period_from_the_database(db: Database) -> None:
    async with db.sessions() as session, session.begin():
        for handoff_id, workflow, created in HANDOFFS:
            session.add(handoff_row(handoff_id, workflow, created))
        # Received before the period: its timings are left out, its lateness is not.
        session.add(
            handoff_row("old", "dispute", NOW - timedelta(days=9), deadline=NOW - timedelta(days=8))
        )
        session.add(
            handoff_row(
                "paid",
                "create_invoice",
                NOW - timedelta(days=8),
                status="paid",
                deadline=NOW - timedelta(days=8),
            )
        )
        for handoff_id, at, actor, action, detail in entries():
            session.add(
                AuditEntry(handoff_id=handoff_id, at=at, actor=actor, action=action, detail=detail)
            )
        session.add(
            AuditEntry(
                handoff_id="old",
                at=NOW - timedelta(days=9),
                actor=ANA,
                action="approved",
                detail={"approval": 1, "of": 1},
            )
        )
    report = await MetricsQueries(db).report(NOW)
    assert report.since == NOW - timedelta(days=7) and report.until == NOW
    assert report.total.received == 3
    assert report.total.decision == Timing(2, minutes(45), minutes(57))
    assert report.by_workflow["dispute"].overdue == 1  # the paid one is closed, not overdue
    assert report.total.overdue == 1
    assert report.by_approver[ANA].decision.count == 1  # the old approval is outside


async def test_backlog_counts_pending_work_and_the_oldest_due(db: Database) -> None:
    def item(key: str, kind: OutboxKind, available: datetime, status: str = "pending") -> Any:
        return OutboxItem(
            kind=kind.value,
            dedupe_key=key,
            payload={},
            status=status,
            available_at=available,
            created_at=available,
        )

    async with db.sessions() as session, session.begin():
        session.add(item("a", OutboxKind.POST_HANDOFF, NOW - timedelta(minutes=5)))
        session.add(item("b", OutboxKind.POST_HANDOFF, NOW - timedelta(minutes=1)))
        session.add(item("c", OutboxKind.POST_HANDOFF, NOW + timedelta(hours=2)))  # held
        session.add(item("d", OutboxKind.NUDGE, NOW - timedelta(hours=1), status="done"))
    backlog = await MetricsQueries(db).backlog(NOW)
    assert backlog[OutboxKind.POST_HANDOFF.value] == Backlog(3, 300.0)
    assert backlog[OutboxKind.NUDGE.value] == Backlog(0, 0.0)
    assert set(backlog) >= {k.value for k in OutboxKind}


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"weekly_summary_cron": "0 9 * *"}, "metrics.weekly_summary_cron"),
        ({"weekly_summary_cron": "0 25 * * 1"}, "metrics.weekly_summary_cron"),
        ({"timezone": "Mars/Olympus"}, "metrics.timezone"),
        ({"period_days": 0}, "metrics.period_days"),
    ],
)
def test_a_bad_metrics_section_names_its_key(section: dict[str, Any], named: str) -> None:
    with pytest.raises(RoutingConfigError, match=named.replace(".", r"\.")):
        make_routing(metrics=section)


def test_the_summary_timezone_falls_back_to_the_digests() -> None:
    assert make_routing(digest={"timezone": "Europe/Berlin"}).metrics_timezone == "Europe/Berlin"
    both = make_routing(digest={"timezone": "Europe/Berlin"}, metrics={"timezone": "Asia/Tokyo"})
    assert both.metrics_timezone == "Asia/Tokyo"
