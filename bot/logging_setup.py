"""Log set-up: one line per record, context fields appended, secrets scrubbed on the way out."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

from services.redaction import redact_text

__all__ = ["RefusalRateLimit", "ScrubbingFormatter", "configure_logging"]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# Secrets that travel in URLs (Plisio's api_key) or headers must never reach a log line.
_URL_SECRET = re.compile(r"(?i)(api_key|token|secret)=([^&\s\"']+)")


class ScrubbingFormatter(logging.Formatter):
    """Formats records with their ``extra`` fields and removes payment data and secrets.

    Lines read ``<time> <LEVEL> <logger>: <message> key=value ...``. Only the message, the extras
    and any traceback can carry outside data, so only they are scrubbed: the time, level and
    logger name are the process's own.
    """

    def __init__(self, *, label: str) -> None:
        super().__init__("%(message)s")
        self._label = f"[{label}] " if label else ""

    def format(self, record: logging.LogRecord) -> str:
        body = super().format(record)  # the message, then any traceback and stack
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            fields = " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))
            first, newline, rest = body.partition("\n")
            body = f"{first} {fields}{newline}{rest}"
        body = redact_text(_URL_SECRET.sub(r"\1=***", body)).text
        return f"{self._label}{self.formatTime(record)} {record.levelname} {record.name}: {body}"


# Lines about requests refused before anything was done (bad or missing signatures, stale
# timestamps, bodies that never arrived): anyone on the internet can cause them at will.
_REFUSAL_PREFIXES = ("refused ",)
# Bolt logs every bad Slack signature at INFO with the unverified body; the app logs its own
# (rate-limited) line instead, so Bolt's is dropped.
_BOLT_SIGNATURE_LINE = "Invalid request signature detected"


class RefusalRateLimit(logging.Filter):
    """A token bucket over refused-request lines, so unsigned traffic cannot flood the log.

    Up to ``burst`` such lines pass at once, then ``per_minute`` a minute; the rest are dropped
    and counted, and the next line that passes says how many were suppressed before it.
    """

    def __init__(
        self,
        *,
        burst: int = 10,
        per_minute: float = 6.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._burst = float(burst)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if message.startswith(_BOLT_SIGNATURE_LINE):
            return False
        if not message.startswith(_REFUSAL_PREFIXES):
            return True
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            self.suppressed += 1
            return False
        self._tokens -= 1
        if self.suppressed:
            record.suppressed_before = f"{self.suppressed} more suppressed"
            self.suppressed = 0
        return True


def configure_logging(
    level: str, *, label: str = "", stream: TextIO | None = None
) -> logging.Handler:
    """Send scrubbed, rate-limited log lines to stderr (or ``stream``) at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ScrubbingFormatter(label=label))
    handler.addFilter(RefusalRateLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
