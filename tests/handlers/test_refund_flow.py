"""Refunds in Slack, end to end: Reverse in the grace window, Mark refunded, and the refusals
(told privately, audited) for anyone who may not approve."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from blocks.ids import ActionId
from sandbox.slack_state import Demo
from services.db.models import HandoffRow
from services.refunds import RefundStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.routing import make_routing

ROUTING = make_routing(refunds={"enabled": True, "version": "2026-11-a", "limits": {"USD": "100"}})
FACTS = {
    "payment": {
        "id": "ch_77",
        "kind": "charge",
        "amount": "49.00",
        "currency": "USD",
        "amount_refunded": "0.00",
        "status": "succeeded",
        "disputed": False,
    },
    "open_disputes": 0,
    "looked_up_at": "2026-11-30T09:01:00+00:00",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock, routing=ROUTING) as harness:
        yield harness


def refund(call_id: str, **billing: Any) -> dict[str, Any]:
    data = example("refund_with_bank_details", call_id=call_id, sensitive=None)
    data.pop("sensitive")
    data["billing"] = {
        "payment_id": "ch_77",
        "amount": "49.00",
        "currency": "USD",
        "refund_reason": "duplicate charge",
        **billing,
    }
    data["match_confidence"] = 0.95
    return data


async def stripe_context(bot: Harness, handoff_id: str) -> None:
    """What the Stripe read connector stores for a refund handoff (its runtime hook runs)."""
    service = bot.deps.connectors.refund_service
    async with bot.deps.db.sessions() as session, session.begin():
        row = await session.scalar(
            select(HandoffRow).where(HandoffRow.id == handoff_id).with_for_update()
        )
        assert row is not None
        row.context = {**(row.context or {}), "stripe": {"refund_facts": FACTS}}
        await service.on_context(session, row, "stripe", bot.deps.clock())
    await bot.deps.refresher.refresh(handoff_id)


def text_of(message: Any) -> str:
    return message.text + json.dumps(message.blocks or [], ensure_ascii=False)


async def test_reverse_stops_the_automatic_refund_and_outsiders_are_refused(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(refund("dnx_slack_ref_1"))
    await stripe_context(bot, handoff_id)
    card = await bot.card(handoff_id)
    assert "Refunded automatically under policy 2026-11-a" in text_of(bot.message(card))

    await bot.click(Demo.OUTSIDER, ActionId.REVERSE_REFUND, handoff_id)
    [told] = bot.ephemerals_for(Demo.OUTSIDER)
    assert told.startswith("Only finance approvers can reverse automatic refunds on handoffs.")
    refused = [e for e in await bot.deps.handoffs.audit_trail(handoff_id) if e.action == "refused"]
    assert [(e.actor, e.detail) for e in refused] == [
        (Demo.OUTSIDER, {"action": "reverse_refund", "reason": "not_approver"})
    ]
    assert (await bot.card(handoff_id)).refund.status == RefundStatus.SCHEDULED  # type: ignore[union-attr]

    await bot.click(Demo.APPROVER_1, ActionId.REVERSE_REFUND, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.refund is not None and card.refund.status == RefundStatus.REVERSED
    message = text_of(bot.message(card))
    assert "reversed" in message and ActionId.APPROVE.value in message
    assert any("reversed the automatic refund" in t for t in bot.thread_texts(card))

    clock.advance(minutes=30)
    assert await bot.deps.connectors.refund_service.release_due() == []
    await bot.click(Demo.APPROVER_1, ActionId.REVERSE_REFUND, handoff_id)
    assert bot.ephemerals_for(Demo.APPROVER_1)[-1].startswith("Not reversed")


async def test_a_crypto_refund_waits_for_mark_refunded_by_an_approver(bot: Harness) -> None:
    handoff_id = await bot.accept(
        refund("dnx_slack_ref_2", payment_id="txn_plisio_9", currency="USDT", amount="30")
    )
    await bot.approve(Demo.APPROVER_1, handoff_id, identity=True)
    await bot.drain()
    card = await bot.card(handoff_id)
    message = text_of(bot.message(card))
    assert "crypto wallet" in message and ActionId.MARK_REFUNDED.value in message

    await bot.click(Demo.OUTSIDER, ActionId.MARK_REFUNDED, handoff_id)
    assert bot.ephemerals_for(Demo.OUTSIDER)[0].startswith("Only finance approvers")
    assert (await bot.card(handoff_id)).refund.status == RefundStatus.MANUAL  # type: ignore[union-attr]

    await bot.click(Demo.APPROVER_1, ActionId.MARK_REFUNDED, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.refund is not None and card.refund.status == RefundStatus.MARKED
    assert "Refunded by hand" in text_of(bot.message(card))
    assert ActionId.MARK_REFUNDED.value not in text_of(bot.message(card))
    assert any("as sent by hand" in t for t in bot.thread_texts(card))
