"""End to end through the real app: a handoff's Slack message gains the Stripe section; a failed
lookup shows a line and a Refresh context button that only finance members may use; /handoff
shows the same section."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from blocks.ids import ActionId
from sandbox.slack_state import Demo
from sandbox.stripe import FakeStripe
from services.db.models import AuditEntry
from services.events import EventType
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

KEY = "sk_test_e2e0123456789abcdef"
DEADLINE = 10.0


def message_text(bot: Harness, card: Any) -> str:
    return str(bot.message(card).blocks)


async def wait_for(bot: Harness, handoff_id: str, needle: str) -> str:
    deadline = time.monotonic() + DEADLINE
    while True:
        card = await bot.card(handoff_id)
        text = message_text(bot, card) if card.message_ts else ""
        if needle in text or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.05)


async def test_a_handoffs_message_shows_the_stripe_section(tmp_path: Path) -> None:
    fake = FakeStripe.demo(KEY)
    async with (
        fake.running() as url,
        running_bot(tmp_path, run_workers=True, stripe_api_key=KEY, stripe_api_base=url) as bot,
    ):
        response = await bot.deliver(example("vip_renewal_blocker", call_id="dnx_stripe_e2e"))
        assert response.status == 202
        handoff_id = (await response.json())["handoff_id"]
        text = await wait_for(bot, handoff_id, "Past due")
        assert "*Stripe*" in text and "Past due" in text and "Enterprise" in text
        assert "Latest payment *Failed*" in text and "insufficient funds" in text
        assert "https://dashboard.stripe.com/test/customers/cus_SbxAlder0077" in text
        assert "Refresh context" not in text
        # Exactly one lookup of the customer, and the thread told once about the link.
        assert len(fake.reads("customers")) == 1
        card = await bot.card(handoff_id)
        deadline = time.monotonic() + DEADLINE
        while not any("Linked" in t for t in bot.thread_texts(card)):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert sum("Linked" in t for t in bot.thread_texts(card)) == 1


async def test_a_failed_lookup_offers_refresh_to_finance_only(tmp_path: Path) -> None:
    fake = FakeStripe.demo(KEY)
    fake.deny("rak_customer_read")
    async with (
        fake.running() as url,
        running_bot(tmp_path, stripe_api_key=KEY, stripe_api_base=url) as bot,
    ):
        handoff_id = await bot.accept(example("vip_renewal_blocker", call_id="dnx_stripe_rf"))
        await bot.drain()
        card = await bot.card(handoff_id)
        text = message_text(bot, card)
        assert "Stripe lookup failed" in text and "rak_customer_read" in text
        assert "Refresh context" in text

        # Someone outside finance: refused privately, audited, nothing read again.
        reads = len(fake.requests)
        await bot.click(Demo.OUTSIDER, ActionId.REFRESH_CONTEXT, handoff_id)
        await bot.drain()
        assert any("Only finance members" in t for t in bot.ephemerals_for(Demo.OUTSIDER))
        async with bot.deps.db.sessions() as session:
            refused = list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == EventType.REFUSED.value)
                )
            )
            requested = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == EventType.CONTEXT_REQUESTED.value)
            )
        assert [(e.actor, e.detail["action"]) for e in refused] == [
            (Demo.OUTSIDER, "refresh_context")
        ]
        assert requested is None
        assert len(fake.requests) == reads

        # The key gains the permission; a finance member refreshes: the section fills in.
        fake.denied.clear()
        await bot.click(Demo.BILLING_OPS, ActionId.REFRESH_CONTEXT, handoff_id)
        await bot.drain()
        text = message_text(bot, await bot.card(handoff_id))
        assert "Past due" in text
        assert "Stripe lookup failed" not in text and "Refresh context" not in text

        # /handoff shows the same section.
        _, key = await bot.command(Demo.BILLING_OPS, "/handoff", "dnx_stripe_rf")
        deadline = time.monotonic() + DEADLINE
        while not bot.slack.responses[key] and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        answer = str(bot.slack.responses[key][-1]["blocks"])
        assert "*Stripe*" in answer and "Past due" in answer
