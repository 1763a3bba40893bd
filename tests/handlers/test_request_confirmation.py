"""An /invoice new requester is told privately it was sent, where it will appear, then the link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blocks.ids import CallbackId
from sandbox.slack_state import Demo, Message
from tests.handlers.test_commands import form
from tests.support.harness import Harness, running_bot
from tests.support.slack import view_submission


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


def dms(bot: Harness, user: str) -> list[Message]:
    channel, _created = bot.slack.workspace.open_im(user)
    return bot.slack.messages_in(channel.id)


async def submit(bot: Harness, user: str) -> None:
    values = form("dana@example.com", "1,250.00", "EUR", "Consulting, November")
    response = await bot.slack_post(
        view_submission(
            user=user, callback_id=CallbackId.INVOICE_NEW_MODAL, private_metadata="", values=values
        )
    )
    assert response.status == 200


async def test_requester_is_told_where_it_will_appear_then_gets_the_link(bot: Harness) -> None:
    await submit(bot, Demo.BILLING_OPS)
    [confirmation] = dms(bot, Demo.BILLING_OPS)
    assert "Your invoice request for *1,250.00 EUR* to dana@example.com was sent" in (
        confirmation.text
    )
    assert f"It will appear in <#{Demo.FINANCE}>" in confirmation.text
    assert "http" not in confirmation.text  # not posted yet: no link to give
    await bot.drain()  # the outbox posts the request
    for _ in range(50):
        [confirmation] = dms(bot, Demo.BILLING_OPS)  # edited in place, never a second DM
        if "open your request" in confirmation.text:
            break
        await asyncio.sleep(0.1)
    card = next(
        c
        for c in [await bot.deps.handoffs.card_by_call(m) for m in _request_ids(confirmation)]
        if c is not None
    )
    assert card.message_ts is not None
    permalink = (
        await bot.deps.slack.chat_getPermalink(channel=card.channel, message_ts=card.message_ts)
    )["permalink"]
    assert f"It is posted in <#{card.channel}>: <{permalink}|open your request>" in (
        confirmation.text
    )


def _request_ids(message: Message) -> list[str]:
    import re

    return re.findall(r"Request `([^`]+)`", str(message.blocks))
