"""Handoffs in Slack, end to end: posted, approved, declined, escalated, reassigned, retried.

The real app runs on loopback with signed Slack requests, a fake Slack Web API that records what
the bot sent, and a fake Plisio that (like the real one) does not de-duplicate orders.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from blocks.ids import ActionId, BlockId, CallbackId, InputId, SnoozeFor, encode_snooze_value
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
        ActionId.REQUEST_INFO,
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
    response = await bot.approve(Demo.APPROVER_1, handoff_id)
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
    await bot.approve(Demo.APPROVER_1, handoff_id)
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
    await bot.approve(Demo.APPROVER_1, handoff_id)
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
    # Permission before promise: no dialog promising an invoice ever opened for the outsider.
    assert bot.opened_views(Demo.OUTSIDER, CallbackId.APPROVE_MODAL) == []
    assert not any("Plisio invoice" in t for t in refusals)
    refused = [e for e in await bot.deps.handoffs.audit_trail(handoff_id) if e.action == "refused"]
    assert [(e.actor, e.detail) for e in refused] == [
        (Demo.OUTSIDER, {"action": "approve", "reason": "not_approver"})
    ]


async def test_outsider_submitting_a_forged_approve_modal_is_refused(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    # The submission is checked again: it alone never approves for someone who may not.
    await bot.submit(Demo.OUTSIDER, CallbackId.APPROVE_MODAL, handoff_id, {})
    await bot.drain()
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
    assert bot.plisio.invoices_for_order("dnx_call_INV2041") == []
    assert "approver" in bot.ephemerals_for(Demo.OUTSIDER)[0].lower()


async def test_approve_opens_a_modal_saying_what_this_click_does(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    message = bot.message(await bot.card(handoff_id))
    approve = next(
        e
        for b in message.blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == ActionId.APPROVE
    )
    assert "confirm" not in approve  # no promise before the permission check
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN  # nothing yet
    [view] = bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
    shown = json.dumps(view["blocks"])
    assert "creates a Plisio invoice for 4,200.00 USD" in shown
    assert "1 of 2" not in shown


async def test_user_group_member_may_approve(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_2, handoff_id)  # only in S0APPROVERS
    await bot.drain()
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED


async def test_large_amount_needs_two_different_approvers(bot: Harness) -> None:
    handoff_id = await bot.accept(example("vip_renewal_blocker"))  # 24,000.00 GBP
    assert (await bot.card(handoff_id)).two_person
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    [first] = bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
    shown = json.dumps(first)
    # The first approver is told this click only records approval 1 of 2.
    assert "Records approval 1 of 2" in shown
    assert "second, different approver" in shown
    assert first["submit"]["text"] == "Approve 1 of 2"
    await bot.submit(Demo.APPROVER_1, CallbackId.APPROVE_MODAL, handoff_id, {})
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PARTLY_APPROVED
    assert "1 of 2" in all_text(bot.message(card))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.PARTLY_APPROVED
    assert any(
        "second" in t.lower() or "already approved" in t.lower()
        for t in bot.ephemerals_for(Demo.APPROVER_1)
    )
    assert len(bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)) == 1
    await bot.drain()
    assert bot.plisio.invoices_for_order("dnx_call_VIP7781") == []
    await bot.click(Demo.APPROVER_2, ActionId.APPROVE, handoff_id)
    [second] = bot.opened_views(Demo.APPROVER_2, CallbackId.APPROVE_MODAL)
    assert "Approval 2 of 2" in json.dumps(second)
    assert "creates a Plisio invoice for 24,000.00 GBP" in json.dumps(second)
    await bot.submit(Demo.APPROVER_2, CallbackId.APPROVE_MODAL, handoff_id, {})
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert {a.user_id for a in card.approvals} == {Demo.APPROVER_1, Demo.APPROVER_2}
    assert len(bot.plisio.invoices_for_order("dnx_call_VIP7781")) == 1


async def test_fifty_concurrent_clicks_create_one_invoice(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    users = [Demo.APPROVER_1, Demo.APPROVER_2] * 25
    # Fifty confirmed approve modals submitted at once: the submission is what decides.
    responses = await asyncio.gather(
        *(bot.submit(u, CallbackId.APPROVE_MODAL, handoff_id, {}) for u in users)
    )
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
    [view] = bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
    assert BlockId.IDENTITY.value in json.dumps(view)
    refused = await bot.submit(Demo.APPROVER_1, CallbackId.APPROVE_MODAL, handoff_id, {})
    assert (await refused.json())["response_action"] == "errors"
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
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
    await bot.approve(Demo.APPROVER_2, handoff_id)
    assert any(f"<@{Demo.APPROVER_1}>" in t for t in bot.ephemerals_for(Demo.APPROVER_2))
    assert (await bot.card(handoff_id)).status is HandoffStatus.DECLINED


async def test_escalate_raises_urgency_and_reposts_for_the_lead(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    assert (await bot.card(handoff_id)).urgency.value == "low"
    await bot.click(Demo.BILLING_OPS, ActionId.ESCALATE, handoff_id)  # a finance member
    await bot.submit(
        Demo.BILLING_OPS,
        CallbackId.ESCALATE_MODAL,
        handoff_id,
        reason("Customer called back angry"),
    )
    card = await bot.card(handoff_id)
    assert card.urgency.value == "high"
    assert card.urgent
    reposts = bot.slack.messages_in(Demo.ESCALATIONS)
    assert len(reposts) == 1
    assert f"<@{Demo.FIN_LEAD}>" in all_text(reposts[0])
    assert any("angry" in t for t in bot.thread_texts(card))


async def test_outsider_cannot_escalate(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    await bot.click(Demo.OUTSIDER, ActionId.ESCALATE, handoff_id)
    assert bot.opened_views(Demo.OUTSIDER, CallbackId.ESCALATE_MODAL) == []
    await bot.submit(Demo.OUTSIDER, CallbackId.ESCALATE_MODAL, handoff_id, reason("let me in"))
    card = await bot.card(handoff_id)
    assert card.urgency.value == "low"
    assert bot.slack.messages_in(Demo.ESCALATIONS) == []
    told = bot.ephemerals_for(Demo.OUTSIDER)
    assert len(told) == 2 and all("Only finance members can escalate" in t for t in told)
    refused = [e.detail for e in await bot.deps.handoffs.audit_trail(handoff_id)]
    assert refused.count({"action": "escalate", "reason": "not_finance"}) == 2


def picked(user: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.ASSIGNEE.value: {
            InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": user}
        }
    }


async def test_outsider_cannot_take_over_a_big_two_person_handoff(bot: Harness) -> None:
    """Issue #11: an outsider reassigned a 1.2 M USD handoff to themselves and marked it done."""
    payload = example("create_invoice")
    payload["billing"]["amount"] = "1200000.00"
    handoff_id = await bot.accept(payload)
    card = await bot.card(handoff_id)
    assert card.two_person and card.status is HandoffStatus.OPEN
    # Reassign: no modal for the outsider, and a forged submission changes nothing.
    await bot.click(Demo.OUTSIDER, ActionId.REASSIGN, handoff_id)
    assert bot.opened_views(Demo.OUTSIDER, CallbackId.REASSIGN_MODAL) == []
    answer = await bot.submit(
        Demo.OUTSIDER, CallbackId.REASSIGN_MODAL, handoff_id, picked(Demo.OUTSIDER)
    )
    # The outsider cannot be made owner by anyone: said under the picker.
    assert "not a finance member" in (await answer.json())["errors"][BlockId.ASSIGNEE.value]
    answer = await bot.submit(
        Demo.APPROVER_1, CallbackId.REASSIGN_MODAL, handoff_id, picked(Demo.OUTSIDER)
    )
    assert (await answer.json())["response_action"] == "errors"
    assert (await bot.card(handoff_id)).owner_slack_id == card.owner_slack_id
    # Mark done and snooze: refused for the outsider, privately, and audited.
    await bot.click(Demo.OUTSIDER, ActionId.DONE, handoff_id)
    value = encode_snooze_value(handoff_id, SnoozeFor.ONE_HOUR)
    await bot.click(Demo.OUTSIDER, ActionId.SNOOZE, handoff_id, value=value)
    after = await bot.card(handoff_id)
    assert after.status is HandoffStatus.OPEN and after.approvals == ()
    told = bot.ephemerals_for(Demo.OUTSIDER)
    assert any("owner or a finance member can reassign it" in t for t in told)
    assert any("owner or a finance member can mark it done" in t for t in told)
    assert any("owner or a finance member can snooze its reminders" in t for t in told)
    reasons = [
        (e.actor, e.detail.get("action"))
        for e in await bot.deps.handoffs.audit_trail(handoff_id)
        if e.action == "refused"
    ]
    for action in ("reassign", "mark_done", "snooze"):
        assert (Demo.OUTSIDER, action) in reasons
    assert bot.plisio.invoices_for_order("dnx_call_INV2041") == []


async def test_mark_done_never_closes_a_handoff_waiting_for_approval(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    owner = (await bot.card(handoff_id)).owner_slack_id
    assert owner == Demo.AP_LEAD
    await bot.click(owner, ActionId.DONE, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
    [told] = bot.slack.workspace.ephemerals[-1:]
    assert told.user == owner and "still waits for approval" in told.text
    assert ActionId.DECLINE not in json.dumps(told.blocks)  # the owner is not an approver
    # An approver is offered Decline with the refusal, and it opens the decline modal.
    await bot.click(Demo.APPROVER_1, ActionId.DONE, handoff_id)
    told = bot.slack.workspace.ephemerals[-1]
    assert told.user == Demo.APPROVER_1 and ActionId.DECLINE in json.dumps(told.blocks)
    await bot.click(Demo.APPROVER_1, ActionId.DECLINE, handoff_id)
    assert bot.opened_views(Demo.APPROVER_1, CallbackId.DECLINE_MODAL)
    # Once the decision is recorded the owner may close it.
    await bot.approve(Demo.APPROVER_1, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.APPROVED
    await bot.click(owner, ActionId.DONE, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.DONE


async def test_mark_done_never_closes_a_handoff_with_an_unpaid_invoice(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert ActionId.DONE not in button_ids(bot.message(card))  # it closes when paid
    await bot.click(Demo.APPROVER_1, ActionId.DONE, handoff_id)  # an old message's button
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED
    assert "invoice is not paid yet" in bot.ephemerals_for(Demo.APPROVER_1)[-1]


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
    await bot.approve(Demo.APPROVER_1, handoff_id)
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
    await bot.approve(Demo.APPROVER_1, handoff_id)
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


async def test_a_submission_is_checked_again_when_membership_changed(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    await bot.click(Demo.APPROVER_1, ActionId.DECLINE, handoff_id)
    assert bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
    assert bot.opened_views(Demo.APPROVER_1, CallbackId.DECLINE_MODAL)
    # Ana stops being an approver while both dialogs are open.
    from tests.support.routing import make_routing

    bot.deps.routing = make_routing(approvers={"users": [], "usergroups": []})
    await bot.submit(Demo.APPROVER_1, CallbackId.APPROVE_MODAL, handoff_id, {})
    await bot.submit(Demo.APPROVER_1, CallbackId.DECLINE_MODAL, handoff_id, reason("no"))
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.OPEN and card.approvals == ()
    told = bot.ephemerals_for(Demo.APPROVER_1)
    assert any("Only finance approvers can approve" in t for t in told)
    assert any("Only finance approvers can decline" in t for t in told)
    refused = [
        e.detail for e in await bot.deps.handoffs.audit_trail(handoff_id) if e.action == "refused"
    ]
    assert refused == [
        {"action": "approve", "reason": "not_approver"},
        {"action": "decline", "reason": "not_approver"},
    ]


async def test_the_finance_lead_may_snooze_and_the_channel_message_shows_it(
    bot: Harness,
) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    value = encode_snooze_value(handoff_id, SnoozeFor.FOUR_HOURS)
    await bot.click(Demo.FIN_LEAD, ActionId.SNOOZE, handoff_id, value=value)
    card = await bot.card(handoff_id)
    assert any(a.action == "snoozed" and a.user_id == Demo.FIN_LEAD for a in card.actions)
    assert bot.ephemerals_for(Demo.FIN_LEAD) == []
    assert [
        c for c in bot.slack.calls_to("chat.update") if c.args.get("ts") != card.message_ts
    ] == []
