"""What the bot counts as it works: the seam between the code that sees a thing happen and the
Prometheus registry that exposes it (``bot/metrics.py``).

Services, connectors and the Slack adapter call a ``Telemetry``; the default does nothing, so a
part built without one (most tests) counts nothing and behaves the same. Only in-process facts
live here (an HTTP answer, a 429, a connector's retry or give-up); what the database already
knows (outbox depth, timings, overdue handoffs) is read from it at scrape time instead.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_TELEMETRY", "NoTelemetry", "SlackSurface", "Telemetry"]

# Where the Slack adapter met a 429 (a bounded label value).
SlackSurface = str
POST = "post"  # a handoff's top-level post (slack_adapter/poster.py)
THREAD_NOTE = "thread_note"  # a note in a handoff's thread (slack_adapter/notes.py)


class Telemetry(Protocol):
    """Counts in-process events; every method is cheap and never raises."""

    def intake_answered(self, status: int) -> None:
        """The DialNexa webhook answered with HTTP ``status``."""

    def slack_rate_limited(self, surface: SlackSurface) -> None:
        """Slack answered 429 to a post of the adapter's on ``surface``."""

    def connector_retried(self, connector: str) -> None:
        """A connector's work on an event will be tried again."""

    def connector_failed(self, connector: str) -> None:
        """A connector gave up on an event."""


class NoTelemetry:
    """Counts nothing (the default)."""

    def intake_answered(self, status: int) -> None:
        return None

    def slack_rate_limited(self, surface: SlackSurface) -> None:
        return None

    def connector_retried(self, connector: str) -> None:
        return None

    def connector_failed(self, connector: str) -> None:
        return None


NO_TELEMETRY: Telemetry = NoTelemetry()
