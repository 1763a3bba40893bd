"""In the sandbox, refunds follow the demo policy (``sandbox/demo_routing.toml``: up to 100 USD,
two minutes' grace): a small clear-cut one refunds itself in the sandbox Stripe and is booked in
the sandbox QuickBooks; one over the limit on a disputed charge waits for an approver and is
refused; a payment no API can refund gets the checklist."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.app import BotApp
from sandbox.slack_state import Demo
from services.db.models import HandoffRow, RefundRow
from services.refunds import RefundStatus
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until


async def _refund(bot: BotApp, call_id: str) -> RefundRow | None:
    async with bot.container.db.sessions() as session:
        return await session.scalar(
            select(RefundRow)
            .join(HandoffRow, HandoffRow.id == RefundRow.handoff_id)
            .where(HandoffRow.call_id == call_id)
        )


async def _status(bot: BotApp, call_id: str) -> str | None:
    refund = await _refund(bot, call_id)
    return None if refund is None else refund.status


async def _eventually_status(bot: BotApp, call_id: str, status: RefundStatus) -> RefundRow:
    for _ in range(300):
        refund = await _refund(bot, call_id)
        if refund is not None and refund.status == status.value:
            return refund
        await asyncio.sleep(0.05)
    now = await _status(bot, call_id)
    raise AssertionError(f"the refund of {call_id} never reached {status}; it is {now}")


def _message_text(bot: BotApp, channel: str, call_id: str) -> str:
    for message in parts(bot).slack.messages_in(channel):
        if call_id in message.text or call_id in str(message.blocks):
            return str(message.text) + "\n" + str(message.blocks)
    return ""


async def test_a_small_clear_cut_refund_goes_through_under_the_policy(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        sandbox = parts(bot)
        assert sandbox.stripe is not None and sandbox.quickbooks is not None
        sent = await send_example(http, "refund_small_duplicate")
        call_id = sent["call_id"]
        refund = await _eventually_status(bot, call_id, RefundStatus.SCHEDULED)
        assert refund.automatic and refund.policy_version == "sandbox-1"
        assert sandbox.stripe.refunds() == []  # nothing moves during the grace window
        await until(
            lambda: (
                "Refunded automatically under policy" in _message_text(bot, Demo.DISPUTES, call_id)
            ),
            timeout=15,
        )

        # The grace window ends (moved forward rather than waited for).
        async with bot.container.db.sessions() as session, session.begin():
            await session.execute(
                update(RefundRow)
                .where(RefundRow.id == refund.id)
                .values(execute_after=refund.execute_after - timedelta(minutes=5))
            )
        assert await bot.container.connectors.refund_service.release_due()
        done = await _eventually_status(bot, call_id, RefundStatus.SUCCEEDED)
        [stripe_refund] = sandbox.stripe.refunds()
        assert stripe_refund["charge"] == "ch_SbxMaple19" and stripe_refund["amount"] == 1900
        assert done.external_id == stripe_refund["id"]
        await until(lambda: sandbox.quickbooks.refund_receipts, timeout=15)
        [receipt] = sandbox.quickbooks.refund_receipts.values()
        assert call_id in receipt["PrivateNote"]
        await until(
            lambda: "Refunded 19.00 USD in Stripe" in _message_text(bot, Demo.DISPUTES, call_id)
        )


async def test_a_refund_over_the_limit_on_a_disputed_charge_waits_and_is_refused(
    tmp_path: Path,
) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        sandbox = parts(bot)
        assert sandbox.stripe is not None
        call_id = (await send_example(http, "refund_over_limit_disputed"))["call_id"]
        await until(
            lambda: "Not automatic" in _message_text(bot, Demo.DISPUTES, call_id), timeout=15
        )
        text = _message_text(bot, Demo.DISPUTES, call_id)
        assert "100" in text and "dispute" in text  # the limit and the dispute are both named
        assert await _status(bot, call_id) == RefundStatus.PENDING.value

        handoff_id = (await _refund(bot, call_id)).handoff_id  # type: ignore[union-attr]
        await bot.container.handoffs.approve(handoff_id, Demo.APPROVER_1, is_approver=True)
        refused = await _eventually_status(bot, call_id, RefundStatus.REFUSED)
        assert refused.error == "the charge is disputed"
        assert sandbox.stripe.refunds() == []


async def test_a_payment_no_api_can_refund_gets_the_checklist(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        call_id = (await send_example(http, "refund_with_bank_details"))["call_id"]
        refund = await _eventually_status(bot, call_id, RefundStatus.PENDING)
        assert refund.system == "manual"
        await bot.container.handoffs.approve(refund.handoff_id, Demo.APPROVER_1, is_approver=True)
        await _eventually_status(bot, call_id, RefundStatus.MANUAL)
        await until(
            lambda: "Mark refunded" in _message_text(bot, Demo.DISPUTES, call_id), timeout=15
        )
