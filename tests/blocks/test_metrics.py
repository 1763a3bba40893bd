"""The finance lead's "Last 7 days" section and the weekly summary DM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from blocks.common import validate_blocks
from blocks.home import home_view
from blocks.metrics import lead_metrics_blocks, weekly_summary_message
from services.home import HomeSnapshot
from services.metrics import GroupMetrics, MetricsReport, Timing

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def report(**groups: GroupMetrics) -> MetricsReport:
    refunds = GroupMetrics(
        received=4,
        first_action=Timing(3, 600.0, 3600.0),
        decision=Timing(2, 1800.0, 7200.0),
        payment=Timing(1, 5400.0, 5400.0),
        escalations=1,
        overdue=2,
    )
    return MetricsReport(
        since=NOW - timedelta(days=7),
        until=NOW,
        total=groups.get("total", refunds),
        by_workflow={"refund": refunds},
        by_approver={"U0APPROVER1": GroupMetrics(received=2, decision=Timing(2, 1800.0, 7200.0))},
    )


def text_of(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_the_section_shows_totals_workflows_and_approvers() -> None:
    blocks = lead_metrics_blocks(report())
    validate_blocks(blocks)
    text = text_of(blocks)
    assert "*Last 7 days* · 4 received · 1 escalated · 2 overdue now" in text
    assert "First action: median *10 min* · p90 1 h (3)" in text
    assert "Decision: median *30 min* · p90 2 h (2)" in text
    assert "Payment: median *1 h* · p90 1 h (1)" in text
    assert "Refund · 4 received · 10 min / 30 min / 1 h · 1 escalated · ⏰ 2 overdue" in text
    assert "<@U0APPROVER1> · 2 decided (30 min) · 0 first actions (–)" in text


def test_an_empty_period_says_so() -> None:
    text = text_of(lead_metrics_blocks(report(total=GroupMetrics())))
    assert "No handoffs received in this period." in text
    assert "By workflow" not in text


def test_the_weekly_summary_has_a_header_and_a_fallback_text() -> None:
    message = weekly_summary_message(report())
    validate_blocks(message["blocks"])
    assert message["blocks"][0]["type"] == "header"
    assert message["text"] == (
        "Last 7 days: 4 received, median time to decision 30 min, 2 overdue now."
    )


def test_home_shows_the_section_only_when_given() -> None:
    snapshot = HomeSnapshot(
        user_id="U0FINLEAD", mine=(), mine_total=0, overdue=0, counts={}, approver=False
    )
    with_metrics = text_of(home_view(snapshot, now=NOW, links={}, metrics=report())["blocks"])
    without = text_of(home_view(snapshot, now=NOW, links={})["blocks"])
    assert "*Last 7 days*" in with_metrics
    assert "*Last 7 days*" not in without
