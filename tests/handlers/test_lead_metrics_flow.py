"""The finance lead's numbers end to end: the Home tab section and the weekly summary DM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from blocks.common import validate_view
from bot.scheduler import SUMMARY_JOB, build_scheduler
from sandbox.slack_objects import Message
from sandbox.slack_state import Demo
from services.db.models import OutboxItem
from services.events import OutboxKind
from services.outbox import ClaimedItem
from tests.handlers.test_home_flow import home_of, open_home
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.routing import make_routing

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WEEKLY = make_routing(metrics={"weekly_summary": True})


def summaries(bot: Harness, user: str) -> list[Message]:
    channel, _created = bot.slack.workspace.open_im(user)
    return [
        m
        for m in bot.slack.messages_in(channel.id)
        if (m.metadata or {}).get("event_type") == "finance_weekly_summary"
    ]


async def decided_handoff(bot: Harness) -> str:
    handoff_id = await bot.accept(example("create_invoice"))
    assert (await bot.approve(Demo.APPROVER_1, handoff_id)).status == 200
    await bot.drain()
    return handoff_id


async def test_the_finance_lead_sees_the_last_7_days_and_others_do_not(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await decided_handoff(bot)
        assert (await open_home(bot, Demo.FIN_LEAD)).status == 200
        view = home_of(bot, Demo.FIN_LEAD)
        validate_view(view)
        lead = json.dumps(view, ensure_ascii=False)
        assert "*Last 7 days* · 1 received · 0 escalated · " in lead  # the example is overdue
        assert "Decision: median" in lead
        assert "Create invoice · 1 received" in lead
        assert f"<@{Demo.APPROVER_1}> · 1 decided" in lead
        for someone in (Demo.APPROVER_1, Demo.AP_LEAD):
            await open_home(bot, someone)
            assert "Last 7 days" not in json.dumps(home_of(bot, someone), ensure_ascii=False)


async def test_the_weekly_summary_is_sent_once_a_week(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_9)
    async with running_bot(tmp_path, routing=WEEKLY, clock=clock) as bot:
        await decided_handoff(bot)
        assert await bot.deps.summary.run_once() == 1
        await bot.drain()
        sent = summaries(bot, Demo.FIN_LEAD)
        assert len(sent) == 1
        assert sent[0].text.startswith("Last 7 days: 1 received, median time to decision")
        assert "Finance handoffs: your week" in json.dumps(sent[0].blocks)
        # A restart (or a second replica) the same week, even days later, sends nothing more.
        assert await bot.deps.summary.run_once() == 0
        clock.advance(days=3)
        assert await bot.deps.summary.run_once() == 0
        await bot.drain()
        assert len(summaries(bot, Demo.FIN_LEAD)) == 1
        # Nobody else hears it.
        assert summaries(bot, Demo.APPROVER_1) == []
        # The next Monday's is a new week.
        clock.advance(days=4)
        assert await bot.deps.summary.run_once() == 1
        await bot.drain()
        assert len(summaries(bot, Demo.FIN_LEAD)) == 2


async def test_nothing_goes_out_early_and_a_missed_monday_goes_out_when_back(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY_9 - timedelta(hours=1))  # a restart on Monday at 08:00
    async with running_bot(tmp_path, routing=WEEKLY, clock=clock) as bot:
        assert await bot.deps.summary.run_once() == 0
        clock.advance(days=1, hours=1)  # down at 09:00; back on Tuesday
        assert await bot.deps.summary.run_once() == 1
        await bot.drain()
        assert len(summaries(bot, Demo.FIN_LEAD)) == 1


async def test_a_retried_summary_is_not_sent_twice(tmp_path: Path) -> None:
    async with running_bot(tmp_path, routing=WEEKLY, clock=FakeClock(MONDAY_9)) as bot:
        assert await bot.deps.summary.run_once() == 1
        await bot.drain()
        async with bot.deps.db.sessions() as session:
            row = await session.scalar(
                select(OutboxItem).where(OutboxItem.kind == OutboxKind.WEEKLY_SUMMARY.value)
            )
        assert row is not None and row.status == "done"
        # As if the process died after Slack took the message, before the item was marked done.
        again = ClaimedItem(row.id, None, row.kind, dict(row.payload), attempts=2)
        await bot.deps.worker.handlers[OutboxKind.WEEKLY_SUMMARY](again)
        assert len(summaries(bot, Demo.FIN_LEAD)) == 1


async def test_the_summary_is_opt_in_and_scheduled_on_its_cron(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        assert SUMMARY_JOB not in {job.id for job in build_scheduler(bot.deps).get_jobs()}
        assert await bot.deps.summary.run_once() == 0
    (tmp_path / "weekly").mkdir()
    async with running_bot(tmp_path / "weekly", routing=WEEKLY) as bot:
        jobs = {job.id: job for job in build_scheduler(bot.deps).get_jobs()}
        trigger = str(jobs[SUMMARY_JOB].trigger)
        assert "day_of_week='mon'" in trigger and "hour='9'" in trigger
