"""Request info end to end: signed clicks, modal submissions and thread replies through the real
app, a fake Slack and a hand-moved clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from blocks.ids import ActionId, BlockId, CallbackId, InputId
from sandbox.events import events_for, signed
from sandbox.slack_objects import Demo, Message
from services.events import EventType
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import SLACK_SIGNING_SECRET, Harness, running_bot
from tests.support.slack import block_action

DEADLINE = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the dispute's follow-up deadline
ASKED_AT = DEADLINE - timedelta(hours=12)  # well before it: only the question's ladder runs
APPROVER = Demo.APPROVER_1
OWNER = Demo.AP_LEAD  # the dispute's owner (ap-lead@acme.example), a finance member
CARD = "4111 1111 1111 1111"
QUESTION = "Which of the two charges did the customer keep?"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(ASKED_AT)


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


async def dispute(bot: Harness) -> str:
    return await bot.accept(example("duplicate_charge_dispute"))


def dms(bot: Harness, user: str) -> list[Message]:
    channel, _created = bot.slack.workspace.open_im(user)
    return [m for m in bot.slack.messages_in(channel.id) if m.user == Demo.BOT]


def dump(message: Any) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def action_ids(message: Message) -> list[str]:
    return [
        e.get("action_id", "")
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def events(bot: Harness, handoff_id: str, action: EventType) -> list[dict[str, Any]]:
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    return [{"actor": e.actor, **e.detail} for e in trail if e.action == action.value]


async def ask(
    bot: Harness, handoff_id: str, question: str = QUESTION, *, user: str = APPROVER
) -> dict[str, Any]:
    """Click Request info, and submit its modal as it opened with ``question`` typed in."""
    before = len(bot.opened_views(user, CallbackId.REQUEST_INFO_MODAL))
    assert (await bot.click(user, ActionId.REQUEST_INFO, handoff_id)).status == 200
    opened = bot.opened_views(user, CallbackId.REQUEST_INFO_MODAL)
    assert len(opened) == before + 1, "the question modal did not open"
    view = opened[-1]
    [asked] = [b for b in view["blocks"] if b.get("block_id") == BlockId.ASKED.value]
    values = {
        BlockId.QUESTION.value: {
            InputId.QUESTION.value: {"type": "plain_text_input", "value": question}
        },
        BlockId.ASKED.value: {
            InputId.ASKED.value: {
                "type": "users_select",
                "selected_user": asked["element"].get("initial_user"),
            }
        },
    }
    response = await bot.submit(user, CallbackId.REQUEST_INFO_MODAL, handoff_id, values)
    assert response.status == 200
    await bot.drain()
    return view


async def reply(bot: Harness, user: str, handoff_id: str, text: str) -> None:
    """``user`` replies in the handoff's thread; the bot gets the events Slack would send."""
    card = await bot.card(handoff_id)
    ws = bot.slack.workspace
    message = ws.post_message(card.channel, text=text, user=user, thread_ts=card.message_ts)
    for body in events_for(
        message, team_id=ws.team_id, api_app_id=ws.app_id, bot_user_id=ws.bot_user_id, is_im=False
    ):
        raw, headers = signed(body, SLACK_SIGNING_SECRET)
        response = await bot.client.post("/slack/events", data=raw, headers=headers)
        assert response.status == 200, await response.text()
    await bot.drain()


def answers_to(bot: Harness, user: str) -> list[Message]:
    return [m for m in dms(bot, user) if "answered your question" in m.text]


async def test_ask_dms_the_owner_and_the_message_waits_for_info(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert ActionId.REQUEST_INFO in action_ids(bot.message(card))
    view = await ask(bot, handoff_id)
    [asked] = [b for b in view["blocks"] if b.get("block_id") == BlockId.ASKED.value]
    assert asked["element"]["initial_user"] == OWNER  # the owner, by default
    [dm] = dms(bot, OWNER)
    assert QUESTION in dump(dm) and f"<@{APPROVER}>" in dm.blocks[0]["text"]["text"]
    assert ActionId.ANSWER_INFO in action_ids(dm)
    message = bot.message(await bot.card(handoff_id))
    status = message.blocks[1]["text"]["text"]
    assert status.startswith(f"❓ *Waiting for info from* <@{OWNER}>")
    assert QUESTION in status
    assert ActionId.REQUEST_INFO not in action_ids(message)  # one question at a time
    assert any(f"asked <@{OWNER}> before deciding" in t for t in bot.thread_texts(card))
    [asked_event] = await events(bot, handoff_id, EventType.INFO_REQUESTED)
    assert (asked_event["actor"], asked_event["asked_to"]) == (APPROVER, OWNER)


async def test_a_second_question_waits_for_the_first_answer(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    await ask(bot, handoff_id)
    await bot.click(Demo.APPROVER_2, ActionId.REQUEST_INFO, handoff_id)
    assert bot.opened_views(Demo.APPROVER_2, CallbackId.REQUEST_INFO_MODAL) == []
    [told] = bot.ephemerals_for(Demo.APPROVER_2)
    assert "still waits for its answer" in told
    refused = await events(bot, handoff_id, EventType.REFUSED)
    assert [(r["actor"], r["reason"]) for r in refused] == [(Demo.APPROVER_2, "info_already_open")]


@pytest.mark.parametrize("user", [Demo.OUTSIDER, OWNER])  # not in finance; finance, no approver
async def test_only_approvers_may_request_info(bot: Harness, user: str) -> None:
    handoff_id = await dispute(bot)
    assert (await bot.click(user, ActionId.REQUEST_INFO, handoff_id)).status == 200
    assert bot.opened_views(user, CallbackId.REQUEST_INFO_MODAL) == []
    [told] = bot.ephemerals_for(user)
    assert told.startswith("Only finance approvers can ask for information on handoffs.")
    refused = await events(bot, handoff_id, EventType.REFUSED)
    assert [(r["actor"], r["action"], r["reason"]) for r in refused] == [
        (user, "request_info", "not_approver")
    ]
    assert await events(bot, handoff_id, EventType.INFO_REQUESTED) == []


async def test_asking_someone_outside_finance_is_refused_in_the_modal(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    await bot.click(APPROVER, ActionId.REQUEST_INFO, handoff_id)
    values = {
        BlockId.QUESTION.value: {
            InputId.QUESTION.value: {"type": "plain_text_input", "value": QUESTION}
        },
        BlockId.ASKED.value: {
            InputId.ASKED.value: {"type": "users_select", "selected_user": Demo.OUTSIDER}
        },
    }
    response = await bot.submit(APPROVER, CallbackId.REQUEST_INFO_MODAL, handoff_id, values)
    answer = await response.json()
    assert answer["response_action"] == "errors"
    assert "finance member" in answer["errors"][BlockId.ASKED.value]
    assert await events(bot, handoff_id, EventType.INFO_REQUESTED) == []
    assert dms(bot, Demo.OUTSIDER) == []


async def test_a_thread_reply_by_the_person_asked_answers_once(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    await ask(bot, handoff_id)
    await reply(
        bot, OWNER, handoff_id, "The customer keeps the second charge; the first is the duplicate."
    )
    [answer] = answers_to(bot, APPROVER)
    text = dump(answer)
    assert f"<@{OWNER}> answered your question on" in text
    assert "the first is the duplicate" in text
    card = await bot.card(handoff_id)
    assert f"/archives/{card.channel}/p" in text  # the link to the handoff message
    status = bot.message(card).blocks[1]["text"]["text"]
    assert "Waiting for info" not in status
    assert status.startswith("⏳ *Waiting for approval*")  # back to normal
    assert ActionId.REQUEST_INFO in action_ids(bot.message(card))
    assert any("answered <@" in t and "first is the duplicate" in t for t in bot.thread_texts(card))
    # A second reply is an ordinary note: the approver hears once.
    await reply(bot, OWNER, handoff_id, "Also: they asked for a receipt.")
    assert len(answers_to(bot, APPROVER)) == 1
    [answered] = await events(bot, handoff_id, EventType.INFO_ANSWERED)
    assert (answered["actor"], answered["via"], answered["asked_by"]) == (OWNER, "thread", APPROVER)
    notes = await events(bot, handoff_id, EventType.NOTE_ADDED)
    assert [n["note"] for n in notes] == ["Also: they asked for a receipt."]


async def test_someone_elses_thread_reply_does_not_answer(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    await ask(bot, handoff_id)
    await reply(bot, Demo.BILLING_OPS, handoff_id, "I think it was the first one.")
    assert answers_to(bot, APPROVER) == []
    assert await events(bot, handoff_id, EventType.INFO_ANSWERED) == []
    status = bot.message(await bot.card(handoff_id)).blocks[1]["text"]["text"]
    assert status.startswith(f"❓ *Waiting for info from* <@{OWNER}>")
    notes = await events(bot, handoff_id, EventType.NOTE_ADDED)
    assert [n["note"] for n in notes] == ["I think it was the first one."]


async def test_answer_from_the_dm_modal(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    await ask(bot, handoff_id)
    [dm] = dms(bot, OWNER)
    # Someone else pressing Answer (a forwarded DM, a stale button) is refused and audited.
    other = block_action(
        user=Demo.BILLING_OPS,
        action_id=ActionId.ANSWER_INFO,
        value=handoff_id,
        channel=dm.channel,
        message_ts=dm.ts,
    )
    assert (await bot.slack_post(other)).status == 200
    assert bot.opened_views(Demo.BILLING_OPS, CallbackId.ANSWER_INFO_MODAL) == []
    refused = await events(bot, handoff_id, EventType.REFUSED)
    assert [(r["actor"], r["reason"]) for r in refused] == [(Demo.BILLING_OPS, "not_asked")]
    click = block_action(
        user=OWNER,
        action_id=ActionId.ANSWER_INFO,
        value=handoff_id,
        channel=dm.channel,
        message_ts=dm.ts,
    )
    assert (await bot.slack_post(click)).status == 200
    [view] = bot.opened_views(OWNER, CallbackId.ANSWER_INFO_MODAL)
    assert QUESTION in json.dumps(view["blocks"], ensure_ascii=False)
    values = {
        BlockId.ANSWER.value: {
            InputId.ANSWER.value: {"type": "plain_text_input", "value": "The second charge stays."}
        }
    }
    response = await bot.submit(OWNER, CallbackId.ANSWER_INFO_MODAL, handoff_id, values)
    assert response.status == 200
    await bot.drain()
    [answer] = answers_to(bot, APPROVER)
    assert "The second charge stays." in dump(answer)
    [answered] = await events(bot, handoff_id, EventType.INFO_ANSWERED)
    assert answered["via"] == "modal"
    # Answering again finds nothing open: told so, nothing sent twice.
    again = block_action(
        user=OWNER,
        action_id=ActionId.ANSWER_INFO,
        value=handoff_id,
        channel=dm.channel,
        message_ts=dm.ts,
    )
    assert (await bot.slack_post(again)).status == 200
    assert len(bot.opened_views(OWNER, CallbackId.ANSWER_INFO_MODAL)) == 1
    assert any("already answered" in t for t in bot.ephemerals_for(OWNER))
    assert len(answers_to(bot, APPROVER)) == 1


async def test_an_unanswered_question_climbs_the_reminder_ladder(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await dispute(bot)
    await ask(bot, handoff_id)
    due = ASKED_AT + timedelta(hours=4)  # [reminders] info_answer_within_hours, by default

    async def tick_at(at: datetime) -> None:
        clock.now = at
        await bot.deps.reminders.run_once()
        await bot.drain()

    def nudges(user: str) -> list[Message]:
        return [
            m for m in dms(bot, user) if (m.metadata or {}).get("event_type") == "finance_nudge"
        ]

    await tick_at(due - timedelta(minutes=1))
    assert nudges(OWNER) == []
    await tick_at(due + timedelta(minutes=5))
    await tick_at(due + timedelta(minutes=6))
    [nudge] = nudges(OWNER)
    assert "Answer overdue by 5 min" in dump(nudge) and QUESTION in dump(nudge)
    assert ActionId.ANSWER_INFO in action_ids(nudge)
    assert nudges(Demo.FIN_LEAD) == []
    await tick_at(due + timedelta(minutes=65))  # the ladder's lead step: an hour after
    [lead] = nudges(Demo.FIN_LEAD)
    assert f"question to <@{OWNER}>" in dump(lead)
    sent = await events(bot, handoff_id, EventType.NUDGE_SENT)
    assert [(s["kind"], s["notified"]) for s in sent] == [("owner", OWNER), ("lead", Demo.FIN_LEAD)]
    assert all("info_request" in s for s in sent)
    # Answered: the ladder stops (its channel step would come 5 h after the due time).
    await reply(bot, OWNER, handoff_id, "The second charge stays.")
    await tick_at(due + timedelta(hours=6))
    card = await bot.card(handoff_id)
    assert not any("unanswered" in t for t in bot.thread_texts(card))
    assert len(await events(bot, handoff_id, EventType.NUDGE_SENT)) == 2


async def test_card_numbers_are_suppressed_in_question_and_answer(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    await ask(bot, handoff_id, f"Is the card {CARD} the one charged twice?")
    await reply(bot, OWNER, handoff_id, f"Yes, {CARD} was charged twice.")
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    said = [m for m in bot.slack.thread(card.channel, card.message_ts) if m.user == Demo.BOT]
    shown = [dump(m) for m in dms(bot, OWNER) + dms(bot, APPROVER) + said]
    assert all("4111" not in s for s in shown)
    assert "I removed a card number from your answer" in "".join(shown)
    [asked] = await events(bot, handoff_id, EventType.INFO_REQUESTED)
    [answered] = await events(bot, handoff_id, EventType.INFO_ANSWERED)
    assert "4111" not in json.dumps([asked, answered])
    assert asked["removed"] == answered["removed"] == ["card_number"]
    request = await bot.deps.info.latest(handoff_id)
    assert "4111" not in request.question + (request.answer or "")
