"""A signed Slack interaction replayed within its 5-minute window acts once (issue #11 item 7).

Each test captures one signed request exactly as Slack sent it (same body, timestamp and
signature, as an attacker or a redelivery would resend it) and posts it again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from blocks.ids import ActionId, BlockId, CallbackId, InputId, ModalMetadata, encode_metadata
from handlers.replays import interaction_key
from sandbox.slack_state import Demo
from services.db.models import AuditEntry
from services.interactions import SeenInteractions
from tests.support.examples import example
from tests.support.harness import SLACK_SIGNING_SECRET, Harness, running_bot
from tests.support.slack import block_action, signed_form, slash_command, view_submission


def seen_by(bot: Harness) -> SeenInteractions:
    """The running bot's record of interactions."""
    seen = bot.deps.seen
    assert isinstance(seen, SeenInteractions)
    return seen


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def post_again(bot: Harness, body: bytes, headers: dict[str, str], times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        response = await bot.client.post("/slack/events", data=body, headers=headers)
        statuses.append(response.status)
        assert await response.text() == ""  # acked, nothing else said
    return statuses


async def audit_actions(bot: Harness, handoff_id: str) -> list[str]:
    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.handoff_id == handoff_id)
        )
        return list(rows)


def escalate_reason(text: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.REASON.value: {InputId.REASON.value: {"type": "plain_text_input", "value": text}}
    }


async def test_an_escalation_replayed_three_times_escalates_once(bot: Harness) -> None:
    handoff_id = await bot.accept(example("receipt_resend"))
    card = await bot.card(handoff_id)
    meta = encode_metadata(
        ModalMetadata(handoff_id, card.channel, card.message_ts, Demo.APPROVER_2)
    )
    body, headers = signed_form(
        view_submission(
            user=Demo.APPROVER_2,
            callback_id=CallbackId.ESCALATE_MODAL.value,
            private_metadata=meta,
            values=escalate_reason("Customer called back angry"),
        ),
        SLACK_SIGNING_SECRET,
    )
    first = await bot.client.post("/slack/events", data=body, headers=headers)
    assert first.status == 200
    assert await post_again(bot, body, headers, 3) == [200, 200, 200]
    await bot.drain()
    assert len(bot.slack.messages_in(Demo.ESCALATIONS)) == 1
    card = await bot.card(handoff_id)
    assert sum("angry" in text for text in bot.thread_texts(card)) == 1
    assert (await audit_actions(bot, handoff_id)).count("escalated") == 1


async def test_a_second_real_escalation_still_acts(bot: Harness) -> None:
    # A fresh submission is a new interaction (Slack issues a new trigger id): not a replay.
    handoff_id = await bot.accept(example("receipt_resend"))
    for why in ("First call", "Second call"):
        await bot.submit(
            Demo.APPROVER_2, CallbackId.ESCALATE_MODAL, handoff_id, escalate_reason(why)
        )
    assert len(bot.slack.messages_in(Demo.ESCALATIONS)) == 2


async def test_a_replayed_click_opens_one_modal(bot: Harness) -> None:
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    card = await bot.card(handoff_id)
    body, headers = signed_form(
        block_action(
            user=Demo.APPROVER_1,
            action_id=ActionId.REASSIGN.value,
            value=handoff_id,
            channel=card.channel,
            message_ts=card.message_ts,
        ),
        SLACK_SIGNING_SECRET,
    )
    assert (await bot.client.post("/slack/events", data=body, headers=headers)).status == 200
    assert await post_again(bot, body, headers, 2) == [200, 200]
    assert len([c for c in bot.slack.calls_to("views.open") if c.ok]) == 1


async def test_a_replayed_approve_click_and_dialog_approve_once(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    card = await bot.card(handoff_id)
    body, headers = signed_form(
        block_action(
            user=Demo.APPROVER_1,
            action_id=ActionId.APPROVE.value,
            value=handoff_id,
            channel=card.channel,
            message_ts=card.message_ts,
        ),
        SLACK_SIGNING_SECRET,
    )
    assert (await bot.client.post("/slack/events", data=body, headers=headers)).status == 200
    assert await post_again(bot, body, headers, 3) == [200, 200, 200]
    # The click opened its confirm dialog once, however often it was replayed.
    assert len(bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)) == 1
    meta = encode_metadata(
        ModalMetadata(handoff_id, card.channel, card.message_ts, Demo.APPROVER_1)
    )
    body, headers = signed_form(
        view_submission(
            user=Demo.APPROVER_1,
            callback_id=CallbackId.APPROVE_MODAL.value,
            private_metadata=meta,
            values={},
        ),
        SLACK_SIGNING_SECRET,
    )
    assert (await bot.client.post("/slack/events", data=body, headers=headers)).status == 200
    assert await post_again(bot, body, headers, 3) == [200, 200, 200]
    await bot.drain()
    assert (await audit_actions(bot, handoff_id)).count("approved") == 1
    assert len(bot.plisio.invoices) == 1
    # The refusal notes a repeated submission would post ("already approved") never appear.
    assert [e for e in bot.slack.workspace.ephemerals if e.user == Demo.APPROVER_1] == []


async def test_a_replayed_slash_command_answers_once(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    card = await bot.card(handoff_id)
    key = uuid.uuid4().hex
    url = bot.slack.response_url(bot.slack_url, key)
    body, headers = signed_form(
        slash_command(
            user=Demo.APPROVER_1,
            command="/handoff",
            text="dnx_call_INV2041",
            channel="C0FINANCE",
            response_url=url,
        ),
        SLACK_SIGNING_SECRET,
    )
    assert (await bot.client.post("/slack/events", data=body, headers=headers)).status == 200
    for _ in range(100):
        if bot.slack.responses[key]:
            break
        await asyncio.sleep(0.02)
    assert await post_again(bot, body, headers, 2) == [200, 200]
    await asyncio.sleep(0)
    assert len(bot.slack.responses[key]) == 1
    assert card.call_id in str(bot.slack.responses[key][0])


async def test_unsigned_replays_are_still_refused_first(bot: Harness) -> None:
    body, headers = signed_form(
        slash_command(
            user=Demo.APPROVER_1, command="/invoice", text="help", channel="C0", response_url=""
        ),
        "not-the-secret",
    )
    for _ in range(2):
        response = await bot.client.post("/slack/events", data=body, headers=headers)
        assert response.status == 401
    assert await seen_by(bot).keys() == set()


async def test_two_processes_on_one_database_agree(bot: Harness) -> None:
    # Each web process builds its own SeenInteractions on the shared database.
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    one = SeenInteractions(bot.deps.db, clock=lambda: now)
    two = SeenInteractions(bot.deps.db, clock=lambda: now)
    try:
        answers = await asyncio.gather(
            *(s.first("action:T:U:trigger-1:1.0") for s in [one, two] * 5)
        )
    finally:
        await one.close()
        await two.close()
    assert sorted(answers) == [False] * 9 + [True]


async def test_keys_expire_after_the_replay_window(bot: Harness) -> None:
    at = [datetime(2026, 11, 30, 12, tzinfo=UTC)]
    seen = SeenInteractions(bot.deps.db, clock=lambda: at[0])
    try:
        assert await seen.first("k1") is True
        at[0] += timedelta(minutes=9)
        assert await seen.first("k1") is False
        at[0] += timedelta(minutes=2)  # 11 minutes on: Slack would refuse the signature
        assert await seen.first("k2") is True  # pruning happens on the way
        keys = await seen.keys()
    finally:
        await seen.close()
    assert keys == {"k2"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "event_callback", "team_id": "T1", "event_id": "Ev1"}, "event:T1:Ev1"),
        ({"command": "/invoice", "team_id": "T1", "trigger_id": "tr"}, "command:T1:tr"),
        (
            {
                "type": "block_actions",
                "team": {"id": "T1"},
                "user": {"id": "U1"},
                "trigger_id": "tr",
                "actions": [{"action_ts": "1.5"}],
            },
            "action:T1:U1:tr:1.5",
        ),
        (
            {
                "type": "view_submission",
                "team": {"id": "T1"},
                "user": {"id": "U1"},
                "trigger_id": "tr",
                "view": {"id": "V1", "hash": "h1"},
            },
            "view:T1:U1:V1:h1:tr",
        ),
        ({"type": "block_suggestion", "team": {"id": "T1"}}, None),
        ({"type": "url_verification", "challenge": "x"}, None),
        ({"type": "block_actions", "team": "weird", "user": 5, "actions": "x"}, None),
        ({"type": ["list"], "team": None}, None),
        ({}, None),
    ],
)
def test_interaction_identity(body: dict[str, Any], expected: str | None) -> None:
    assert interaction_key(body) == expected


async def test_on_sqlite_the_keys_live_beside_the_database_not_in_it(bot: Harness) -> None:
    # The check runs before Slack is answered: on SQLite it must not queue behind the main
    # database's single write lock.
    seen = seen_by(bot).database
    if bot.deps.db.is_sqlite:
        assert seen is not bot.deps.db
        assert seen.url == bot.deps.db.url + "-interactions"
    else:
        assert seen is bot.deps.db


async def test_when_the_record_cannot_be_written_nothing_acts(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))

    async def unavailable(_key: str) -> bool:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    seen_by(bot).first = unavailable  # type: ignore[method-assign]
    response = await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    assert response.status == 503  # Slack tells the person it failed; they can click again
    await bot.drain()
    assert "approved" not in await audit_actions(bot, handoff_id)
    assert bot.plisio.invoices == {}


def test_a_view_without_trigger_id_is_known_by_what_was_typed() -> None:
    def body(value: str) -> dict[str, Any]:
        return {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": "U1"},
            "view": {"id": "V1", "hash": "h", "state": {"values": {"b": {"a": {"value": value}}}}},
        }

    assert interaction_key(body("x")) == interaction_key(body("x"))
    assert interaction_key(body("x")) != interaction_key(body("y"))  # a corrected resubmission
