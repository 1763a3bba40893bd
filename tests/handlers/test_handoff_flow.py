"""Handoffs in Slack, end to end: posted, approved, declined, escalated, reassigned, retried.

The real app runs on loopback with signed Slack requests, a fake Slack Web API that records what
the bot sent, and a fake Plisio that (like the real one) does not de-duplicate orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from blocks.ids import ActionId, BlockId, CallbackId, InputId
from sandbox.slack_state import Demo
from services.db.models import OutboxItem
from services.states import HandoffStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


def button_ids(message: Any) -> list[str]:
    return [
        element.get("action_id")
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if not element.get("url")
    ]


def all_text(message: Any) -> str:
    import json

    return message.text + json.dumps(message.blocks or [])


async def test_handoff_is_posted_once_to_its_routed_channel(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.channel == Demo.DISPUTES
    assert card.message_ts is not None
    posts = [c for c in bot.slack.calls_to("chat.postMessage") if c.ok]
    assert len(posts) == 1
    message = bot.message(card)
    assert message.text  # a notification fallback
    assert "<!subteam^S0FINANCE>" in all_text(message)  # urgent: the finance group is mentioned
    assert button_ids(message) == [
        ActionId.APPROVE,
        ActionId.DECLINE,
        ActionId.ESCALATE,
        ActionId.REASSIGN,
        ActionId.SNOOZE,
    ]


async def test_non_urgent_handoff_is_posted_marked_low_priority(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    message = bot.message(await bot.card(handoff_id))
    assert "subteam" not in all_text(message)
    assert "Low priority" in all_text(message)


async def test_owner_email_is_resolved_to_a_slack_user(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    card = await bot.card(handoff_id)
    assert card.owner_slack_id == Demo.AP_LEAD
    assert f"<@{Demo.AP_LEAD}>" in all_text(bot.message(card))


async def test_approver_approval_creates_one_plisio_invoice(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    response = await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    assert response.status == 200
    assert (await bot.card(handoff_id)).status is HandoffStatus.PROCESSING
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    invoices = bot.plisio.invoices_for_order("dnx_call_INV2041")
    assert len(invoices) == 1
    invoice = invoices[0]
    assert invoice.source_amount == pytest.approx(4200)
    assert invoice.source_currency == "USD"
    assert invoice.email == "ap@harborfinch.example"
    assert "https://app.dialnexa.example/calls/dnx_call_INV2041/transcript" in (
        invoice.description or ""
    )
    assert invoice.callback_url is not None and invoice.callback_url.endswith(
        "/plisio/callback?json=true"
    )
    message = bot.message(card)
    assert invoice.invoice_url in all_text(message)
    assert f"<@{Demo.APPROVER_1}>" in all_text(message)
    assert ActionId.APPROVE not in button_ids(message)
    thread = bot.thread_texts(card)
    assert any("pprov" in t for t in thread)
    assert any(invoice.txn_id in t or "nvoice" in t for t in thread)


def invoice_notes(bot: Harness, card: Any) -> list[str]:
    return [t for t in bot.thread_texts(card) if "Plisio invoice created" in t]


async def outbox_left(bot: Harness) -> list[str]:
    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(select(OutboxItem.kind).where(OutboxItem.status != "done"))
        return list(rows.all())


async def test_invoice_note_refused_by_slack_is_posted_on_a_later_try_once(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    bot.slack.fail_next("chat.postMessage", error="fatal_error")  # the invoice note

    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert invoice_notes(bot, card) == []
    assert await outbox_left(bot) == ["create_invoice"]  # kept until the note is there

    clock.advance(minutes=1)
    await bot.drain()
    clock.advance(minutes=10)
    await bot.drain()
    invoice = bot.plisio.invoices_for_order("dnx_call_INV2041")
    assert len(invoice) == 1
    assert len(invoice_notes(bot, card)) == 1
    assert invoice[0].invoice_url in invoice_notes(bot, card)[0]
    assert await outbox_left(bot) == []


async def test_a_rerun_after_the_invoice_note_does_not_repeat_it(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert len(invoice_notes(bot, card)) == 1
    # The process died after posting the note but before marking the work done.
    async with bot.deps.db.sessions() as session, session.begin():
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.kind == "create_invoice")
            .values(status="pending", done_at=None, locked_until=None)
        )

    await bot.drain()

    assert len(invoice_notes(bot, card)) == 1
    assert len(bot.plisio.invoices_for_order("dnx_call_INV2041")) == 1
    assert await outbox_left(bot) == []


async def test_outsider_cannot_approve_and_nothing_changes(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.click(Demo.OUTSIDER, ActionId.APPROVE, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.OPEN
    assert card.approvals == ()
    assert bot.plisio.invoices_for_order("dnx_call_INV2041") == []
    refusals = bot.ephemerals_for(Demo.OUTSIDER)
    assert len(refusals) == 1
    assert "approver" in refusals[0].lower()


async def test_user_group_member_may_approve(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.click(Demo.APPROVER_2, ActionId.APPROVE, handoff_id)  # only in S0APPROVERS
    await bot.drain()
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED


async def test_large_amount_needs_two_different_approvers(bot: Harness) -> None:
    handoff_id = await bot.accept(example("vip_renewal_blocker"))  # 24,000.00 GBP
    assert (await bot.card(handoff_id)).two_person
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PARTLY_APPROVED
    assert "1 of 2" in all_text(bot.message(card))
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.PARTLY_APPROVED
    assert any(
        "second" in t.lower() or "already approved" in t.lower()
        for t in bot.ephemerals_for(Demo.APPROVER_1)
    )
    await bot.drain()
    assert bot.plisio.invoices_for_order("dnx_call_VIP7781") == []
    await bot.click(Demo.APPROVER_2, ActionId.APPROVE, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert {a.user_id for a in card.approvals} == {Demo.APPROVER_1, Demo.APPROVER_2}
    assert len(bot.plisio.invoices_for_order("dnx_call_VIP7781")) == 1


async def test_fifty_concurrent_clicks_create_one_invoice(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    users = [Demo.APPROVER_1, Demo.APPROVER_2] * 25
    responses = await asyncio.gather(*(bot.click(u, ActionId.APPROVE, handoff_id) for u in users))
    assert {r.status for r in responses} == {200}
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert len(card.approvals) == 1
    assert len(bot.plisio.invoices_for_order("dnx_call_INV2041")) == 1
    losers = bot.ephemerals_for(Demo.APPROVER_1) + bot.ephemerals_for(Demo.APPROVER_2)
    assert len(losers) == 49
    winner = card.approvals[0].user_id
    assert all(f"<@{winner}>" in text or "already" in text.lower() for text in losers)


async def test_low_confidence_money_action_needs_identity_confirmation(bot: Harness) -> None:
    payload = example("create_invoice", match_confidence=0.5)
    handoff_id = await bot.accept(payload)
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
    opened = [c for c in bot.slack.calls_to("views.open") if c.ok]
    assert opened and opened[-1].args["view"]["callback_id"] == CallbackId.APPROVE_MODAL
    refused = await bot.submit(Demo.APPROVER_1, CallbackId.APPROVE_MODAL, handoff_id, {})
    assert (await refused.json())["response_action"] == "errors"
    confirmed = {
        BlockId.IDENTITY.value: {
            InputId.IDENTITY.value: {
                "type": "checkboxes",
                "selected_options": [{"value": "confirmed"}],
            }
        }
    }
    await bot.submit(Demo.APPROVER_1, CallbackId.APPROVE_MODAL, handoff_id, confirmed)
    await bot.drain()
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED


def reason(text: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.REASON.value: {InputId.REASON.value: {"type": "plain_text_input", "value": text}}
    }


async def test_decline_asks_for_a_reason_and_closes_the_handoff(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await bot.click(Demo.APPROVER_1, ActionId.DECLINE, handoff_id)
    views = [c for c in bot.slack.calls_to("views.open") if c.ok]
    assert views[-1].args["view"]["callback_id"] == CallbackId.DECLINE_MODAL
    empty = await bot.submit(Demo.APPROVER_1, CallbackId.DECLINE_MODAL, handoff_id, reason("   "))
    assert (await empty.json())["errors"][BlockId.REASON.value]
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
    await bot.submit(
        Demo.APPROVER_1, CallbackId.DECLINE_MODAL, handoff_id, reason("Not a duplicate: two orders")
    )
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.DECLINED
    message = bot.message(card)
    assert button_ids(message) == []
    assert "Not a duplicate: two orders" in all_text(message)
    assert any("Not a duplicate" in t for t in bot.thread_texts(card))
    # A late approval is refused with who decided.
    await bot.click(Demo.APPROVER_2, ActionId.APPROVE, handoff_id)
    assert any(f"<@{Demo.APPROVER_1}>" in t for t in bot.ephemerals_for(Demo.APPROVER_2))
    assert (await bot.card(handoff_id)).status is HandoffStatus.DECLINED


async def test_escalate_raises_urgency_and_reposts_for_the_lead(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    assert (await bot.card(handoff_id)).urgency.value == "low"
    await bot.click(Demo.OUTSIDER, ActionId.ESCALATE, handoff_id)
    await bot.submit(
        Demo.OUTSIDER, CallbackId.ESCALATE_MODAL, handoff_id, reason("Customer called back angry")
    )
    card = await bot.card(handoff_id)
    assert card.urgency.value == "high"
    assert card.urgent
    reposts = bot.slack.messages_in(Demo.ESCALATIONS)
    assert len(reposts) == 1
    assert f"<@{Demo.FIN_LEAD}>" in all_text(reposts[0])
    assert any("angry" in t for t in bot.thread_texts(card))


async def test_reassign_sets_owner_and_dms_them(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await bot.click(Demo.APPROVER_1, ActionId.REASSIGN, handoff_id)
    picked = {
        BlockId.ASSIGNEE.value: {
            InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": Demo.BILLING_OPS}
        }
    }
    await bot.submit(Demo.APPROVER_1, CallbackId.REASSIGN_MODAL, handoff_id, picked)
    card = await bot.card(handoff_id)
    assert card.owner_slack_id == Demo.BILLING_OPS
    dm, _created = bot.slack.workspace.open_im(Demo.BILLING_OPS)
    dms = bot.slack.messages_in(dm.id)
    assert len(dms) == 1
    assert "own" in dms[0].text.lower()
    assert f"<@{Demo.BILLING_OPS}>" in all_text(bot.message(card))


async def test_plisio_failure_offers_retry_and_never_duplicates(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.plisio.down = True
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    for _ in range(6):
        await bot.drain()
        clock.advance(minutes=10)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    assert ActionId.RETRY in button_ids(bot.message(card))
    bot.plisio.down = False
    await bot.click(Demo.APPROVER_1, ActionId.RETRY, handoff_id)
    await bot.drain()
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED
    assert len(bot.plisio.invoices_for_order("dnx_call_INV2041")) == 1


async def test_unknown_outcome_is_looked_up_before_creating_again(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.plisio.fail_next(1, 502, after_commit=True)  # Plisio made it, but we saw a 502
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    await bot.drain()
    clock.advance(minutes=5)
    await bot.drain()
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED
    assert len(bot.plisio.invoices_for_order("dnx_call_INV2041")) == 1


async def test_slack_429_on_post_is_retried_and_posted_once(bot: Harness) -> None:
    bot.slack.fail_next("chat.postMessage", 1, status=429, retry_after=1)
    handoff_id = await bot.accept(example("receipt_resend"))
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    assert len(bot.slack.messages_in(card.channel)) == 1


async def test_interrupted_post_is_not_posted_twice(bot: Harness, clock: FakeClock) -> None:
    response = await bot.deliver(example("receipt_resend"))
    handoff_id = (await response.json())["handoff_id"]
    # A first try reached Slack and then the process died before recording the message.
    await bot.deps.slack.chat_postMessage(
        channel="C0FINANCE",
        text="posted before a crash",
        metadata={"event_type": "finance_handoff", "event_payload": {"handoff_id": handoff_id}},
    )
    await bot.deps.outbox.claim()  # the dead process's claim...
    clock.advance(minutes=2)  # ...whose lease then runs out
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.message_ts is not None
    assert len(bot.slack.messages_in("C0FINANCE")) == 1


async def test_forged_slack_request_is_refused(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    from tests.support.slack import block_action

    fields = block_action(
        user=Demo.APPROVER_1,
        action_id=ActionId.APPROVE,
        value=handoff_id,
        channel="C0FINANCE",
        message_ts="1.0",
    )
    response = await bot.slack_post(fields, secret="not-the-signing-secret")
    assert response.status == 401
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN


async def test_unpostable_channel_falls_back_to_the_default_channel(tmp_path: Path) -> None:
    from tests.support.routing import TEST_ROUTING, make_routing

    routing = make_routing(channels={**TEST_ROUTING["channels"], "dispute": "C0DOESNOTEXIST"})
    async with running_bot(tmp_path, routing=routing) as bot:
        handoff_id = await bot.accept(example("duplicate_charge_dispute"))
        card = await bot.card(handoff_id)
        assert card.channel == Demo.FINANCE
        assert card.message_ts is not None
        trail = [e.action for e in await bot.deps.handoffs.audit_trail(handoff_id)]
        assert trail == ["received", "rerouted", "posted"]
