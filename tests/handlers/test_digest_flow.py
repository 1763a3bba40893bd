"""The low-priority digest end to end: held posts, one digest per channel, replies with buttons."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from blocks.ids import ActionId
from bot.scheduler import DIGEST_JOB, REFUND_JOB, REMINDER_JOB, build_scheduler
from sandbox.slack_state import Demo, Message
from services.digest import GRACE
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.routing import make_routing

DIGEST_AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LOW = ("receipt_resend", "billing_question_minimal")  # both routed to C0FINANCE, not urgent


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DIGEST_AT - timedelta(hours=2))


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    routing = make_routing(digest={"enabled": True, "cron": "0 9 * * *", "timezone": "UTC"})
    async with running_bot(tmp_path, clock=clock, routing=routing) as harness:
        yield harness


def action_ids(message: Message) -> list[str]:
    return [
        e.get("action_id", "")
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def test_non_urgent_handoffs_are_gathered_into_one_digest_per_channel(
    bot: Harness, clock: FakeClock
) -> None:
    low = [await bot.accept(example(name)) for name in LOW]
    collections = await bot.accept(example("collections_promise"))
    urgent = await bot.accept(example("duplicate_charge_dispute"))
    assert (await bot.card(urgent)).message_ts is not None  # urgent never waits
    assert bot.slack.messages_in(Demo.FINANCE) == []
    assert bot.slack.messages_in(Demo.COLLECTIONS_CHANNEL) == []

    clock.now = DIGEST_AT
    assert await bot.deps.digest.run_once() == 2  # two channels
    assert await bot.deps.digest.run_once() == 0  # the same slot is queued once
    await bot.drain()
    clock.advance(seconds=5)
    await bot.drain()

    [digest] = bot.slack.messages_in(Demo.FINANCE)
    assert "Low-priority handoffs · 2" in json.dumps(digest.blocks, ensure_ascii=False)
    replies = bot.slack.thread(Demo.FINANCE, digest.ts)[1:]
    assert len(replies) == 2
    for handoff_id, reply in zip(low, replies, strict=True):
        card = await bot.card(handoff_id)
        assert card.message_ts == reply.ts
        assert ActionId.APPROVE in action_ids(reply)  # each keeps its buttons
        assert f"p{reply.ts.replace('.', '')}" in json.dumps(digest.blocks)  # line -> handoff
    [other] = bot.slack.messages_in(Demo.COLLECTIONS_CHANNEL)
    assert len(bot.slack.thread(Demo.COLLECTIONS_CHANNEL, other.ts)) == 2
    assert (await bot.card(collections)).message_ts is not None

    clock.advance(minutes=30)  # nothing is posted twice once the hold would have ended
    await bot.drain()
    assert len(bot.slack.messages_in(Demo.FINANCE)) == 1


async def test_held_handoffs_go_out_alone_when_the_digest_never_ran(
    bot: Harness, clock: FakeClock
) -> None:
    ids = [await bot.accept(example(name)) for name in LOW]
    clock.now = DIGEST_AT + GRACE - timedelta(seconds=1)
    await bot.drain()
    assert bot.slack.messages_in(Demo.FINANCE) == []
    clock.now = DIGEST_AT + GRACE
    await bot.drain()
    assert len(bot.slack.messages_in(Demo.FINANCE)) == 2
    for handoff_id in ids:
        assert (await bot.card(handoff_id)).message_ts is not None


async def test_scheduler_has_the_reminder_job_and_the_digest_cron(bot: Harness) -> None:
    scheduler = build_scheduler(bot.deps)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {REMINDER_JOB, REFUND_JOB, DIGEST_JOB}
    assert "hour='9'" in str(jobs[DIGEST_JOB].trigger)


async def test_without_the_digest_there_is_only_the_reminder_job(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        # The refund release job always runs: a refund scheduled earlier still goes out.
        jobs = [job.id for job in build_scheduler(bot.deps).get_jobs()]
        assert jobs == [REMINDER_JOB, REFUND_JOB]
        handoff_id = await bot.accept(example("receipt_resend"))
        assert (await bot.card(handoff_id)).message_ts is not None  # posted at once
