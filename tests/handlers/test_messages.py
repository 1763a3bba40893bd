"""Talking to the bot end to end: signed DM, thread-reply and @mention events through the real app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from blocks.ids import ActionId, CallbackId
from connectors.base import ConnectorContext, Done, Result
from sandbox.events import event_callback, events_for, message_event, signed
from sandbox.slack_objects import Demo, Message
from services.events import Event, EventType
from services.states import HandoffStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import SLACK_SIGNING_SECRET, Harness, running_bot
from tests.support.slack import block_action

DEADLINE = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the dispute's deadline
CARD = "4111 1111 1111 1111"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DEADLINE + timedelta(hours=2))


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


async def send(bot: Harness, body: dict[str, Any], *, retry: int | None = None) -> ClientResponse:
    raw, headers = signed(body, SLACK_SIGNING_SECRET, retry=retry)
    return await bot.client.post("/slack/events", data=raw, headers=headers)


async def say(
    bot: Harness, user: str, channel: str, text: str, *, thread: str | None = None
) -> Message:
    """``user`` posts ``text`` (in ``thread``); the bot gets every event Slack would send."""
    ws = bot.slack.workspace
    message = ws.post_message(channel, text=text, user=user, thread_ts=thread)
    is_im = ws.resolve_channel(message.channel).is_im
    for body in events_for(
        message, team_id=ws.team_id, api_app_id=ws.app_id, bot_user_id=ws.bot_user_id, is_im=is_im
    ):
        response = await send(bot, body)
        assert response.status == 200, await response.text()
    return message


async def dm(bot: Harness, user: str, text: str) -> list[str]:
    """DM the bot; the bot's answers in that DM since."""
    channel, _ = bot.slack.workspace.open_im(user)
    before = set(channel.messages)
    await say(bot, user, channel.id, text)
    return [
        json.dumps(m.blocks, ensure_ascii=False) + m.text
        for ts, m in channel.messages.items()
        if ts not in before and m.user == Demo.BOT
    ]


async def dispute(bot: Harness) -> str:
    return await bot.accept(example("duplicate_charge_dispute"))  # owner: the AP lead, overdue


async def notes(bot: Harness, handoff_id: str) -> list[dict[str, Any]]:
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    return [dict(e.detail) for e in trail if e.action == EventType.NOTE_ADDED.value]


async def test_a_dm_asking_whats_overdue_gets_the_list(bot: Harness) -> None:
    await dispute(bot)
    later = example("collections_promise")
    later["follow_up"] = {**later["follow_up"], "finance_owner": Demo.AP_LEAD}
    await bot.accept(later)  # not overdue
    answers = await dm(bot, Demo.AP_LEAD, "whats overdeu for me?")
    assert len(answers) == 1
    assert "Your overdue handoffs* · 1" in answers[0]
    assert "Quill Analytics" in answers[0] and "overdue by 2 h" in answers[0]
    assert "Rosa Delgado" not in answers[0]


async def test_a_dm_status_is_the_handoff_answer_for_finance_only(bot: Harness) -> None:
    await dispute(bot)
    [status] = await dm(bot, Demo.BILLING_OPS, "stauts dnx_call_DSP1180")
    assert "Audit trail" in status and "Quill Analytics" in status
    [refused] = await dm(bot, Demo.OUTSIDER, "status dnx_call_DSP1180")
    assert "Quill Analytics" not in refused
    [queue] = await dm(bot, Demo.AP_LEAD, "my queue")
    assert "Your open handoffs* · 1" in queue


async def test_unknown_text_gets_help_never_silence(bot: Harness) -> None:
    [answer] = await dm(bot, Demo.AP_LEAD, "what is the meaning of life")
    assert "did not understand" in answer and "what's overdue" in answer


async def test_thread_snooze_acts_like_the_button(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    await say(bot, Demo.AP_LEAD, card.channel, "snooze 2h", thread=card.message_ts)
    await bot.drain()
    after = await bot.card(handoff_id)
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    [snoozed] = [e for e in trail if e.action == EventType.SNOOZED.value]
    assert (snoozed.actor, snoozed.detail["until"]) == (
        Demo.AP_LEAD,
        (clock() + timedelta(hours=2)).isoformat(),
    )
    assert any("Snoozed" in t or "snoozed" in t for t in bot.thread_texts(after))
    assert any("Snoozed: I will remind the owner" in t for t in bot.ephemerals_for(Demo.AP_LEAD))
    assert await notes(bot, handoff_id) == []  # a command is not a note


async def test_thread_done_by_an_outsider_is_refused_and_audited(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    await say(bot, Demo.OUTSIDER, card.channel, "done", thread=card.message_ts)
    assert (await bot.card(handoff_id)).status is card.status
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    assert [e.detail["action"] for e in trail if e.action == "refused"] == ["mark_done"]
    assert bot.ephemerals_for(Demo.OUTSIDER)


async def test_assign_in_the_thread_reassigns(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    await say(
        bot, Demo.AP_LEAD, card.channel, f"assign <@{Demo.BILLING_OPS}>", thread=card.message_ts
    )
    assert (await bot.card(handoff_id)).owner_slack_id == Demo.BILLING_OPS


async def test_a_note_is_suppressed_recorded_and_prompted_once(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    await say(
        bot,
        Demo.AP_LEAD,
        card.channel,
        f"Customer read me the card {CARD} again",
        thread=card.message_ts,
    )
    await say(bot, Demo.AP_LEAD, card.channel, "They also want a receipt", thread=card.message_ts)
    saved = await notes(bot, handoff_id)
    assert len(saved) == 2
    assert CARD not in saved[0]["note"] and "Customer read me the card" in saved[0]["note"]
    assert saved[0]["removed"] == ["card_number"]
    assert [bool(n.get("prompted")) for n in saved] == [True, False]
    said = [t for t in bot.thread_texts(card) if "I removed" in t or "Tip:" in t]
    assert len(said) == 1
    assert "I removed a card number from your note before saving it." in said[0]
    assert (await bot.card(handoff_id)).status is card.status
    # /handoff shows it, suppressed.
    _response, key = await bot.command(Demo.AP_LEAD, "/handoff", "dnx_call_DSP1180")
    shown = json.dumps(bot.slack.responses[key], ensure_ascii=False)
    assert "They also want a receipt" in shown and CARD not in shown


async def test_a_retried_event_acts_once(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    ws = bot.slack.workspace
    message = ws.post_message(
        card.channel, text="Customer will pay Friday", user=Demo.AP_LEAD, thread_ts=card.message_ts
    )
    event = message_event(message, team_id=ws.team_id, channel_type="channel")
    body = event_callback(
        event, team_id=ws.team_id, api_app_id=ws.app_id, bot_user_id=ws.bot_user_id
    )
    assert (await send(bot, body)).status == 200
    assert (await send(bot, body, retry=1)).status == 200
    assert len(await notes(bot, handoff_id)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"bot_id": "B0OTHER"},
        {"subtype": "bot_message"},
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"user": Demo.BOT},
    ],
)
async def test_bots_edits_and_deletes_are_ignored(bot: Harness, change: dict[str, Any]) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    ws = bot.slack.workspace
    message = ws.post_message(
        card.channel, text="done", user=Demo.AP_LEAD, thread_ts=card.message_ts
    )
    event = message_event(message, team_id=ws.team_id, channel_type="channel") | change
    body = event_callback(
        event, team_id=ws.team_id, api_app_id=ws.app_id, bot_user_id=ws.bot_user_id
    )
    assert (await send(bot, body)).status == 200
    assert (await bot.card(handoff_id)).status is card.status
    assert await notes(bot, handoff_id) == []


async def test_replies_in_other_threads_are_not_notes(bot: Harness) -> None:
    handoff_id = await dispute(bot)
    card = await bot.card(handoff_id)
    chatter = bot.slack.workspace.post_message(card.channel, text="lunch?", user=Demo.AP_LEAD)
    await say(bot, Demo.BILLING_OPS, card.channel, "done", thread=chatter.ts)
    assert await notes(bot, handoff_id) == []
    assert (await bot.card(handoff_id)).status is card.status
    assert bot.ephemerals_for(Demo.BILLING_OPS) == []


async def test_approve_by_mention_answers_with_the_buttons_and_never_acts(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    await say(bot, Demo.APPROVER_1, card.channel, f"<@{Demo.BOT}> approve", thread=card.message_ts)
    after = await bot.card(handoff_id)
    assert after.status is HandoffStatus.OPEN and after.approvals == ()
    [shown] = [e for e in bot.slack.workspace.ephemerals if e.user == Demo.APPROVER_1]
    assert "never do it from a message" in shown.text
    actions = [
        el.get("action_id")
        for block in shown.blocks
        if block.get("type") == "actions"
        for el in block.get("elements", [])
    ]
    assert ActionId.APPROVE.value in actions  # the buttons, which confirm before acting


async def test_the_assistant_pane_greets_and_answers_like_a_dm(bot: Harness) -> None:
    await dispute(bot)
    ws = bot.slack.workspace
    dm_channel, _ = ws.open_im(Demo.AP_LEAD)
    parent = ws.post_message(dm_channel.id, text="New assistant thread", user=Demo.AP_LEAD)
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": Demo.AP_LEAD,
            "channel_id": dm_channel.id,
            "thread_ts": parent.ts,
            "context": {"channel_id": Demo.FINANCE, "team_id": ws.team_id},
        },
        "event_ts": parent.ts,
    }
    wrap = {"team_id": ws.team_id, "api_app_id": ws.app_id, "bot_user_id": ws.bot_user_id}
    assert (await send(bot, event_callback(started, **wrap))).status == 200
    question = ws.post_message(
        dm_channel.id, text="What's overdue for me?", user=Demo.AP_LEAD, thread_ts=parent.ts
    )
    asked = message_event(question, team_id=ws.team_id, channel_type="im")
    assert (await send(bot, event_callback(asked, **wrap))).status == 200
    replies = [m for m in bot.slack.thread(dm_channel.id, parent.ts)[1:] if m.user == Demo.BOT]
    assert "Ask me about finance handoffs" in replies[0].text
    assert "Your overdue handoffs: 1" in replies[-1].text
    assert bot.slack.calls_to("assistant.threads.setStatus")  # tried, wherever it exists
    snooze = ws.post_message(
        dm_channel.id, text="snooze 2h", user=Demo.AP_LEAD, thread_ts=parent.ts
    )
    asked = message_event(snooze, team_id=ws.team_id, channel_type="im")
    assert (await send(bot, event_callback(asked, **wrap))).status == 200
    last = [m for m in bot.slack.thread(dm_channel.id, parent.ts) if m.user == Demo.BOT][-1]
    assert "Which handoff?" in last.text and f"<#{Demo.FINANCE}>" in last.text


async def test_create_an_invoice_opens_the_request_form_prefilled_never_an_invoice(
    bot: Harness,
) -> None:
    [answer] = await dm(bot, Demo.BILLING_OPS, "create an invoice for ap@x.example 1,250 EUR")
    assert "Open the invoice form" in answer
    channel, _ = bot.slack.workspace.open_im(Demo.BILLING_OPS)
    [offer] = [
        m
        for m in channel.messages.values()
        if "Open the invoice form" in m.text + json.dumps(m.blocks)
    ]
    [button] = [
        el for b in offer.blocks if b.get("type") == "actions" for el in b.get("elements", [])
    ]
    for user in (Demo.OUTSIDER, Demo.BILLING_OPS):
        click = block_action(
            user=user,
            action_id=ActionId.OPEN_INVOICE_FORM.value,
            value=button["value"],
            channel=channel.id,
            message_ts=offer.ts,
        )
        assert (await bot.slack_post(click)).status == 200
    opened = [c.args["view"] for c in bot.slack.calls_to("views.open") if c.ok]
    [form] = [json.loads(v) if isinstance(v, str) else v for v in opened]  # the outsider got none
    assert form["callback_id"] == CallbackId.INVOICE_NEW_MODAL.value
    inputs = {b["block_id"]: b["element"] for b in form["blocks"] if b.get("type") == "input"}
    assert inputs["invoice_email"]["initial_value"] == "ap@x.example"
    assert inputs["invoice_amount"]["initial_value"] == "1250.00"
    assert inputs["invoice_currency"]["initial_option"]["value"] == "EUR"


@dataclass
class NoteConnector:
    """A connector subscribed to notes; remembers what it was handed."""

    name: str = "notes"
    handles: frozenset[EventType] = frozenset({EventType.NOTE_ADDED})
    seen: list[Event] = field(default_factory=list)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        self.seen.append(event)
        return Done()


async def test_a_note_reaches_a_subscribed_connector_once_suppressed(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector = NoteConnector()
    async with running_bot(tmp_path, clock=clock, connectors=[connector]) as bot:
        handoff_id = await dispute(bot)
        card = await bot.card(handoff_id)
        assert card.message_ts is not None
        await say(
            bot, Demo.AP_LEAD, card.channel, f"card {CARD} was read out", thread=card.message_ts
        )
        await bot.drain()
        await bot.drain()
    [event] = connector.seen
    assert event.type is EventType.NOTE_ADDED and event.handoff_id == handoff_id
    assert CARD not in str(event.detail["note"]) and "was read out" in str(event.detail["note"])
