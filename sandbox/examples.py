"""The example handoffs the sandbox page offers, and turning one into a brand-new call."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLES_DIR", "as_new_call", "load_examples"]

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples" / "handoffs"
CALL_AGE = timedelta(minutes=2)  # a fresh call "ended" two minutes ago


def load_examples(directory: Path = EXAMPLES_DIR) -> list[dict[str, Any]]:
    """Every ``*.json`` example as ``{"name", "title", "workflow", "json"}``, by name."""
    found = []
    for path in sorted(directory.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        try:
            workflow = json.loads(text).get("workflow")
        except (ValueError, AttributeError):
            workflow = None
        title = path.stem.replace("_", " ").capitalize()
        found.append({"name": path.stem, "title": title, "workflow": workflow, "json": text})
    return found


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def as_new_call(raw: bytes, now: datetime) -> tuple[bytes, str | None]:
    """A handoff as if its call just ended: a unique call id, times moved to ``now``.

    Bodies that are not a JSON object are returned untouched, so the bot's own answer to them
    (400, 422, ...) can be seen.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw, None
    if not isinstance(data, dict):
        return raw, None
    call_id = f"{data.get('call_id') or 'sandbox_call'}-{secrets.token_hex(3)}"
    data["call_id"] = call_id
    occurred = _parse_time(data.get("occurred_at"))
    new_occurred = now - CALL_AGE
    data["occurred_at"] = _iso(new_occurred)
    follow_up = data.get("follow_up")
    if isinstance(follow_up, dict) and occurred is not None:
        deadline = _parse_time(follow_up.get("deadline"))
        if deadline is not None:  # keep the deadline as far after the call as it was
            follow_up["deadline"] = _iso(new_occurred + (deadline - occurred))
    return json.dumps(data, ensure_ascii=False).encode("utf-8"), call_id
