"""The App Home tab end to end: published on app_home_opened and again after the person acts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from slack_sdk.signature import SignatureVerifier

from blocks.common import validate_view
from sandbox.slack_state import Demo
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import SLACK_SIGNING_SECRET, Harness, running_bot

DEADLINE = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DEADLINE + timedelta(hours=2))


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


async def open_home(bot: Harness, user: str, *, tab: str = "home") -> ClientResponse:
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0SANDBOX",
            "api_app_id": "A0BOT",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": f"D{user[1:]}",
                "tab": tab,
                "event_ts": f"{time.time():.6f}",
            },
        }
    )
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SIGNING_SECRET).generate_signature(
        timestamp=timestamp, body=body
    )
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
    }
    return await bot.client.post("/slack/events", data=body.encode(), headers=headers)


def home_of(bot: Harness, user: str) -> dict[str, Any]:
    view_id = bot.slack.workspace.home_views[user]
    view = bot.slack.workspace.views[view_id]
    return {"type": "home", "blocks": view.blocks}


def publishes(bot: Harness, user: str) -> int:
    return len(
        [c for c in bot.slack.calls_to("views.publish") if c.ok and c.args["user_id"] == user]
    )


async def test_opening_home_shows_the_owners_queue_overdue_first(bot: Harness) -> None:
    later = example("collections_promise")
    later["follow_up"] = {**later["follow_up"], "finance_owner": Demo.AP_LEAD}
    await bot.accept(later)  # deadline 30 Nov
    overdue = await bot.accept(example("duplicate_charge_dispute"))  # deadline passed 2 h ago
    response = await open_home(bot, Demo.AP_LEAD)
    assert response.status == 200
    view = home_of(bot, Demo.AP_LEAD)
    validate_view(view)
    dumped = json.dumps(view, ensure_ascii=False)
    assert "*Your open handoffs* · 2" in dumped
    assert dumped.index("Quill Analytics") < dumped.index("Rosa Delgado")
    assert "⏰ *Overdue by 2 h*" in dumped
    card = await bot.card(overdue)
    assert f"/archives/{card.channel}/p" in dumped  # the title links to the channel message
    assert "Waiting for your approval" not in dumped  # not an approver


async def test_messages_tab_is_ignored(bot: Harness) -> None:
    await open_home(bot, Demo.AP_LEAD, tab="messages")
    assert publishes(bot, Demo.AP_LEAD) == 0


async def test_approver_home_refreshes_after_acting(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await open_home(bot, Demo.APPROVER_1)
    before = json.dumps(home_of(bot, Demo.APPROVER_1), ensure_ascii=False)
    assert "*Waiting for your approval* · 1" in before
    await bot.approve(Demo.APPROVER_1, handoff_id)
    assert publishes(bot, Demo.APPROVER_1) == 2
    after = json.dumps(home_of(bot, Demo.APPROVER_1), ensure_ascii=False)
    assert "*Waiting for your approval* · 0" in after
    assert "You approved this" in after


async def test_a_home_failure_never_breaks_the_action(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.slack.fail_next("views.publish", 1, error="internal_error")
    response = await bot.approve(Demo.APPROVER_1, handoff_id)
    assert response.status == 200
    await bot.drain()
    assert (await bot.card(handoff_id)).invoice is not None
    assert bot.ephemerals_for(Demo.APPROVER_1) == []


async def test_home_with_many_handoffs_stays_within_slack_limits(bot: Harness) -> None:
    for i in range(45):
        payload = example("create_invoice") | {"call_id": f"dnx_call_MANY{i:03d}"}
        payload["follow_up"] = {**payload["follow_up"], "finance_owner": Demo.APPROVER_1}
        assert (await bot.deliver(payload)).status == 202
    await open_home(bot, Demo.APPROVER_1)
    view = home_of(bot, Demo.APPROVER_1)
    validate_view(view)
    assert len(view["blocks"]) <= 100
    dumped = json.dumps(view, ensure_ascii=False)
    assert "*Your open handoffs* · 45" in dumped
    assert "…and 25 more" in dumped  # 20 shown
    assert "…and 30 more" in dumped  # 15 waiting for approval shown


async def test_admins_home_says_which_dialnexa_fields_need_mapping(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.accept(example("billing_question_minimal"))  # no owner, record, status, ...
    await open_home(bot, Demo.APPROVER_1)
    admin = json.dumps(home_of(bot, Demo.APPROVER_1), ensure_ascii=False)
    assert "🧩 *DialNexa fields to map*" in admin
    assert "owner (1)" in admin
    await open_home(bot, Demo.AP_LEAD)  # a finance member, not an admin
    assert "fields to map" not in json.dumps(home_of(bot, Demo.AP_LEAD), ensure_ascii=False)
    # The same list is one line of the start-up log, for whoever launches the bot.
    from bot.app import _log_mapping_gaps

    with caplog.at_level("WARNING", logger="bot.app"):
        await _log_mapping_gaps(bot.deps.db)
    [line] = [r.getMessage() for r in caplog.records if "need mapping" in r.getMessage()]
    assert "open handoffs arrived without: " in line and "owner (1)" in line
