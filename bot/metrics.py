"""The Prometheus metrics of one bot process, in its own registry (never the global one).

Two kinds of series:

- counters of what this process saw happen (``services.telemetry.Telemetry``): DialNexa intake
  answers by status code, Slack 429s, connector retries and give-ups;
- gauges read from the database at scrape time (``services.metrics``): the outbox backlog, the
  overdue handoffs, and the last 7 days' timings and escalations. Every process answers the same
  for these (the database is shared), a restart loses nothing, and the numbers are exactly the
  ones the finance lead's Home tab shows. The windowed part is cached for ``window_ttl`` seconds
  so a frequent scrape does not re-read a week of audit log each time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from services.handoff_model import Workflow
from services.metrics import STAGES, Backlog, MetricsQueries, MetricsReport
from services.routing import RoutingConfig
from services.telemetry import POST, THREAD_NOTE, SlackSurface

__all__ = ["PREFIX", "DatabaseCollector", "PrometheusMetrics"]

logger = logging.getLogger(__name__)

PREFIX = "finance_bot_"
WINDOW_TTL = 30.0  # seconds the windowed (7-day) numbers are reused between scrapes
QUANTILES = (("0.5", "median"), ("0.9", "p90"))


class DatabaseCollector:
    """Gauges computed from the database; ``refresh`` (async) reads, ``collect`` (sync) reports."""

    def __init__(
        self,
        queries: MetricsQueries,
        *,
        routing: Callable[[], RoutingConfig],
        window_ttl: float = WINDOW_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queries = queries
        self._routing = routing
        self._window_ttl = window_ttl
        self._monotonic = monotonic
        self._backlog: dict[str, Backlog] = {}
        self._overdue: dict[str, int] = {}
        self._report: MetricsReport | None = None
        self._report_at = -float("inf")
        self._up = False

    async def refresh(self, now: datetime) -> None:
        """Read what the next ``collect`` reports; a database that fails reports ``up 0``."""
        try:
            self._backlog = await self._queries.backlog(now)
            self._overdue = await self._queries.overdue(now)
            if self._monotonic() - self._report_at >= self._window_ttl:
                period = timedelta(days=self._routing().metrics.period_days)
                self._report = await self._queries.report(now, period)
                self._report_at = self._monotonic()
            self._up = True
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not read the metrics from the database")
            self._up = False

    def describe(self) -> list[Metric]:
        """The families this collector reports (names only; the registry checks clashes)."""
        return list(self._families(empty=True))

    def collect(self) -> Iterator[Metric]:
        """The families as of the last ``refresh``."""
        yield from self._families(empty=False)

    def _families(self, *, empty: bool) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            PREFIX + "metrics_database_up",
            "1 when this scrape could read the database gauges below, else 0",
        )
        pending = GaugeMetricFamily(
            PREFIX + "outbox_pending_items",
            "Outbox items not done yet (held digest posts included), by kind",
            labels=["kind"],
        )
        oldest = GaugeMetricFamily(
            PREFIX + "outbox_oldest_due_age_seconds",
            "How long the oldest due outbox item has waited, by kind (0 when none is due)",
            labels=["kind"],
        )
        overdue = GaugeMetricFamily(
            PREFIX + "overdue_handoffs",
            "Open handoffs past their deadline, by workflow",
            labels=["workflow"],
        )
        window = GaugeMetricFamily(
            PREFIX + "handoff_window_seconds",
            "The period the handoff_* gauges cover, ending now",
        )
        received = GaugeMetricFamily(
            PREFIX + "handoffs_received",
            "Handoffs received in the period, by workflow",
            labels=["workflow"],
        )
        escalations = GaugeMetricFamily(
            PREFIX + "handoff_escalations",
            "Escalations of the handoffs received in the period, by workflow",
            labels=["workflow"],
        )
        durations = GaugeMetricFamily(
            PREFIX + "handoff_duration_seconds",
            "Time from receipt to a stage (first_action, decision, payment) of the handoffs "
            "received in the period: median (quantile 0.5) and 90th percentile (0.9)",
            labels=["workflow", "stage", "quantile"],
        )
        samples = GaugeMetricFamily(
            PREFIX + "handoff_duration_samples",
            "How many handoffs received in the period reached each stage",
            labels=["workflow", "stage"],
        )
        families = [up, pending, oldest, overdue, window, received, escalations, durations, samples]
        if empty:
            return iter(families)
        up.add_metric([], 1.0 if self._up else 0.0)
        if self._up:
            self._add_database(pending, oldest, overdue)
            self._add_window(window, received, escalations, durations, samples)
        return iter(families)

    def _add_database(
        self, pending: GaugeMetricFamily, oldest: GaugeMetricFamily, overdue: GaugeMetricFamily
    ) -> None:
        for kind, backlog in sorted(self._backlog.items()):
            pending.add_metric([kind], backlog.pending)
            oldest.add_metric([kind], backlog.oldest_due_seconds)
        # Every workflow, zero included: a series that vanishes reads as "no data", not "none".
        for workflow in sorted({w.value for w in Workflow} | set(self._overdue)):
            overdue.add_metric([workflow], self._overdue.get(workflow, 0))

    def _add_window(
        self,
        window: GaugeMetricFamily,
        received: GaugeMetricFamily,
        escalations: GaugeMetricFamily,
        durations: GaugeMetricFamily,
        samples: GaugeMetricFamily,
    ) -> None:
        report = self._report
        if report is None:
            return
        window.add_metric([], (report.until - report.since).total_seconds())
        for workflow in sorted({w.value for w in Workflow} | set(report.by_workflow)):
            group = report.by_workflow.get(workflow)
            received.add_metric([workflow], group.received if group else 0)
            escalations.add_metric([workflow], group.escalations if group else 0)
            for stage in STAGES:
                timing = group.stage(stage) if group else None
                samples.add_metric([workflow, stage], timing.count if timing else 0)
                if timing is None or not timing.count:
                    continue
                for quantile, attribute in QUANTILES:
                    value = getattr(timing, attribute)
                    if value is not None:
                        durations.add_metric([workflow, stage, quantile], value)


class PrometheusMetrics:
    """This process's registry: its counters (a ``Telemetry``) and the database gauges."""

    def __init__(
        self,
        queries: MetricsQueries,
        *,
        clock: Callable[[], datetime],
        routing: Callable[[], RoutingConfig],
        window_ttl: float = WINDOW_TTL,
    ) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._lock = asyncio.Lock()
        # prometheus_client adds "_total" to a counter's name in the exposition.
        self._intake = Counter(
            PREFIX + "intake_requests",
            "DialNexa webhook requests answered, by HTTP status code",
            ["status_code"],
            registry=self.registry,
        )
        self._rate_limited = Counter(
            PREFIX + "slack_rate_limited",
            "Slack answers of 429 to the bot's posts, by what was posted",
            ["surface"],
            registry=self.registry,
        )
        self._connector_retries = Counter(
            PREFIX + "connector_retries",
            "Connector work on an event scheduled to be tried again, by connector",
            ["connector"],
            registry=self.registry,
        )
        self._connector_failures = Counter(
            PREFIX + "connector_failures",
            "Connector work on an event given up, by connector",
            ["connector"],
            registry=self.registry,
        )
        for surface in (POST, THREAD_NOTE):
            self._rate_limited.labels(surface=surface)
        self.database = DatabaseCollector(queries, routing=routing, window_ttl=window_ttl)
        self.registry.register(self.database)

    def know_connectors(self, names: Iterable[str]) -> None:
        """Show every connector that is on at zero before its first retry or failure."""
        for name in names:
            self._connector_retries.labels(connector=name)
            self._connector_failures.labels(connector=name)

    # -- Telemetry --

    def intake_answered(self, status: int) -> None:
        self._intake.labels(status_code=str(int(status))).inc()

    def slack_rate_limited(self, surface: SlackSurface) -> None:
        self._rate_limited.labels(surface=surface).inc()

    def connector_retried(self, connector: str) -> None:
        self._connector_retries.labels(connector=connector).inc()

    def connector_failed(self, connector: str) -> None:
        self._connector_failures.labels(connector=connector).inc()

    # -- exposition --

    async def exposition(self) -> bytes:
        """The text exposition of every series, the database gauges read now."""
        async with self._lock:  # two scrapes at once read the database once each, in turn
            await self.database.refresh(self._clock())
            return generate_latest(self.registry)
