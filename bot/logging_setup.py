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
    """Formats records with their ``extra`` fields and removes payment data and secrets."""

    def __init__(self, *, label: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._label = label

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))
        if self._label:
            line = f"[{self._label}] {line}"
        line = _URL_SECRET.sub(r"\1=***", line)
        return redact_text(line).text


def configure_logging(level: str, *, label: str = "") -> None:
    """Send scrubbed log lines to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter(label=label))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
