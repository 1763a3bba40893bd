"""The APScheduler jobs: reminders on an interval (and once at start-up),
the low-priority digest on its cron, the release of automatic refunds whose grace window is
over (every 30 s), and the finance lead's weekly summary on its cron when opted in.

Both jobs only read and write the database, so the scheduler's memory does not grow with the
number of handoffs, and every replica may run them: the claims in the database decide who sends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.container import Container
from services.digest import crontab_trigger

__all__ = [
    "DIGEST_JOB",
    "REFUND_JOB",
    "REFUND_RELEASE_SECONDS",
    "REMINDER_JOB",
    "SUMMARY_JOB",
    "BotScheduler",
    "build_scheduler",
    "start_scheduler",
    "stop_scheduler",
]

logger = logging.getLogger(__name__)

REMINDER_JOB = "follow_up_reminders"
DIGEST_JOB = "low_priority_digest"
REFUND_JOB = "refund_release"
SUMMARY_JOB = "weekly_summary"
REFUND_RELEASE_SECONDS = 30  # a scheduled refund goes out at most this long after its grace


class BotScheduler(AsyncIOScheduler):  # type: ignore[misc]  # APScheduler 3 has no types
    """APScheduler's asyncio scheduler, knowing which job runs are in flight.

    Shutting down cancels and awaits them, so a pass never outlives the database it uses (a
    pass half-way through opening a connection when the pool is disposed can hang the loop).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.job_tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False  # set by stop_scheduler before it cancels the passes in flight

    def tracked(
        self, job: Callable[[], Awaitable[object]], *, on_failure: str
    ) -> Callable[[], Awaitable[None]]:
        """``job`` as a pass that is tracked and never raises (``on_failure`` is logged)."""

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self.job_tasks.add(task)
            try:
                await job()
            except asyncio.CancelledError:
                if not self.stopping:
                    raise
                # Stopped by the shut-down on purpose (its claims are safe to abandon): not an
                # error for APScheduler to log with a traceback.
                logger.info("a scheduled pass was stopped by the shut-down")
            except Exception:
                logger.exception(on_failure)
            finally:
                if task is not None:
                    self.job_tasks.discard(task)

        run.__name__ = getattr(job, "__name__", "job")
        return run


def build_scheduler(container: Container) -> BotScheduler:
    """A scheduler (not started) holding the reminder job and, when enabled, the digest job."""
    reminders = container.reminders
    scheduler = BotScheduler(timezone=UTC)
    scheduler.add_job(
        scheduler.tracked(
            reminders.run_once, on_failure="reminder pass failed; the next one retries"
        ),
        IntervalTrigger(seconds=container.settings.reminder_poll_seconds, timezone=UTC),
        id=REMINDER_JOB,
        # Run right away too: a reminder that fell due while the bot was down goes out now.
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    # Automatic refunds: the status compare-and-set releases each once, whichever replica runs.
    scheduler.add_job(
        scheduler.tracked(
            container.connectors.refund_service.release_due,
            on_failure="refund release pass failed; the next one retries",
        ),
        IntervalTrigger(seconds=REFUND_RELEASE_SECONDS, timezone=UTC),
        id=REFUND_JOB,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    digest, config = container.digest, container.routing.digest
    if config.enabled:
        scheduler.add_job(
            scheduler.tracked(
                digest.run_once,
                on_failure="digest run failed; held handoffs go out after the grace period",
            ),
            crontab_trigger(config.cron, config.timezone),
            id=DIGEST_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
        )
    metrics = container.routing.metrics
    if metrics.weekly_summary:
        summary = container.summary
        # At start-up too: a summary missed while the bot was down goes out now (its key keeps
        # it once a week); the sandbox shows this week's whatever the day.
        scheduler.add_job(
            scheduler.tracked(
                functools.partial(summary.run_once, force=container.sandbox),
                on_failure="weekly summary run failed; the next run this week queues it",
            ),
            crontab_trigger(metrics.weekly_summary_cron, container.routing.metrics_timezone),
            id=SUMMARY_JOB,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    return scheduler


def start_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Start on the running event loop (call from the app's start-up)."""
    scheduler.start()
    logger.info("scheduler started", extra={"jobs": [job.id for job in scheduler.get_jobs()]})


async def stop_scheduler(scheduler: BotScheduler) -> None:
    """Stop, cancelling a running pass (its claims are safe to abandon) and waiting for it."""
    scheduler.stopping = True
    if scheduler.running:
        scheduler.shutdown(wait=False)
    for task in scheduler.job_tasks:
        task.cancel()
    await asyncio.gather(*scheduler.job_tasks, return_exceptions=True)
