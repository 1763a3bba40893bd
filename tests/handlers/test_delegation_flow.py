"""Delegation when an approver is away, end to end through signed Slack requests.

Ana (an approver, Europe/Madrid) goes away and Arjun (the AP lead: a finance member, not an
approver) approves for her meanwhile; Olga is outside finance. The clock is Monday 30 November
2026, 10:00 UTC, so "Friday" is Friday 4 December.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import select, update

from blocks.ids import ActionId, BlockId, CallbackId, InputId
from sandbox.events import events_for, signed
from sandbox.slack_objects import Demo, Message
from services.db.models import AuditEntry, HandoffRow
from services.events import EventType
from services.states import HandoffStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import SLACK_SIGNING_SECRET, Harness, running_bot
from tests.support.routing import make_routing
from tests.support.slack import view_submission

MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ANA, BEN, ARJUN, OLGA = Demo.APPROVER_1, Demo.APPROVER_2, Demo.AP_LEAD, Demo.OUTSIDER


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY)


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


# --- talking to the bot and clicking on the Home tab, as Slack sends it ---------------------


async def dm(bot: Harness, user: str, text: str) -> list[str]:
    """DM the bot as ``user``; the bot's answers in that DM since."""
    ws = bot.slack.workspace
    channel, _ = ws.open_im(user)
    before = set(channel.messages)
    message = ws.post_message(channel.id, text=text, user=user)
    for body in events_for(
        message, team_id=ws.team_id, api_app_id=ws.app_id, bot_user_id=ws.bot_user_id, is_im=True
    ):
        raw, headers = signed(body, SLACK_SIGNING_SECRET)
        response = await bot.client.post("/slack/events", data=raw, headers=headers)
        assert response.status == 200, await response.text()
    return [
        m.text + json.dumps(m.blocks, ensure_ascii=False)
        for ts, m in channel.messages.items()
        if ts not in before and m.user == Demo.BOT
    ]


def dms(bot: Harness, user: str) -> list[Message]:
    channel, _ = bot.slack.workspace.open_im(user)
    return bot.slack.messages_in(channel.id)


def dm_texts(bot: Harness, user: str) -> list[str]:
    return [m.text + json.dumps(m.blocks, ensure_ascii=False) for m in dms(bot, user)]


async def open_home(bot: Harness, user: str) -> None:
    body = {
        "token": "legacy",
        "team_id": "T0SANDBOX",
        "api_app_id": "A0BOT",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex}",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": user, "tab": "home"},
    }
    raw, headers = signed(body, SLACK_SIGNING_SECRET)
    response = await bot.client.post("/slack/events", data=raw, headers=headers)
    assert response.status == 200


def home_text(bot: Harness, user: str) -> str:
    view = bot.slack.workspace.views[bot.slack.workspace.home_views[user]]
    return json.dumps(view.blocks, ensure_ascii=False)


async def home_click(bot: Harness, user: str, action: ActionId) -> ClientResponse:
    """A button on the person's Home tab (Slack sends the view, no channel, no message)."""
    view_id = bot.slack.workspace.home_views[user]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
        "api_app_id": "A0BOT",
        "token": "legacy",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": f"trigger-{uuid.uuid4().hex}",
        "view": {"id": view_id, "type": "home", "hash": "h"},
        "actions": [
            {
                "action_id": action.value,
                "block_id": "b",
                "type": "button",
                "value": "away" if action is ActionId.AWAY else "back",
                "action_ts": str(time.time()),
            }
        ],
    }
    return await bot.slack_post({"payload": json.dumps(payload)})


def away_values(day: str, at: str, delegate: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.AWAY_DATE.value: {
            InputId.AWAY_DATE.value: {"type": "datepicker", "selected_date": day}
        },
        BlockId.AWAY_TIME.value: {
            InputId.AWAY_TIME.value: {
                "type": "static_select",
                "selected_option": {"value": at, "text": {"type": "plain_text", "text": at}},
            }
        },
        BlockId.AWAY_DELEGATE.value: {
            InputId.AWAY_DELEGATE.value: {"type": "users_select", "selected_user": delegate}
        },
    }


async def submit_away(bot: Harness, user: str, values: dict[str, Any]) -> ClientResponse:
    return await bot.slack_post(
        view_submission(
            user=user,
            callback_id=CallbackId.AWAY_MODAL.value,
            private_metadata="",
            values=values,
        )
    )


async def audit(bot: Harness, action: EventType) -> list[AuditEntry]:
    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action.value).order_by(AuditEntry.id)
        )
        return list(rows)


def all_text(message: Message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


# --- setting and ending it ------------------------------------------------------------------


async def test_home_tab_away_modal_sets_it_and_im_back_ends_it(bot: Harness) -> None:
    await open_home(bot, ANA)
    assert "I'm away" in home_text(bot, ANA)
    await home_click(bot, ANA, ActionId.AWAY)
    [modal] = [
        json.loads(c.args["view"]) if isinstance(c.args["view"], str) else c.args["view"]
        for c in bot.slack.calls_to("views.open")
        if c.ok
    ]
    assert modal["callback_id"] == CallbackId.AWAY_MODAL.value

    response = await submit_away(bot, ANA, away_values("2026-12-04", "18:00", ARJUN))
    assert response.status == 200
    assert await response.text() == ""  # the modal closes
    away = await bot.deps.delegations.active_for(ANA)
    assert away is not None and away.delegate == ARJUN
    assert away.until == datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 18:00 in Madrid
    assert any(
        f"<@{ARJUN}> approves for you until Fri 4 Dec 18:00" in t for t in dm_texts(bot, ANA)
    )
    assert any(f"<@{ANA}> is away until" in t for t in dm_texts(bot, ARJUN))
    assert "You are away until Fri 4 Dec 18:00" in home_text(bot, ANA)
    assert "I'm back" in home_text(bot, ANA)
    assert f"You approve for <@{ANA}> (away)" in home_text(bot, ARJUN)
    [entry] = await audit(bot, EventType.DELEGATION_SET)
    assert (entry.actor, entry.detail["delegate"]) == (ANA, ARJUN)

    await home_click(bot, ANA, ActionId.BACK)
    assert await bot.deps.delegations.active_for(ANA) is None
    assert any("Welcome back" in t for t in dm_texts(bot, ANA))
    assert "I'm away" in home_text(bot, ANA)
    [ended] = await audit(bot, EventType.DELEGATION_ENDED)
    assert ended.detail["delegate"] == ARJUN


async def test_home_modal_shows_problems_under_the_inputs(bot: Harness) -> None:
    past = await submit_away(bot, ANA, away_values("2026-11-29", "18:00", ARJUN))
    body = await past.json()
    assert body["response_action"] == "errors"
    assert "already passed" in body["errors"][BlockId.AWAY_DATE.value]
    outsider = await submit_away(bot, ANA, away_values("2026-12-04", "18:00", OLGA))
    body = await outsider.json()
    assert "not a finance member" in body["errors"][BlockId.AWAY_DELEGATE.value]
    themself = await submit_away(bot, ANA, away_values("2026-12-04", "18:00", ANA))
    assert BlockId.AWAY_DELEGATE.value in (await themself.json())["errors"]
    assert await bot.deps.delegations.active_for(ANA) is None
    refused = await audit(bot, EventType.REFUSED)
    assert [e.detail["reason"] for e in refused] == ["delegate_not_finance", "delegate_self"]


async def test_dm_words_set_replace_and_end_it(bot: Harness) -> None:
    [answer] = await dm(bot, ANA, f"I'm away until Friday, delegate to <@{ARJUN}>")
    assert f"<@{ARJUN}> approves for you until Fri 4 Dec 18:00" in answer
    away = await bot.deps.delegations.active_for(ANA)
    assert away is not None and away.delegate == ARJUN

    [answer] = await dm(bot, ANA, f"away until 2026-12-10 delegate to <@{BEN}>")
    assert f"<@{BEN}> approves for you until Thu 10 Dec 18:00" in answer
    assert f"replaces your earlier delegation to <@{ARJUN}>" in answer
    away = await bot.deps.delegations.active_for(ANA)
    assert away is not None and away.delegate == BEN
    assert await bot.deps.delegations.acting_for(ARJUN) == ()
    [_first, second] = await audit(bot, EventType.DELEGATION_SET)
    assert second.detail["replaced"]["delegate"] == ARJUN

    [answer] = await dm(bot, ANA, "I'm back")
    assert "Welcome back" in answer
    assert await bot.deps.delegations.active_for(ANA) is None
    [answer] = await dm(bot, ANA, "im back")
    assert "You were not away" in answer


async def test_a_delegate_outside_finance_or_a_non_approver_is_refused(bot: Harness) -> None:
    [answer] = await dm(bot, ANA, f"I'm away until Friday, delegate to <@{OLGA}>")
    assert "not a finance member" in answer
    assert await bot.deps.delegations.active_for(ANA) is None
    [answer] = await dm(bot, ARJUN, f"I'm away until Friday, delegate to <@{BEN}>")
    assert "Only finance approvers" in answer
    assert await bot.deps.delegations.active_for(ARJUN) is None
    [answer] = await dm(bot, ANA, "I'm away until Friday")
    assert "Who approves for you" in answer
    reasons = [e.detail["reason"] for e in await audit(bot, EventType.REFUSED)]
    assert reasons == ["delegate_not_finance", "not_approver"]
    assert await audit(bot, EventType.DELEGATION_SET) == []


# --- what it does while away ----------------------------------------------------------------


async def test_the_delegate_approves_for_the_away_approver_with_label_and_audit(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(ARJUN, handoff_id)  # not an approver, not yet a delegate
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN
    assert any("Only finance approvers" in t for t in bot.ephemerals_for(ARJUN))

    await dm(bot, ANA, f"I'm away until Friday, delegate to <@{ARJUN}>")
    response = await bot.approve(ARJUN, handoff_id)
    assert response.status == 200
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PROCESSING
    [mark] = card.approvals
    assert (mark.user_id, mark.on_behalf_of) == (ARJUN, ANA)
    await bot.drain()
    card = await bot.card(handoff_id)
    message = all_text(bot.message(card))
    assert f"<@{ARJUN}> approving for <@{ANA}> (away)" in message
    assert any(
        f"approving for <@{ANA}> (away), approved this handoff" in t for t in bot.thread_texts(card)
    )
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    [approved] = [e for e in trail if e.action == EventType.APPROVED.value]
    assert (approved.actor, approved.detail["on_behalf_of"]) == (ARJUN, ANA)


async def test_the_delegation_ends_by_itself_at_its_time(bot: Harness, clock: FakeClock) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await dm(bot, ANA, f"I'm away until tomorrow, delegate to <@{ARJUN}>")
    clock.now = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 18:00 in Madrid: over
    await bot.approve(ARJUN, handoff_id)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.OPEN and card.approvals == ()
    assert any("Only finance approvers" in t for t in bot.ephemerals_for(ARJUN))


async def test_a_delegate_never_approves_what_they_or_the_away_approver_requested(
    bot: Harness,
) -> None:
    mine = await bot.accept(example("create_invoice"))
    other = example("create_invoice")
    other["call_id"] = "dnx_call_INV2042"
    hers = await bot.accept(other)
    async with bot.deps.db.sessions() as session, session.begin():
        await session.execute(
            update(HandoffRow).where(HandoffRow.id == mine).values(requested_by=ARJUN)
        )
        await session.execute(
            update(HandoffRow).where(HandoffRow.id == hers).values(requested_by=ANA)
        )
    await dm(bot, ANA, f"I'm away until Friday, delegate to <@{ARJUN}>")

    await bot.approve(ARJUN, mine)
    await bot.approve(ARJUN, hers)
    assert (await bot.card(mine)).approvals == ()
    assert (await bot.card(hers)).approvals == ()
    told = bot.ephemerals_for(ARJUN)
    assert any("You requested this invoice" in t for t in told)
    assert any("You approve only for the approver who requested this" in t for t in told)
    reasons = [e.detail["reason"] for e in await audit(bot, EventType.REFUSED)]
    assert reasons == ["own_request", "for_own_request"]


async def test_two_person_approval_needs_two_different_people(bot: Harness) -> None:
    handoff_id = await bot.accept(example("vip_renewal_blocker"))  # 24,000.00 GBP
    assert (await bot.card(handoff_id)).two_person
    await dm(bot, ANA, f"I'm away until Friday, delegate to <@{ARJUN}>")
    await bot.approve(ARJUN, handoff_id)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PARTLY_APPROVED
    assert f"<@{ARJUN}> approving for <@{ANA}> (away)" in all_text(bot.message(card))

    # Arjun again, and Ana herself (her delegate already counted for her): neither counts.
    await bot.approve(ARJUN, handoff_id)
    await bot.approve(ANA, handoff_id)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PARTLY_APPROVED and len(card.approvals) == 1
    assert any("already approved" in t for t in bot.ephemerals_for(ARJUN))
    assert any("already counts" in t for t in bot.ephemerals_for(ANA))

    await bot.approve(BEN, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert [(a.user_id, a.on_behalf_of) for a in card.approvals] == [(ARJUN, ANA), (BEN, None)]


# --- reminders ------------------------------------------------------------------------------

DEADLINE = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the dispute's deadline (a Friday)


async def test_reminders_go_to_the_delegate_while_away_and_back_after(
    tmp_path: Path,
) -> None:
    clock = FakeClock(DEADLINE - timedelta(hours=3))
    routing = make_routing(reminders={"heads_up_before_minutes": 60})
    async with running_bot(tmp_path, clock=clock, routing=routing) as bot:
        payload = example("duplicate_charge_dispute")
        payload["follow_up"] = {**payload["follow_up"], "finance_owner": "ana@acme.example"}
        handoff_id = await bot.accept(payload)
        assert (await bot.card(handoff_id)).owner_slack_id == ANA
        # 15:30 in Madrid is 14:30 UTC: after the heads-up, before the deadline's nudge.
        await dm(bot, ANA, f"I'm away until 3:30pm, delegate to <@{ARJUN}>")

        def nudges(user: str) -> list[Message]:
            return [
                m for m in dms(bot, user) if (m.metadata or {}).get("event_type") == "finance_nudge"
            ]

        clock.now = DEADLINE - timedelta(hours=1)  # the heads-up, while Ana is away
        await bot.deps.reminders.run_once()
        await bot.drain()
        [heads_up] = nudges(ARJUN)
        assert f"You get this for <@{ANA}>, who is away" in all_text(heads_up)
        assert nudges(ANA) == []

        clock.now = DEADLINE  # the overdue nudge, after her delegation's time
        await bot.deps.reminders.run_once()
        await bot.drain()
        [overdue] = nudges(ANA)
        assert "who is away" not in all_text(overdue)
        assert len(nudges(ARJUN)) == 1
        trail = await bot.deps.handoffs.audit_trail(handoff_id)
        sent = [e.detail["notified"] for e in trail if e.action == EventType.NUDGE_SENT.value]
        assert sent == [ARJUN, ANA]


async def test_the_delegate_declines_for_the_away_approver_recorded_in_the_audit(
    bot: Harness,
) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await bot.click(ARJUN, ActionId.DECLINE, handoff_id)  # not yet a delegate
    assert any("Only finance approvers" in t for t in bot.ephemerals_for(ARJUN))
    await dm(bot, ANA, f"I'm away until Friday, delegate to <@{ARJUN}>")
    await bot.click(ARJUN, ActionId.DECLINE, handoff_id)
    reason = {
        BlockId.REASON.value: {
            InputId.REASON.value: {"type": "plain_text_input", "value": "Not a duplicate"}
        }
    }
    await bot.submit(ARJUN, CallbackId.DECLINE_MODAL, handoff_id, reason)
    assert (await bot.card(handoff_id)).status is HandoffStatus.DECLINED
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    [declined] = [e for e in trail if e.action == EventType.DECLINED.value]
    assert (declined.actor, declined.detail["on_behalf_of"]) == (ARJUN, ANA)
