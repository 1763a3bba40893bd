"""Receipt/lookup approvals, the Slack user cache and the error handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from blocks.ids import ActionId
from sandbox.slack_state import Demo
from services.states import HandoffStatus
from tests.support.examples import example
from tests.support.harness import Harness, running_bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def test_approved_receipt_resend_posts_the_customers_invoices_in_the_thread(
    bot: Harness,
) -> None:
    bot.plisio.add_invoice(
        order_number="INV-15502",
        order_name="September",
        source_amount=Decimal("89.00"),
        source_currency="USD",
        email="wen.liu@example.com",
    )
    bot.plisio.add_invoice(
        order_number="OTHER-1",
        order_name="Other",
        source_amount=Decimal("5.00"),
        source_currency="USD",
        email="someone@example.com",
    )
    handoff_id = await bot.accept(example("receipt_resend"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.APPROVED
    thread = " ".join(bot.thread_texts(card))
    assert "Plisio invoice(s) for wen.liu@example.com" in thread
    replies = bot.slack.thread(card.channel, card.message_ts or "")
    listing = str([m.blocks for m in replies])
    assert "INV-15502" in listing
    assert "OTHER-1" not in listing
    assert (
        bot.plisio.invoices_for_order("INV-15502")[0].status == "new"
    )  # nothing was created or changed


async def test_owner_lookups_are_cached(bot: Harness) -> None:
    first = await bot.accept(example("duplicate_charge_dispute"))
    second = await bot.accept(example("refund_with_bank_details"))  # the same owner email
    assert (await bot.card(first)).owner_slack_id == Demo.AP_LEAD
    assert (await bot.card(second)).owner_slack_id == Demo.AP_LEAD
    lookups = [
        c
        for c in bot.slack.calls_to("users.lookupByEmail")
        if c.args.get("email") == "ap-lead@acme.example"
    ]
    assert len(lookups) == 1


async def test_unknown_owner_email_stays_as_given(bot: Harness) -> None:
    payload = example("duplicate_charge_dispute")
    payload["follow_up"] = {**payload["follow_up"], "finance_owner": "nobody@acme.example"}
    handoff_id = await bot.accept(payload)
    card = await bot.card(handoff_id)
    assert card.owner_slack_id is None
    assert card.message_ts is not None
    assert "nobody@acme.example" in str(bot.message(card).blocks)


async def test_a_failing_listener_tells_the_user_briefly(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    response = await bot.click(
        Demo.APPROVER_1, ActionId.APPROVE, handoff_id, value="not a valid id!"
    )
    assert response.status < 500
    told = bot.ephemerals_for(Demo.APPROVER_1)
    assert told == ["Something went wrong; it has been logged. Try again in a minute."]
    assert "Slack listener failed" in caplog.text
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
