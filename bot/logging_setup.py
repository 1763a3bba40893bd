"""Log set-up: one line per record, context fields appended, secrets scrubbed on the way out."""

from __future__ import annotations

import logging
import re
import sys

from services.redaction import redact_text

__all__ = ["configure_logging"]

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


def configure_logging(level: str, *, label: str = "") -> None:
    """Send scrubbed log lines to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter(label=label))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
