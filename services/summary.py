"""The weekly summary DM to the finance lead (opt-in, ``[metrics] weekly_summary``).

The scheduler's job (Monday 09:00 by default, in ``[metrics] timezone`` or else ``[digest]
timezone``) queues one outbox item per lead and ISO week, keyed ``weekly_summary:{lead}:{week}``:
however often the job runs that week (a restart, a second replica), the key lets one item in, and
the Slack adapter (``slack_adapter/summary.py``) sends it once. The item carries the period's end,
so a retry sends the same numbers.

The job also runs at start-up and then queues the summary only if this week's time has passed: a
bot that was down on Monday morning sends it when it is back, and one restarted before the time
sends nothing early.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from services.db.engine import Database
from services.digest import crontab_trigger
from services.events import OutboxKind
from services.outbox import Outbox
from services.routing import RoutingConfig

__all__ = [
    "SUMMARY_KIND",
    "WeeklySummary",
    "iso_week",
    "summary_due",
    "summary_key",
    "summary_recipients",
]

logger = logging.getLogger(__name__)

SUMMARY_KIND = OutboxKind.WEEKLY_SUMMARY
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def iso_week(now: datetime, timezone: str) -> str:
    """The ISO week ``now`` falls in where the lead is, e.g. ``2026-W49``."""
    year, week, _ = now.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def summary_due(routing: RoutingConfig, now: datetime) -> bool:
    """Has this week's summary time (its cron's first time this ISO week) come by ``now``?"""
    zone = ZoneInfo(routing.metrics_timezone)
    local = now.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    trigger = crontab_trigger(routing.metrics.weekly_summary_cron, routing.metrics_timezone)
    first = trigger.get_next_fire_time(None, monday)
    return first is not None and first <= now


def summary_key(user_id: str, week: str) -> str:
    """The outbox key of one lead's summary of one week: at most one per week."""
    return f"weekly_summary:{user_id}:{week}"


def summary_recipients(routing: RoutingConfig) -> list[str]:
    """Who gets the summary: the finance lead (``[mentions] finance_lead``), when it names a
    person (a user group cannot be sent a DM)."""
    lead = routing.mentions.finance_lead
    return [lead] if lead and SLACK_USER.match(lead) else []


class WeeklySummary:
    """The scheduler's job: queue this week's summary for each lead, once."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        routing: Callable[[], RoutingConfig],
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._routing = routing
        self._clock = clock

    async def run_once(self, *, force: bool = False) -> int:
        """Queue the summaries not queued yet this week, once its time has come (``force``:
        whatever the time, as the sandbox does at start-up); return how many were queued."""
        routing = self._routing()
        if not routing.metrics.weekly_summary:
            return 0
        now = self._clock()
        if not force and not summary_due(routing, now):
            return 0
        week = iso_week(now, routing.metrics_timezone)
        queued = 0
        for user in summary_recipients(routing):
            key = summary_key(user, week)
            try:
                async with self._db.sessions() as session, session.begin():
                    Outbox.enqueue(
                        session,
                        kind=SUMMARY_KIND,
                        key=key,
                        handoff_id=None,
                        now=now,
                        payload={
                            "user": user,
                            "key": key,
                            "week": week,
                            "until": now.isoformat(),
                            "days": routing.metrics.period_days,
                        },
                    )
            except IntegrityError:
                continue  # this week's summary is queued (or sent) already
            queued += 1
        if queued:
            self._outbox.kick()
            logger.info("weekly summary queued", extra={"week": week, "leads": queued})
        return queued
