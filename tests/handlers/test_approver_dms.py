"""Approval requests in approvers' DMs, through signed Slack requests: who gets a copy, once; a
decision in the DM or the channel shows in both; the Home-tab choice; escalations to the lead."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from blocks.approver_dm import APPROVER_DM_EVENT
from blocks.ids import ActionId, CallbackId
from sandbox.slack_state import Demo
from services.db.models import ApproverDm, AuditEntry, OutboxItem
from services.events import OutboxKind
from services.routing import RoutingConfig
from services.states import HandoffStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, initial_values, running_bot
from tests.support.routing import TEST_ROUTING, make_routing
from tests.support.slack import block_action

BIG = "vip_renewal_blocker"  # 24,000.00 GBP: two approvers


def routing(**approvers: Any) -> RoutingConfig:
    return make_routing(
        approvers={
            "users": [Demo.APPROVER_1, Demo.APPROVER_2],
            "usergroups": TEST_ROUTING["approvers"]["usergroups"],
            **approvers,
        }
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock, routing=routing(dm_default="dm")) as harness:
        yield harness


def dm_of(user: str) -> str:
    return f"D{user[1:]}"  # the sandbox Slack's DM channel with a member


def copies_in_dm(bot: Harness, user: str) -> list[Any]:
    """The bot's DM copies of handoff messages in ``user``'s DM."""
    return [
        m
        for m in bot.slack.messages_in(user)  # a user id: the bot's DM with them
        if (m.metadata or {}).get("event_type") == APPROVER_DM_EVENT
    ]


def buttons(message: Any) -> dict[str, str]:
    """action id -> value of every (non-link) button in the message."""
    return {
        element["action_id"]: element.get("value", "")
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if not element.get("url")
    }


async def first_approval(bot: Harness) -> str:
    handoff_id = await bot.accept(example(BIG))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    assert (await bot.card(handoff_id)).status is HandoffStatus.PARTLY_APPROVED
    await bot.drain()
    return handoff_id


async def test_the_second_approver_gets_the_request_in_their_dm_once(bot: Harness) -> None:
    handoff_id = await bot.accept(example(BIG))
    assert copies_in_dm(bot, Demo.APPROVER_2) == []  # nobody waits for Ben yet
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    await bot.drain()
    [copy] = copies_in_dm(bot, Demo.APPROVER_2)
    card = await bot.card(handoff_id)
    channel_message = bot.message(card)
    # The same decision message, with the same buttons (so the same handlers answer them).
    assert buttons(copy) == buttons(channel_message)
    assert ActionId.APPROVE.value in buttons(copy)
    assert copy.blocks[1:] == channel_message.blocks
    assert "second approver" in json.dumps(copy.blocks[0])
    # Nobody else: not the first approver, and the lead is not asked for a second approval.
    assert copies_in_dm(bot, Demo.APPROVER_1) == []
    assert copies_in_dm(bot, Demo.FIN_LEAD) == []
    # The audit log says who was asked, and why.
    sent = [
        e.detail
        for e in await bot.deps.handoffs.audit_trail(handoff_id)
        if e.action == "approval_dm_sent"
    ]
    assert sent == [{"to": Demo.APPROVER_2, "reason": "second_approval"}]


async def test_approving_from_the_dm_updates_the_channel_message_and_closes_the_copy(
    bot: Harness,
) -> None:
    handoff_id = await first_approval(bot)
    [copy] = copies_in_dm(bot, Demo.APPROVER_2)
    value = buttons(copy)[ActionId.APPROVE.value]
    await bot.slack_post(
        block_action(
            user=Demo.APPROVER_2,
            action_id=ActionId.APPROVE.value,
            value=value,
            channel=dm_of(Demo.APPROVER_2),
            message_ts=copy.ts,
        )
    )
    [modal] = bot.opened_views(Demo.APPROVER_2, CallbackId.APPROVE_MODAL)
    assert "Approval 2 of 2" in json.dumps(modal)
    await bot.submit(Demo.APPROVER_2, CallbackId.APPROVE_MODAL, handoff_id, initial_values(modal))
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert {a.user_id for a in card.approvals} == {Demo.APPROVER_1, Demo.APPROVER_2}
    assert len(bot.plisio.invoices_for_order("dnx_call_VIP7781")) == 1
    channel_message = bot.message(card)
    dm_copy = bot.slack.workspace.message(dm_of(Demo.APPROVER_2), copy.ts)
    # Decided: the buttons are gone in both places, and both say the same.
    assert ActionId.APPROVE.value not in buttons(channel_message)
    assert ActionId.APPROVE.value not in buttons(dm_copy)
    assert dm_copy.blocks[1:] == channel_message.blocks
    assert "No longer waiting for you" in json.dumps(dm_copy.blocks[0])
    assert len(copies_in_dm(bot, Demo.APPROVER_2)) == 1  # updated in place, not posted again


async def test_a_decline_in_the_channel_closes_the_dm_copy(bot: Harness) -> None:
    handoff_id = await first_approval(bot)
    [copy] = copies_in_dm(bot, Demo.APPROVER_2)
    await bot.click(Demo.APPROVER_2, ActionId.DECLINE, handoff_id)
    await bot.submit(
        Demo.APPROVER_2,
        CallbackId.DECLINE_MODAL,
        handoff_id,
        {"reason_block": {"reason_input": {"type": "plain_text_input", "value": "Duplicate"}}},
    )
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.DECLINED
    dm_copy = bot.slack.workspace.message(dm_of(Demo.APPROVER_2), copy.ts)
    assert buttons(dm_copy) == buttons(bot.message(card))
    assert ActionId.APPROVE.value not in buttons(dm_copy)


async def test_channel_only_in_the_home_tab_means_no_dm(bot: Harness) -> None:
    # Ben chooses "Channel only" in his Home tab (routing.toml would send him DMs).
    await bot.slack_post(
        block_action(
            user=Demo.APPROVER_2,
            action_id=ActionId.APPROVAL_DMS.value,
            value="channel",
            channel=dm_of(Demo.APPROVER_2),
            message_ts=None,
            selected=True,
        )
    )
    view = bot.slack.workspace.views[bot.slack.workspace.home_views[Demo.APPROVER_2]]
    [toggle] = [
        b["accessory"]
        for b in view.blocks
        if (b.get("accessory") or {}).get("action_id") == ActionId.APPROVAL_DMS.value
    ]
    assert toggle["initial_option"]["value"] == "channel"
    await first_approval(bot)
    assert copies_in_dm(bot, Demo.APPROVER_2) == []


async def test_an_outsider_cannot_set_approval_dms(bot: Harness) -> None:
    await bot.slack_post(
        block_action(
            user=Demo.OUTSIDER,
            action_id=ActionId.APPROVAL_DMS.value,
            value="channel",
            channel=dm_of(Demo.OUTSIDER),
            message_ts=None,
            selected=True,
        )
    )
    assert await bot.deps.approver_prefs.choices([Demo.OUTSIDER]) == {}
    async with bot.deps.db.reads() as session:
        refused = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.actor == Demo.OUTSIDER))
        )
    assert [(e.action, e.detail["action"]) for e in refused] == [("refused", "set_approval_dms")]
    told = [m.text for m in bot.slack.messages_in(dm_of(Demo.OUTSIDER))]
    assert any("choose where approval requests reach you" in t for t in told)


async def test_routing_channel_only_by_default_sends_no_dm(tmp_path: Path) -> None:
    async with running_bot(tmp_path, routing=routing()) as bot:
        await first_approval(bot)
        assert copies_in_dm(bot, Demo.APPROVER_2) == []


async def test_routing_dm_list_names_who_gets_dms(tmp_path: Path) -> None:
    async with running_bot(tmp_path, routing=routing(dm=[Demo.APPROVER_2])) as bot:
        await first_approval(bot)
        assert len(copies_in_dm(bot, Demo.APPROVER_2)) == 1


async def test_an_escalation_dms_the_finance_lead(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    await bot.click(Demo.BILLING_OPS, ActionId.ESCALATE, handoff_id)
    await bot.submit(
        Demo.BILLING_OPS,
        CallbackId.ESCALATE_MODAL,
        handoff_id,
        {"reason_block": {"reason_input": {"type": "plain_text_input", "value": "Angry"}}},
    )
    await bot.drain()
    [copy] = copies_in_dm(bot, Demo.FIN_LEAD)
    assert "Escalated to you" in json.dumps(copy.blocks[0])
    card = await bot.card(handoff_id)
    assert copy.blocks[1:] == bot.message(card).blocks
    assert copies_in_dm(bot, Demo.APPROVER_2) == []


async def test_a_retried_outbox_item_posts_no_second_dm(bot: Harness) -> None:
    handoff_id = await first_approval(bot)
    assert len(copies_in_dm(bot, Demo.APPROVER_2)) == 1
    db = bot.deps.db

    async def run_again(*, forget_ts: bool) -> None:
        async with db.sessions() as session, session.begin():
            if forget_ts:
                # As if the try had posted and then died before recording the ts.
                await session.execute(
                    update(ApproverDm)
                    .where(ApproverDm.handoff_id == handoff_id)
                    .values(ts=None, channel=None)
                )
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.kind == OutboxKind.APPROVER_DM.value)
                .values(status="pending", locked_until=None, available_at=bot.deps.clock())
            )
        await bot.drain()

    await run_again(forget_ts=False)
    assert len(copies_in_dm(bot, Demo.APPROVER_2)) == 1
    await run_again(forget_ts=True)
    [copy] = copies_in_dm(bot, Demo.APPROVER_2)
    async with db.reads() as session:
        rows = list(await session.scalars(select(ApproverDm)))
    assert [(r.approver, r.reason, r.ts) for r in rows] == [
        (Demo.APPROVER_2, "second_approval", copy.ts)
    ]


async def test_an_approver_slack_cannot_reach_is_skipped_not_retried(bot: Harness) -> None:
    handoff_id = await bot.accept(example(BIG))
    bot.slack.fail_next("conversations.open", 1, error="user_disabled")
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    assert copies_in_dm(bot, Demo.APPROVER_2) == []
    async with bot.deps.db.reads() as session:
        item = await session.scalar(
            select(OutboxItem).where(OutboxItem.kind == OutboxKind.APPROVER_DM.value)
        )
    assert item is not None and item.status == "done"
    # The channel message still asks for the second approval.
    assert ActionId.APPROVE.value in buttons(bot.message(await bot.card(handoff_id)))
