"""Follow-up reminders end to end: the real app, a fake Slack, a hand-moved clock.

The scheduler itself is only started where start-up behaviour is under test; elsewhere the tests
run the reminder pass (``reminders.run_once``) and the outbox (``drain``) by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from blocks.ids import ActionId, BlockId, CallbackId, InputId, SnoozeFor, encode_snooze_value
from bot.app import BotApp, build_app
from sandbox.slack_state import Demo, Message
from services.states import HandoffStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.routing import make_routing
from tests.support.slack import block_action

DEADLINE = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
OWNER = Demo.AP_LEAD  # ap-lead@acme.example, the dispute example's owner
NEXT_STEP = "Verify both payments and reverse one"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DEADLINE - timedelta(hours=3))


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


def dispute(**follow_up: Any) -> dict[str, Any]:
    payload = example("duplicate_charge_dispute")
    payload["follow_up"] = {**payload["follow_up"], **follow_up}
    return payload


async def tick(bot: Harness) -> None:
    """One scheduler pass, then the outbox."""
    await bot.deps.reminders.run_once()
    await bot.drain()


def dms(bot: Harness, user: str) -> list[Message]:
    channel, _created = bot.slack.workspace.open_im(user)
    return bot.slack.messages_in(channel.id)


def nudges_to(bot: Harness, user: str) -> list[Message]:
    return [m for m in dms(bot, user) if (m.metadata or {}).get("event_type") == "finance_nudge"]


def dump(message: Message) -> str:
    return message.text + json.dumps(message.blocks)


def element_ids(message: Message) -> list[str]:
    return [
        e.get("action_id", "")
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def audit_actions(bot: Harness, handoff_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, e.detail) for e in await bot.deps.handoffs.audit_trail(handoff_id)]


async def test_due_nudge_is_sent_once_to_the_owner(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(dispute())
    await tick(bot)
    assert nudges_to(bot, OWNER) == []  # not due yet
    clock.now = DEADLINE + timedelta(hours=2)
    await tick(bot)
    await tick(bot)
    [nudge] = nudges_to(bot, OWNER)
    text = dump(nudge)
    assert "Overdue by 2 h" in nudge.text
    assert NEXT_STEP in text and "Quill Analytics" in text
    card = await bot.card(handoff_id)
    assert f"/archives/{card.channel}/p" in text  # chat.getPermalink's link to the message
    assert element_ids(nudge)[:3] == [ActionId.DONE, ActionId.SNOOZE, ActionId.REASSIGN]
    assert "Overdue by 2 h" in dump(bot.message(card))  # the channel message was refreshed
    sent = [d for action, d in await audit_actions(bot, handoff_id) if action == "nudge_sent"]
    assert [(d["step"], d["kind"], d["notified"]) for d in sent] == [(0, "owner", OWNER)]


async def test_ladder_owner_then_lead_then_channel_each_once(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(dispute())
    card = await bot.card(handoff_id)
    for minutes in (0, 30, 59):
        clock.now = DEADLINE + timedelta(minutes=minutes)
        await tick(bot)
    assert len(nudges_to(bot, OWNER)) == 1
    assert nudges_to(bot, Demo.FIN_LEAD) == []
    clock.now = DEADLINE + timedelta(minutes=60)
    await tick(bot)
    [lead] = nudges_to(bot, Demo.FIN_LEAD)
    assert f"<@{OWNER}>" in lead.blocks[0]["text"]["text"]
    assert "overdue by 1 h" in dump(lead)
    clock.now = DEADLINE + timedelta(minutes=299)
    await tick(bot)
    assert [m for m in bot.thread_texts(card) if "overdue" in m.lower()] == []
    for minutes in (300, 301, 900, 5000):
        clock.now = DEADLINE + timedelta(minutes=minutes)
        await tick(bot)
    broadcasts = [
        m for m in bot.slack.messages_in(card.channel) if m.reply_broadcast and m.is_reply
    ]
    assert len(broadcasts) == 1
    assert f"<@{OWNER}>" in broadcasts[0].blocks[0]["text"]["text"]
    assert len(nudges_to(bot, OWNER)) == 1
    assert len(nudges_to(bot, Demo.FIN_LEAD)) == 1
    kinds = [d["kind"] for a, d in await audit_actions(bot, handoff_id) if a == "nudge_sent"]
    assert kinds == ["owner", "lead", "channel"]


async def test_closed_handoff_gets_no_nudge(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(dispute())
    await bot.approve(Demo.APPROVER_1, handoff_id)  # the decision is recorded for the owner
    await bot.click(OWNER, ActionId.DONE, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.DONE
    for hours in (0, 1, 5, 24):
        clock.now = DEADLINE + timedelta(hours=hours)
        await tick(bot)
    assert nudges_to(bot, OWNER) == []
    assert nudges_to(bot, Demo.FIN_LEAD) == []


async def test_snooze_from_the_dm_pauses_and_restarts_the_ladder(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(dispute())
    clock.now = DEADLINE + timedelta(minutes=10)
    await tick(bot)
    [nudge] = nudges_to(bot, OWNER)
    value = encode_snooze_value(handoff_id, SnoozeFor.ONE_HOUR)
    fields = block_action(
        user=OWNER,
        action_id=ActionId.SNOOZE,
        value=value,
        channel=nudge.channel,
        message_ts=nudge.ts,
        selected=True,
    )
    assert (await bot.slack_post(fields)).status == 200
    # The DM itself now says so, in place, and offers no more buttons.
    updated = bot.slack.workspace.message(nudge.channel, nudge.ts)
    assert updated.text.startswith("Snoozed until 2026-11-27 16:10 UTC by you")
    assert "by you" in updated.blocks[0]["text"]["text"]
    assert all(b.get("type") != "actions" for b in updated.blocks)
    for minutes in (30, 60, 69):  # the lead's step would have been due at +60
        clock.now = DEADLINE + timedelta(minutes=minutes)
        await tick(bot)
    assert len(nudges_to(bot, OWNER)) == 1
    assert nudges_to(bot, Demo.FIN_LEAD) == []
    clock.now = DEADLINE + timedelta(minutes=70)  # the snooze ends: the owner first, again
    await tick(bot)
    assert len(nudges_to(bot, OWNER)) == 2
    assert nudges_to(bot, Demo.FIN_LEAD) == []
    clock.now = DEADLINE + timedelta(minutes=130)
    await tick(bot)
    assert len(nudges_to(bot, Demo.FIN_LEAD)) == 1


async def test_mark_done_from_the_dm_stops_the_ladder(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(dispute())
    await bot.approve(Demo.APPROVER_1, handoff_id)  # approved: the owner follows up
    clock.now = DEADLINE
    await tick(bot)
    [nudge] = nudges_to(bot, OWNER)
    fields = block_action(
        user=OWNER,
        action_id=ActionId.DONE,
        value=handoff_id,
        channel=nudge.channel,
        message_ts=nudge.ts,
    )
    assert (await bot.slack_post(fields)).status == 200
    assert (await bot.card(handoff_id)).status is HandoffStatus.DONE
    updated = bot.slack.workspace.message(nudge.channel, nudge.ts)
    assert updated.text.startswith("Marked done by you")
    assert all(b.get("type") != "actions" for b in updated.blocks)
    clock.now = DEADLINE + timedelta(hours=6)
    await tick(bot)
    assert nudges_to(bot, Demo.FIN_LEAD) == []
    assert len(nudges_to(bot, OWNER)) == 1


async def test_mark_done_from_the_dm_is_refused_while_approval_is_pending(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(dispute())
    clock.now = DEADLINE
    await tick(bot)
    [nudge] = nudges_to(bot, OWNER)
    fields = block_action(
        user=OWNER,
        action_id=ActionId.DONE,
        value=handoff_id,
        channel=nudge.channel,
        message_ts=nudge.ts,
    )
    assert (await bot.slack_post(fields)).status == 200
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
    [told] = [e for e in bot.slack.workspace.ephemerals if e.user == OWNER]
    assert told.channel == nudge.channel and "still waits for approval" in told.text
    unchanged = bot.slack.workspace.message(nudge.channel, nudge.ts)
    assert any(b.get("type") == "actions" for b in unchanged.blocks)  # still actionable
    refused = [
        e.detail
        for a, e in [(e.action, e) for e in await bot.deps.handoffs.audit_trail(handoff_id)]
        if a == "refused"
    ]
    assert refused == [{"action": "mark_done", "reason": "awaiting_approval"}]


async def test_reassign_moves_the_reminder_to_the_new_owner(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(dispute())
    clock.now = DEADLINE + timedelta(minutes=20)
    await tick(bot)
    assert len(nudges_to(bot, OWNER)) == 1
    picked = {
        BlockId.ASSIGNEE.value: {
            InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": Demo.BILLING_OPS}
        }
    }
    await bot.submit(Demo.APPROVER_1, CallbackId.REASSIGN_MODAL, handoff_id, picked)
    await tick(bot)
    [nudge] = nudges_to(bot, Demo.BILLING_OPS)
    assert "Overdue by 20 min" in nudge.text
    clock.now = DEADLINE + timedelta(minutes=70)  # the new owner gets a full hour first
    await tick(bot)
    assert nudges_to(bot, Demo.FIN_LEAD) == []
    clock.now = DEADLINE + timedelta(minutes=80)
    await tick(bot)
    assert len(nudges_to(bot, Demo.FIN_LEAD)) == 1
    assert len(nudges_to(bot, OWNER)) == 1  # the old owner hears nothing more


@pytest.mark.parametrize("owner", ["nobody@acme.example", "Finance team"])
async def test_owner_who_cannot_be_found_is_reported_in_the_channel(
    bot: Harness, clock: FakeClock, owner: str
) -> None:
    handoff_id = await bot.accept(dispute(finance_owner=owner))
    clock.now = DEADLINE + timedelta(minutes=5)
    await tick(bot)
    card = await bot.card(handoff_id)
    assert card.owner_slack_id is None
    [report] = [t for t in bot.thread_texts(card) if "not found" in t]
    assert owner in report
    reply = bot.slack.thread(card.channel, card.message_ts or "")[-1]
    assert "couldn't find the owner" in dump(reply)
    assert not reply.reply_broadcast


async def test_heads_up_before_the_deadline(tmp_path: Path, clock: FakeClock) -> None:
    routing = make_routing(reminders={"heads_up_before_minutes": 60})
    async with running_bot(tmp_path, clock=clock, routing=routing) as bot:
        await bot.accept(dispute())
        clock.now = DEADLINE - timedelta(minutes=60)
        await tick(bot)
        [heads_up] = nudges_to(bot, OWNER)
        assert "Due in 1 h" in heads_up.text
        clock.now = DEADLINE
        await tick(bot)
        assert len(nudges_to(bot, OWNER)) == 2
        assert "overdue" in nudges_to(bot, OWNER)[-1].text.lower()


@asynccontextmanager
async def another_replica(
    bot: Harness, clock: FakeClock, *, run_workers: bool = False
) -> AsyncIterator[BotApp]:
    """A second bot process on the same database and the same fake Slack."""
    other = build_app(
        bot.deps.settings, routing=make_routing(), clock=clock, run_workers=run_workers
    )
    client: TestClient[Any, Any] = TestClient(TestServer(other.web))
    await client.start_server()  # runs on_startup: migrations, and workers when asked
    try:
        yield other
    finally:
        await client.close()


async def drain(app: BotApp) -> None:
    for _ in range(20):
        if not await app.container.worker.run_once():
            return


async def test_restart_after_a_missed_deadline_sends_once(bot: Harness, clock: FakeClock) -> None:
    await bot.accept(dispute())
    clock.now = DEADLINE + timedelta(minutes=45)  # the deadline passed while nobody ran the job
    arrived = asyncio.Event()
    bot.slack.on_change.append(lambda _event: arrived.set() if nudges_to(bot, OWNER) else None)
    async with another_replica(bot, clock, run_workers=True) as restarted:
        assert restarted.scheduler is not None and restarted.scheduler.running
        await asyncio.wait_for(arrived.wait(), timeout=20)  # the start-up pass, no tick by hand
    assert restarted.scheduler is not None and not restarted.scheduler.running
    async with another_replica(bot, clock) as again:
        assert again.container.reminders is not None
        await again.container.reminders.run_once()
        await drain(again)
    await tick(bot)
    assert len(nudges_to(bot, OWNER)) == 1


@pytest.mark.postgres
@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="two replicas racing for claims need PostgreSQL: set TEST_DATABASE_URL",
)
async def test_two_replicas_on_postgres_send_each_nudge_exactly_once(
    bot: Harness, clock: FakeClock
) -> None:
    ids = [await bot.accept(dispute() | {"call_id": f"dnx_call_PG{i:04d}"}) for i in range(6)]
    async with another_replica(bot, clock) as other:
        assert other.container.reminders is not None
        for minutes in (0, 60, 300, 301):
            clock.now = DEADLINE + timedelta(minutes=minutes)
            await asyncio.gather(
                bot.deps.reminders.run_once(), other.container.reminders.run_once()
            )
            await asyncio.gather(bot.drain(), drain(other))
    per_handoff = [(m.metadata or {})["event_payload"]["handoff_id"] for m in nudges_to(bot, OWNER)]
    assert sorted(per_handoff) == sorted(ids)
    assert len(nudges_to(bot, Demo.FIN_LEAD)) == len(ids)
    for handoff_id in ids:
        kinds = [d["kind"] for a, d in await audit_actions(bot, handoff_id) if a == "nudge_sent"]
        assert kinds == ["owner", "lead", "channel"]


async def test_a_nudge_sent_just_before_a_crash_is_not_sent_again(tmp_path: Path) -> None:
    clock = FakeClock()  # real time: the fake Slack stamps messages with it
    async with running_bot(tmp_path, clock=clock) as bot:
        deadline = clock.now - timedelta(minutes=30)
        handoff_id = await bot.accept(dispute(deadline=deadline.isoformat()))
        assert await bot.deps.reminders.run_once() == 1
        [claimed] = await bot.deps.outbox.claim()  # the try that dies after Slack took the DM
        assert claimed.kind == "nudge"
        im, _created = bot.slack.workspace.open_im(OWNER)
        await bot.deps.slack.chat_postMessage(
            channel=im.id,
            text="sent just before the crash",
            metadata={
                "event_type": "finance_nudge",
                "event_payload": {"handoff_id": handoff_id, "key": claimed.payload["key"]},
            },
        )
        clock.advance(minutes=2)  # the dead process's lease runs out
        await bot.drain()
        assert len(nudges_to(bot, OWNER)) == 1
        sent = [d for a, d in await audit_actions(bot, handoff_id) if a == "nudge_sent"]
        assert [d["notified"] for d in sent] == [OWNER]
