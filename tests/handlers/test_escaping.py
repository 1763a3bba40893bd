"""Caller text cannot imitate the bot or ping anyone (issue #11 item 9), through the real app."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from blocks.ids import ActionId, BlockId, CallbackId, InputId
from sandbox.slack_state import Demo
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

TOKEN = re.compile(r"<!date\^00000000\^\{_\}\|(.)>")
FORGED = "*✅ Approved by Ana Lopez* <!channel>"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


def section_texts(message: Any) -> list[str]:
    return [
        block["text"]["text"]
        for block in message.blocks or []
        if block.get("type") == "section" and "text" in block
    ]


async def reassign(bot: Harness, handoff_id: str, to: str) -> None:
    await bot.click(Demo.APPROVER_1, ActionId.REASSIGN, handoff_id)
    picked = {
        BlockId.ASSIGNEE.value: {
            InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": to}
        }
    }
    response = await bot.submit(Demo.APPROVER_1, CallbackId.REASSIGN_MODAL, handoff_id, picked)
    assert response.status == 200


async def test_what_the_caller_asked_cannot_look_like_the_bots_own_line(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute", caller_request=FORGED))
    message = bot.message(await bot.card(handoff_id))
    asked = next(t for t in section_texts(message) if t.startswith("*What the caller asked*"))
    caller_part = asked.removeprefix("*What the caller asked*\n")
    # No bare formatting mark is left: each * is a date token whose fallback Slack shows as "*".
    assert "*" not in TOKEN.sub("", caller_part)
    assert TOKEN.sub(r"\1", caller_part) == "*✅ Approved by Ana Lopez* &lt;!channel&gt;"
    everything = message.text + json.dumps(message.blocks)
    assert "<!channel>" not in everything
    assert "*✅ Approved" not in everything  # not even in the notification text


async def test_reassign_dm_fallback_carries_no_raw_customer_name(bot: Harness) -> None:
    payload = example("duplicate_charge_dispute")
    payload["customer"] = {**payload["customer"], "name": "<!channel> *Boss* & Co <@U0ANA>"}
    handoff_id = await bot.accept(payload)
    await reassign(bot, handoff_id, Demo.BILLING_OPS)
    dm, _created = bot.slack.workspace.open_im(Demo.BILLING_OPS)
    (message,) = bot.slack.messages_in(dm.id)
    assert "<!channel>" not in message.text and "<@U0ANA>" not in message.text
    assert "&lt;!channel&gt; *Boss* &amp; Co &lt;@U0ANA&gt;" in message.text
    assert "<!channel>" not in json.dumps(message.blocks)


async def test_reassign_thread_note_mentions_the_new_owner(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await reassign(bot, handoff_id, Demo.BILLING_OPS)
    notes = bot.thread_texts(await bot.card(handoff_id))
    reassigned = [n for n in notes if "reassigned" in n]
    assert reassigned == [
        f"↪️ <@{Demo.APPROVER_1}> reassigned this handoff to <@{Demo.BILLING_OPS}>."
    ]
    assert not any("&lt;@" in n for n in notes)


async def test_invoice_with_bad_text_echoes_it_escaped(bot: Harness) -> None:
    response, _key = await bot.command(Demo.APPROVER_1, "/invoice", "<!channel> *hi* <@U0ANA>")
    assert response.status == 200
    answer = json.loads(await response.text())
    assert "<!channel>" not in answer["text"] and "<@U0ANA>" not in answer["text"]
    assert "&lt;!channel&gt;" in answer["text"]
    shown = answer["blocks"][0]["text"]["text"]
    assert "<!channel>" not in shown
    assert "*hi*" not in shown and "*hi*" in TOKEN.sub(r"\1", shown)


async def test_escalation_reason_is_inert_in_thread_and_escalation_channel(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    reason = {
        BlockId.REASON.value: {InputId.REASON.value: {"type": "plain_text_input", "value": FORGED}}
    }
    await bot.submit(Demo.APPROVER_2, CallbackId.ESCALATE_MODAL, handoff_id, reason)
    (repost,) = bot.slack.messages_in(Demo.ESCALATIONS)
    notes = bot.thread_texts(await bot.card(handoff_id))
    for text in [json.dumps(repost.blocks), *notes]:
        assert "<!channel>" not in text
        assert "*✅" not in text
