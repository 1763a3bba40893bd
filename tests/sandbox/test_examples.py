"""Example handoffs offered by the sandbox page, and sending one as a brand-new call."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sandbox.examples import as_new_call, load_examples
from tests.support.examples import EXAMPLES_DIR, example, example_names

NOW = datetime(2027, 3, 1, 12, 0, 30, 123456, tzinfo=UTC)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_every_repo_example_is_offered() -> None:
    offered = load_examples()
    assert [e["name"] for e in offered] == example_names()
    first = offered[0]
    assert json.loads(first["json"]) == example(first["name"])
    assert first["title"][0].isupper()


def test_a_new_call_gets_a_unique_id_and_keeps_its_deadline_offset() -> None:
    raw = (EXAMPLES_DIR / "create_invoice.json").read_bytes()
    original = json.loads(raw)
    body, call_id = as_new_call(raw, NOW)
    data = json.loads(body)
    assert call_id is not None
    assert call_id == data["call_id"]
    assert call_id.startswith(original["call_id"] + "-")
    assert as_new_call(raw, NOW)[1] != call_id
    occurred = parse(data["occurred_at"])
    assert occurred == NOW.replace(microsecond=0) - timedelta(minutes=2)
    assert data["occurred_at"].endswith("Z") and "." not in data["occurred_at"]
    was = parse(original["follow_up"]["deadline"]) - parse(original["occurred_at"])
    assert parse(data["follow_up"]["deadline"]) - occurred == was
    assert {k: v for k, v in data.items() if k not in ("call_id", "occurred_at", "follow_up")} == {
        k: v for k, v in original.items() if k not in ("call_id", "occurred_at", "follow_up")
    }


def test_bodies_that_are_not_objects_are_sent_untouched() -> None:
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        assert as_new_call(raw, NOW) == (raw, None)
