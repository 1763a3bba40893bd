"""GET /metrics through the real app: the bearer token, the names, and counters that move."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.base import GiveUp, RetryAfter
from sandbox.slack_state import Demo
from services.events import EventType
from tests.connectors.toy import ScriptedToy
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

TOKEN = "metrics-test-token-0123456789"
NAME = re.compile(r"^finance_bot_[a-z0-9_]+$")
LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
# Every family and its label names, as a scraper sees them.
FAMILIES = {
    "finance_bot_intake_requests_total": {"status_code"},
    "finance_bot_slack_rate_limited_total": {"surface"},
    "finance_bot_connector_retries_total": {"connector"},
    "finance_bot_connector_failures_total": {"connector"},
    "finance_bot_metrics_database_up": set(),
    "finance_bot_outbox_pending_items": {"kind"},
    "finance_bot_outbox_oldest_due_age_seconds": {"kind"},
    "finance_bot_overdue_handoffs": {"workflow"},
    "finance_bot_handoff_window_seconds": set(),
    "finance_bot_handoffs_received": {"workflow"},
    "finance_bot_handoff_escalations": {"workflow"},
    "finance_bot_handoff_duration_seconds": {"workflow", "stage", "quantile"},
    "finance_bot_handoff_duration_samples": {"workflow", "stage"},
}
COUNTERS = {name for name in FAMILIES if name.endswith("_total")}

Samples = dict[str, dict[frozenset[tuple[str, str]], float]]


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    toy = ScriptedToy(
        [RetryAfter(0, "busy"), GiveUp("the double said no")],
        handles=frozenset({EventType.RECEIVED}),
    )
    async with running_bot(tmp_path, metrics_token=TOKEN, connectors=[toy]) as harness:
        yield harness


async def scrape(bot: Harness) -> tuple[Samples, dict[str, str]]:
    """Every sample by name and label set; and each family's type."""
    response = await bot.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(await response.text()):
        types[family.name] = family.type
        for sample in family.samples:
            if sample.name.endswith("_created"):  # prometheus_client's own per-series clock
                continue
            labels = frozenset(sample.labels.items())
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(frozenset(labels.items()), 0.0)


async def test_metrics_need_the_bearer_token(bot: Harness) -> None:
    missing = await bot.client.get("/metrics")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await missing.json())["error"] == "unauthorized"
    wrong = await bot.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    basic = await bot.client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status == 401
    assert "finance_bot_" not in await wrong.text()


async def test_without_a_token_set_metrics_are_off(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        response = await bot.client.get("/metrics", headers={"Authorization": "Bearer "})
        assert response.status == 404
        assert "METRICS_TOKEN" in (await response.json())["message"]


async def test_names_types_and_label_sets_follow_prometheus_conventions(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    assert (await bot.approve(Demo.APPROVER_1, handoff_id)).status == 200
    samples, types = await scrape(bot)
    for name, labels in FAMILIES.items():
        assert name in samples, name
        assert NAME.match(name)
        for label_set in samples[name]:
            assert {key for key, _ in label_set} == labels, name
            assert all(LABEL.match(key) for key, _ in label_set)
    mine = {name for name in samples if name.startswith("finance_bot_")}
    assert mine == set(FAMILIES)
    for name in COUNTERS:
        assert types[name.removesuffix("_total")] == "counter"
    assert all(types[n] == "gauge" for n in FAMILIES if n not in COUNTERS)
    # Its own registry: nothing lands in prometheus_client's global one.
    assert prometheus_client.REGISTRY.get_sample_value("finance_bot_metrics_database_up") is None
    assert value(samples, "finance_bot_metrics_database_up") == 1.0
    assert value(samples, "finance_bot_handoff_window_seconds") == 7 * 24 * 3600
    assert value(samples, "finance_bot_handoffs_received", workflow="create_invoice") == 1.0
    # Every workflow and outbox kind is there at zero rather than missing.
    assert value(samples, "finance_bot_overdue_handoffs", workflow="dispute") == 0.0
    assert frozenset({("kind", "digest")}) in samples["finance_bot_outbox_pending_items"]


async def test_intake_counts_answers_by_status_code(bot: Harness) -> None:
    before, _ = await scrape(bot)
    assert value(before, "finance_bot_intake_requests_total", status_code="202") == 0.0
    assert (await bot.deliver(example("create_invoice"))).status == 202
    assert (await bot.deliver(example("create_invoice"))).status == 200  # the same call again
    refused = await bot.deliver(example("receipt_resend"), secret="not-the-secret")
    assert refused.status == 401
    after, _ = await scrape(bot)
    assert value(after, "finance_bot_intake_requests_total", status_code="202") == 1.0
    assert value(after, "finance_bot_intake_requests_total", status_code="200") == 1.0
    assert value(after, "finance_bot_intake_requests_total", status_code="401") == 1.0


async def test_a_slack_429_is_counted(bot: Harness) -> None:
    before, _ = await scrape(bot)
    assert value(before, "finance_bot_slack_rate_limited_total", surface="post") == 0.0
    bot.slack.fail_next("chat.postMessage", 1, status=429, retry_after=1)
    handoff_id = await bot.accept(example("create_invoice"))
    assert (await bot.card(handoff_id)).message_ts is not None  # posted after waiting it out
    after, _ = await scrape(bot)
    assert value(after, "finance_bot_slack_rate_limited_total", surface="post") == 1.0
    assert value(after, "finance_bot_slack_rate_limited_total", surface="thread_note") == 0.0


async def test_connector_retries_and_give_ups_are_counted(bot: Harness) -> None:
    before, _ = await scrape(bot)
    assert value(before, "finance_bot_connector_failures_total", connector="toy") == 0.0
    await bot.accept(example("create_invoice"))  # its "received" event: retried, then given up
    after, _ = await scrape(bot)
    assert value(after, "finance_bot_connector_retries_total", connector="toy") == 1.0
    assert value(after, "finance_bot_connector_failures_total", connector="toy") == 1.0


async def test_timings_come_from_the_audit_log(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_bot(tmp_path, metrics_token=TOKEN, clock=clock) as bot:
        handoff_id = await bot.accept(example("create_invoice"))
        clock.advance(minutes=12)
        assert (await bot.approve(Demo.APPROVER_1, handoff_id)).status == 200
        samples, _ = await scrape(bot)
    durations = samples["finance_bot_handoff_duration_seconds"]
    for stage in ("first_action", "decision"):  # the approval was both, 12 minutes in
        labels = {"workflow": "create_invoice", "stage": stage}
        assert value(samples, "finance_bot_handoff_duration_samples", **labels) == 1.0
        for quantile in ("0.5", "0.9"):
            assert durations[frozenset({**labels, "quantile": quantile}.items())] == 720.0
    paid = {"workflow": "create_invoice", "stage": "payment"}
    assert value(samples, "finance_bot_handoff_duration_samples", **paid) == 0.0
    assert not any(dict(series)["stage"] == "payment" for series in durations)
