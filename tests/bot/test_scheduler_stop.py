"""Shutting down waits for a running scheduler pass, so it never outlives the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.scheduler import BotScheduler, stop_scheduler


async def test_stopping_cancels_a_running_pass_and_waits_for_it() -> None:
    scheduler = BotScheduler(timezone=UTC)
    started = asyncio.Event()
    cleaned_up: list[str] = []

    async def slow_pass() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)  # a claim waiting on the database, say
        finally:
            cleaned_up.append("released")

    scheduler.add_job(scheduler.tracked(slow_pass), "date", run_date=datetime.now(UTC))
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    assert len(scheduler.job_tasks) == 1

    await asyncio.wait_for(stop_scheduler(scheduler), timeout=5)

    assert cleaned_up == ["released"]
    assert scheduler.job_tasks == set()
    assert not scheduler.running
