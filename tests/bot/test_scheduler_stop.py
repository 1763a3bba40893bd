"""Shutting down waits for a running scheduler pass, so it never outlives the database."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bot.scheduler import BotScheduler, stop_scheduler


async def test_stopping_cancels_a_running_pass_and_waits_for_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = BotScheduler(timezone=UTC)
    started = asyncio.Event()
    cleaned_up: list[str] = []

    async def slow_pass() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)  # a claim waiting on the database, say
        finally:
            cleaned_up.append("released")

    scheduler.add_job(
        scheduler.tracked(slow_pass, on_failure="slow pass failed"),
        "date",
        run_date=datetime.now(UTC),
    )
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    assert len(scheduler.job_tasks) == 1

    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(stop_scheduler(scheduler), timeout=5)
        await asyncio.sleep(0)  # APScheduler's executor hears how the pass ended

    assert cleaned_up == ["released"]
    # A pass stopped on purpose is not an error: no traceback in the shut-down log.
    assert "a scheduled pass was stopped by the shut-down" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert scheduler.job_tasks == set()
    assert not scheduler.running


async def test_a_failing_pass_is_logged_and_does_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = BotScheduler(timezone=UTC)

    async def broken_pass() -> None:
        raise RuntimeError("database said no")

    run = scheduler.tracked(broken_pass, on_failure="reminder pass failed; the next one retries")
    with caplog.at_level(logging.ERROR):
        await run()  # the scheduler's next interval simply tries again

    assert "reminder pass failed; the next one retries" in caplog.text
    assert "database said no" in caplog.text
    assert scheduler.job_tasks == set()


async def test_a_pass_cancelled_while_the_bot_runs_is_still_cancelled() -> None:
    scheduler = BotScheduler(timezone=UTC)

    async def waiting_pass() -> None:
        await asyncio.sleep(3600)

    task = asyncio.ensure_future(scheduler.tracked(waiting_pass, on_failure="failed")())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
