"""Every thread note is keyed and posted once: a Slack error or a crash around the post neither
repeats nor loses it (the worker's try reads the thread first)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from blocks.audit import thread_note
from blocks.ids import ActionId, BlockId, CallbackId, InputId
from sandbox.slack_state import Demo
from services.db.models import OutboxItem
from services.events import EventType, OutboxKind
from services.states import HandoffStatus
from slack_adapter.notes import NOTE_EVENT, content_key
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

REASON = "Not a duplicate: two orders"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


async def decline(bot: Harness, handoff_id: str) -> None:
    await bot.click(Demo.APPROVER_1, ActionId.DECLINE, handoff_id)
    values = {
        BlockId.REASON.value: {InputId.REASON.value: {"type": "plain_text_input", "value": REASON}}
    }
    await bot.submit(Demo.APPROVER_1, CallbackId.DECLINE_MODAL, handoff_id, values)


def replies(bot: Harness, card: Any, text: str) -> list[Any]:
    assert card.message_ts is not None
    return [m for m in bot.slack.thread(card.channel, card.message_ts)[1:] if text in m.text]


async def notes_left(bot: Harness) -> list[str]:
    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(
            select(OutboxItem.status).where(OutboxItem.kind == OutboxKind.THREAD_NOTE.value)
        )
        return [s for s in rows.all() if s != "done"]


async def test_every_decision_note_carries_a_key(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await decline(bot, handoff_id)
    card = await bot.card(handoff_id)
    [note] = replies(bot, card, REASON)
    assert note.metadata is not None
    assert note.metadata["event_type"] == NOTE_EVENT
    # The key is the decline event's: the note was queued in the decline's own transaction.
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    [declined] = [e for e in trail if e.action == EventType.DECLINED.value]
    assert note.metadata["event_payload"]["key"] == f"note:{declined.key}"
    assert await notes_left(bot) == []


async def test_a_crash_right_after_the_decision_still_posts_its_note_once(
    bot: Harness, clock: FakeClock
) -> None:
    """The decision committed, then the process died before it touched Slack: the note's work
    committed with it, so the worker posts it (and only once)."""
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    result = await bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, REASON)
    assert result.ok
    card = await bot.card(handoff_id)
    assert replies(bot, card, REASON) == []
    assert await notes_left(bot) == ["pending"]

    await bot.drain()
    await bot.drain()
    assert len(replies(bot, card, REASON)) == 1
    assert await notes_left(bot) == []


async def test_a_5xx_on_a_note_then_a_retry_posts_it_once(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    bot.slack.fail_next("chat.postMessage", status=503)  # the decline note
    await decline(bot, handoff_id)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.DECLINED
    assert replies(bot, card, REASON) == []
    assert await notes_left(bot) == ["pending"]

    clock.advance(seconds=5)
    await bot.drain()
    clock.advance(minutes=5)
    await bot.drain()
    assert len(replies(bot, card, REASON)) == 1
    assert await notes_left(bot) == []


async def test_a_rerun_after_the_note_was_posted_does_not_repeat_it(
    bot: Harness, clock: FakeClock
) -> None:
    """A crash after posting but before the work was marked done (or a 5xx after Slack posted):
    the worker's try finds the note in the thread."""
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await decline(bot, handoff_id)
    card = await bot.card(handoff_id)
    assert len(replies(bot, card, REASON)) == 1
    async with bot.deps.db.sessions() as session, session.begin():
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.kind == OutboxKind.THREAD_NOTE.value)
            .values(status="pending", done_at=None, locked_until=None)
        )

    await bot.drain()
    clock.advance(minutes=5)
    await bot.drain()
    assert len(replies(bot, card, REASON)) == 1
    assert await notes_left(bot) == []


async def test_a_crash_before_posting_leaves_the_note_to_the_worker(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    card = await bot.card(handoff_id)
    note = thread_note("escalated", Demo.APPROVER_1, clock(), detail="Customer called twice")
    notes = bot.deps.adapter.notes
    # The note's work was queued (claimed by this process), then the process died.
    assert await notes.queue(handoff_id, note, content_key(handoff_id, note)) is not None
    await bot.drain()
    assert replies(bot, card, "Customer called twice") == []  # still this process's claim

    clock.advance(minutes=2)  # the lease ran out
    await bot.drain()
    assert len(replies(bot, card, "Customer called twice")) == 1
    assert await notes_left(bot) == []


async def test_the_same_note_twice_is_posted_once(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    card = await bot.card(handoff_id)
    note = thread_note("snoozed", Demo.APPROVER_1, clock(), detail="tomorrow")
    messages = bot.deps.adapter.messages
    assert await messages.refresh(handoff_id, note=note)
    assert await messages.refresh(handoff_id, note=note)
    assert len(replies(bot, card, "tomorrow")) == 1


async def test_a_5xx_after_slack_posted_the_note_does_not_repeat_it(
    bot: Harness, clock: FakeClock
) -> None:
    """A gateway failing after Slack acted: the bot cannot tell it from a failure that posted
    nothing, so only the thread read before the next try keeps it from posting twice."""
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    answer = bot.slack._answer
    left = [1]

    def posted_then_failed(method: str, token: str | None, args: Any) -> Any:
        result = answer(method, token, args)
        if method == "chat.postMessage" and left[0] and result[0] == 200 and args.has("thread_ts"):
            left[0] -= 1
            return 502, {"ok": False, "error": "bad_gateway"}, {}
        return result

    bot.slack._answer = posted_then_failed  # type: ignore[method-assign]
    await decline(bot, handoff_id)
    card = await bot.card(handoff_id)
    assert len(replies(bot, card, REASON)) == 1
    assert await notes_left(bot) == ["pending"]  # the bot saw a 502

    clock.advance(seconds=5)
    await bot.drain()
    assert len(replies(bot, card, REASON)) == 1
    assert await notes_left(bot) == []


async def test_the_worker_knows_every_kind_the_app_queues(bot: Harness) -> None:
    assert set(bot.deps.worker.handlers) == set(OutboxKind)
