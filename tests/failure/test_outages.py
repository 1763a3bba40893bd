"""Plisio and Slack misbehaving under the real bot process: nothing lost, nothing done twice,
people told what is going on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bench.stack import APPROVE_ACTION, RETRY_ACTION, BotProcess, handoff_payload, has_button
from sandbox.slack_state import Demo
from tests.failure.conftest import Stack, eventually, offering, only_post, showing, thread_texts

pytestmark = pytest.mark.slow

PROCESSING = "Creating Plisio invoice"


async def _posted(stack: Stack, bot: BotProcess, **changes: Any) -> tuple[str, str]:
    """Deliver one create-invoice handoff and wait for its post: (call id, handoff id)."""
    call_id = f"dnx_outage_{uuid.uuid4().hex[:8]}"
    delivered = await stack.dialnexa(bot).deliver(handoff_payload(call_id, **changes), timeout=20)
    assert delivered.accepted, delivered.answers
    assert delivered.handoff_id is not None
    handoff_id = delivered.handoff_id
    await eventually(lambda: only_post(stack, handoff_id), timeout=15, what="the post")
    return call_id, handoff_id


async def _click(stack: Stack, bot: BotProcess, action: str, handoff_id: str) -> None:
    message = only_post(stack, handoff_id)
    assert message is not None
    status, _seconds = await stack.user(bot).click(
        Demo.APPROVER_1, action, handoff_id, message.channel, message.ts
    )
    assert status == 200


async def _noted(stack: Stack, message: Any, needle: str, what: str) -> None:
    """Wait for a thread note containing ``needle`` (notes follow the message update)."""
    await eventually(
        lambda: [t for t in thread_texts(stack, message) if needle in t.lower()],
        timeout=10,
        what=what,
    )


async def test_short_plisio_outage_waits_and_invoices_once(stack: Stack) -> None:
    bot = stack.bot()
    await bot.start_healthy()
    call_id, handoff_id = await _posted(stack, bot)
    stack.plisio.down = True
    await _click(stack, bot, APPROVE_ACTION, handoff_id)
    # While Plisio is down the approval stands and the message says the invoice is on its way.
    message = await eventually(
        lambda: showing(stack, handoff_id, PROCESSING),
        timeout=10,
        what="the message to show the invoice being created",
    )
    assert not has_button(message, APPROVE_ACTION)
    await _noted(stack, message, "approved", "the approval in the thread")
    await eventually(
        lambda: len(stack.plisio.requests) >= 2, timeout=10, what="two tries against Plisio"
    )
    stack.plisio.down = False
    invoice = await eventually(
        lambda: stack.plisio.invoices_for_order(call_id), timeout=20, what="the invoice"
    )
    message = await eventually(
        lambda: showing(stack, handoff_id, invoice[0].invoice_url),
        timeout=10,
        what="the message to show the invoice",
    )
    assert len(stack.plisio.invoices_for_order(call_id)) == 1
    await _noted(stack, message, "invoice created", "the invoice in the thread")
    assert not any("failed" in t.lower() for t in thread_texts(stack, message))


async def test_long_plisio_outage_offers_retry_tells_the_thread_and_invoices_once(
    stack: Stack,
) -> None:
    bot = stack.bot()
    await bot.start_healthy()
    call_id, handoff_id = await _posted(stack, bot)
    stack.plisio.down = True
    await _click(stack, bot, APPROVE_ACTION, handoff_id)
    # The bot gives up after its automatic tries: the message offers Retry, the thread says why.
    message = await eventually(
        lambda: offering(stack, handoff_id, RETRY_ACTION),
        timeout=40,
        what="the Retry button",
    )
    assert "invoice failed" in str(message.blocks).lower()
    # The thread note follows the message update: wait for it rather than race it.
    await eventually(
        lambda: [
            t for t in thread_texts(stack, message) if "Plisio invoice failed" in t and "Retry" in t
        ],
        timeout=10,
        what="the thread note saying the invoice failed",
    )
    assert stack.plisio.invoices_for_order(call_id) == []
    tries = len(stack.plisio.requests)
    stack.plisio.down = False
    await _click(stack, bot, RETRY_ACTION, handoff_id)
    invoice = await eventually(
        lambda: stack.plisio.invoices_for_order(call_id), timeout=20, what="the invoice"
    )
    message = await eventually(
        lambda: showing(stack, handoff_id, invoice[0].invoice_url),
        timeout=10,
        what="the message to show the invoice",
    )
    assert not has_button(message, RETRY_ACTION)
    assert len(stack.plisio.invoices_for_order(call_id)) == 1
    assert len(stack.plisio.requests) > tries
    await _noted(stack, message, "retried", "the retry in the thread")
    await _noted(stack, message, "invoice created", "the invoice in the thread")


async def test_plisio_acting_then_failing_is_looked_up_not_repeated(stack: Stack) -> None:
    bot = stack.bot()
    await bot.start_healthy()
    call_id, handoff_id = await _posted(stack, bot)
    stack.plisio.fail_next(1, 502, after_commit=True)  # Plisio made it, the bot saw a 502
    await _click(stack, bot, APPROVE_ACTION, handoff_id)
    invoice = await eventually(
        lambda: stack.plisio.invoices_for_order(call_id), timeout=10, what="the invoice"
    )
    await eventually(
        lambda: showing(stack, handoff_id, invoice[0].invoice_url),
        timeout=20,
        what="the message to show the invoice",
    )
    assert len(stack.plisio.invoices_for_order(call_id)) == 1


def _posted_then_failed(stack: Stack, times: int, status: int) -> None:
    """The fake Slack posts the next ``times`` handoff messages, then answers ``status``: a
    gateway that failed after Slack acted. The bot cannot tell this from a failure that posted
    nothing, so only looking before posting again keeps it from posting twice."""
    answer = stack.slack._answer
    left = [times]

    def patched(method: str, token: str | None, args: Any) -> tuple[int, dict[str, Any], Any]:
        result = answer(method, token, args)
        if method == "chat.postMessage" and left[0] and result[0] == 200 and args.has("metadata"):
            left[0] -= 1
            return status, {"ok": False, "error": "internal_error"}, {}
        return result

    stack.slack._answer = patched  # type: ignore[method-assign]


async def test_slack_429_and_5xx_are_retried_and_never_duplicate_a_post(stack: Stack) -> None:
    bot = stack.bot()
    await bot.start_healthy()
    stack.slack.fail_next("chat.postMessage", 2, status=429, retry_after=1)
    stack.slack.fail_next("chat.postMessage", 1, status=500)
    stack.slack.fail_next("chat.postMessage", 1, status=503)
    first = await _posted(stack, bot, example="receipt_resend")
    _posted_then_failed(stack, 2, 500)
    second = await _posted(stack, bot, example="receipt_resend")
    third = await _posted(stack, bot, example="receipt_resend")
    assert await stack.inspector.wait_outbox_empty(timeout=15), await stack.inspector.outbox_dump()
    handoffs = {h.id: h for h in await stack.inspector.handoffs()}
    for _call_id, handoff_id in (first, second, third):
        message = only_post(stack, handoff_id)
        assert message is not None
        assert handoffs[handoff_id].message_ts == message.ts
    failed = [c for c in stack.slack.calls_to("chat.postMessage") if not c.ok]
    assert len(failed) >= 6


async def test_a_rate_limited_channel_slows_the_bot_down_without_losing_posts(
    stack: Stack,
) -> None:
    stack.slack.per_channel_post_rate = 2.0  # the bot is set to 20/s: ten times too fast
    stack.slack.per_channel_burst = 1
    bot = stack.bot()
    await bot.start_healthy()
    dialnexa = stack.dialnexa(bot)
    ids = []
    for i in range(8):
        delivered = await dialnexa.deliver(
            handoff_payload(f"dnx_rate_{uuid.uuid4().hex[:6]}_{i}"), timeout=20
        )
        assert delivered.handoff_id is not None
        ids.append(delivered.handoff_id)
    await eventually(
        lambda: all(only_post(stack, h) for h in ids), timeout=40, what="all eight posts"
    )
    # Each 429 pauses the channel for Retry-After and lowers the bot's pace: no stampede.
    assert 1 <= stack.slack.rate_limited_count <= 8
