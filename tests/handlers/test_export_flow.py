"""The audit export end to end: /handoff export, the Home button and GET /export/handoffs.csv."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from blocks.ids import ActionId, BlockId, CallbackId, InputId
from handlers.export import EXPORT_PATH, HTTP_ACTOR
from sandbox.slack_objects import Message
from sandbox.slack_state import Demo
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.events import EventType, OutboxKind
from services.export import HEADER, AuditExport, parse_range
from services.outbox import ClaimedItem
from tests.support.clock import FakeClock
from tests.support.examples import example, fresh_call_id
from tests.support.harness import Harness, running_bot
from tests.support.slack import _payload

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
TOKEN = "export-test-token"
CARD = "4242 4242 4242 4242"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock, export_api_token=TOKEN) as harness:
        yield harness


def dm_files(bot: Harness, user: str) -> list[Message]:
    channel = bot.slack.workspace.channels.get(f"D{user[1:]}")
    return [m for m in (channel.visible() if channel else []) if m.files]


def csv_of(bot: Harness, message: Message) -> list[list[str]]:
    file = bot.slack.workspace.files[message.files[0]["id"]]
    assert file.content is not None
    return list(csv.reader(io.StringIO(file.content.decode("utf-8"))))


async def entries(bot: Harness, action: EventType) -> list[AuditEntry]:
    async with bot.deps.db.sessions() as session:
        found = await session.scalars(select(AuditEntry).where(AuditEntry.action == action.value))
        return list(found)


def reason(text: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.REASON.value: {InputId.REASON.value: {"type": "plain_text_input", "value": text}}
    }


async def declined_with_card(bot: Harness) -> str:
    """A handoff an approver declined with a card number in the reason (stored suppressed)."""
    handoff_id = await bot.accept(example("duplicate_charge_dispute"))
    await bot.click(Demo.APPROVER_1, ActionId.DECLINE, handoff_id)
    await bot.submit(
        Demo.APPROVER_1,
        CallbackId.DECLINE_MODAL,
        handoff_id,
        reason(f"Customer read out {CARD}; charge is not a duplicate"),
    )
    return handoff_id


def home_click(user: str, value: str = "last_30_days") -> dict[str, str]:
    """A Home tab button click as Slack sends it (container type "view")."""
    return _payload(
        {
            "type": "block_actions",
            "team": {"id": "T0SANDBOX", "domain": "sandbox"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
            "api_app_id": "A0BOT",
            "token": "legacy",
            "container": {"type": "view", "view_id": "V0HOME"},
            "trigger_id": f"trigger-{uuid.uuid4().hex}",
            "view": {"id": "V0HOME", "type": "home", "hash": "h", "blocks": []},
            "actions": [
                {
                    "action_id": ActionId.EXPORT_AUDIT.value,
                    "block_id": "home_export",
                    "type": "button",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
    )


# ---- /handoff export ---------------------------------------------------------------------


async def test_lead_gets_the_csv_with_the_whole_trail_in_their_dm(bot: Harness) -> None:
    handoff_id = await declined_with_card(bot)
    card = await bot.card(handoff_id)
    response, _key = await bot.command(Demo.FIN_LEAD, "/handoff", "export")
    body = await response.json()
    assert body["response_type"] == "ephemeral"
    assert "2026-10-29 to 2026-11-27" in body["text"]  # the last 30 days, today included
    assert dm_files(bot, Demo.FIN_LEAD) == []  # built in the background
    await bot.drain()

    [shared] = dm_files(bot, Demo.FIN_LEAD)
    assert shared.files[0]["name"] == "audit-trail-2026-10-29-to-2026-11-27.csv"
    assert "Suppressed values stay suppressed" in shared.text
    # Slack's current upload flow, not the retired files.upload.
    assert [c.ok for c in bot.slack.calls_to("files.getUploadURLExternal")] == [True]
    [complete] = bot.slack.calls_to("files.completeUploadExternal")
    assert complete.ok and complete.args["channel_id"] == f"D{Demo.FIN_LEAD[1:]}"

    rows = csv_of(bot, shared)
    assert tuple(rows[0]) == HEADER
    mine = [r for r in rows[1:] if r[0] == card.call_id]
    actions = [r[10] for r in mine]
    assert actions[0] == "received" and "declined" in actions
    assert all(r[1] and r[2] == "Quill Analytics" and r[5] == "declined" for r in mine)
    declined = next(r for r in mine if r[10] == "declined")
    assert declined[9] == Demo.APPROVER_1
    assert "[card ending 4242]" in json.loads(declined[11])["reason"]
    assert CARD not in "\n".join(",".join(r) for r in rows)

    [exported] = await entries(bot, EventType.EXPORTED)
    assert exported.actor == Demo.FIN_LEAD
    assert exported.detail == {
        "via": "slash_command",
        "from": "2026-10-29",
        "to": "2026-11-27",
        "rows": len(rows) - 1,
    }


async def test_export_takes_a_range_and_leaves_out_other_days(bot: Harness) -> None:
    old = await bot.accept(example("collections_promise"))
    new = await bot.accept(example("duplicate_charge_dispute"))
    async with bot.deps.db.sessions() as session, session.begin():  # received 40 days ago
        row = await session.get(HandoffRow, old)
        assert row is not None
        row.created_at = NOW - timedelta(days=40)
    await bot.command(Demo.FIN_LEAD, "/handoff", "export 2026-10-01 2026-10-31")
    await bot.drain()
    [shared] = dm_files(bot, Demo.FIN_LEAD)
    assert shared.files[0]["name"] == "audit-trail-2026-10-01-to-2026-10-31.csv"
    calls = {r[0] for r in csv_of(bot, shared)[1:]}
    assert calls == {(await bot.card(old)).call_id}
    assert (await bot.card(new)).call_id not in calls


async def test_non_lead_is_refused_privately_and_audited(bot: Harness) -> None:
    await bot.accept(example("duplicate_charge_dispute"))
    for user in (Demo.APPROVER_1, Demo.OUTSIDER):
        response, _ = await bot.command(user, "/handoff", "export 2026-11-01")
        body = await response.json()
        assert body["response_type"] == "ephemeral"
        assert "Only the finance lead can export the audit trail" in body["text"]
    await bot.drain()
    assert dm_files(bot, Demo.APPROVER_1) == [] and dm_files(bot, Demo.OUTSIDER) == []
    assert bot.slack.calls_to("files.getUploadURLExternal") == []
    refused = await entries(bot, EventType.REFUSED)
    assert {(e.actor, e.detail["action"], e.detail["reason"]) for e in refused} == {
        (Demo.APPROVER_1, "export", "not_lead"),
        (Demo.OUTSIDER, "export", "not_lead"),
    }
    assert await entries(bot, EventType.EXPORTED) == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("export 2026-13-01", "from"),
        ("export 2026-11-01 yesterday", "to"),
        ("export 27/11/2026", "from"),
        ("export 2026-11-20 2026-11-01", "from"),  # from after to
    ],
)
async def test_bad_dates_get_a_clear_error_naming_the_field(
    bot: Harness, text: str, field: str
) -> None:
    response, _ = await bot.command(Demo.FIN_LEAD, "/handoff", text)
    body = await response.json()
    assert body["response_type"] == "ephemeral"
    assert f"The {field} date is wrong" in body["text"]
    assert "YYYY-MM-DD" in body["text"]
    async with bot.deps.db.sessions() as session:
        assert (
            await session.scalars(select(OutboxItem).where(OutboxItem.kind == "export"))
        ).all() == []


# ---- the Home tab button -----------------------------------------------------------------


async def test_home_button_is_the_leads_and_uploads_the_last_30_days(bot: Harness) -> None:
    await bot.accept(example("duplicate_charge_dispute"))
    await bot.deps.home.refresh(Demo.FIN_LEAD)
    await bot.deps.home.refresh(Demo.APPROVER_1)
    ws = bot.slack.workspace
    lead_home = json.dumps(ws.views[ws.home_views[Demo.FIN_LEAD]].blocks)
    assert "Export audit trail (last 30 days)" in lead_home
    assert ActionId.EXPORT_AUDIT.value in lead_home
    other_home = json.dumps(ws.views[ws.home_views[Demo.APPROVER_1]].blocks)
    assert ActionId.EXPORT_AUDIT.value not in other_home

    response = await bot.slack_post(home_click(Demo.FIN_LEAD))
    assert response.status == 200
    await bot.drain()
    [shared] = dm_files(bot, Demo.FIN_LEAD)
    assert shared.files[0]["name"] == "audit-trail-2026-10-29-to-2026-11-27.csv"
    assert len(csv_of(bot, shared)) > 1
    [exported] = await entries(bot, EventType.EXPORTED)
    assert exported.detail["via"] == "home"


async def test_home_click_without_the_buttons_value_does_nothing(bot: Harness) -> None:
    for user in (Demo.FIN_LEAD, Demo.APPROVER_1):
        response = await bot.slack_post(home_click(user, value="last_9000_days"))
        assert response.status == 200
    await bot.drain()
    assert dm_files(bot, Demo.FIN_LEAD) == []
    assert await entries(bot, EventType.REFUSED) == []
    assert bot.slack.calls_to("chat.postMessage") == []


async def test_home_button_from_a_non_lead_is_refused_by_dm_and_audited(bot: Harness) -> None:
    response = await bot.slack_post(home_click(Demo.APPROVER_1))
    assert response.status == 200
    await bot.drain()
    dm = bot.slack.workspace.channels[f"D{Demo.APPROVER_1[1:]}"].visible()
    assert any("Only the finance lead can export" in m.text for m in dm)
    assert not any(m.files for m in dm)
    [refused] = await entries(bot, EventType.REFUSED)
    assert (refused.actor, refused.detail["action"]) == (Demo.APPROVER_1, "export")


# ---- GET /export/handoffs.csv ------------------------------------------------------------


async def test_http_export_streams_the_csv_and_keeps_suppressed_markers(bot: Harness) -> None:
    handoff_id = await declined_with_card(bot)
    call_id = (await bot.card(handoff_id)).call_id
    response = await bot.client.get(
        EXPORT_PATH,
        params={"from": "2026-11-27", "to": "2026-11-27"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "audit-trail-2026-11-27-to-2026-11-27.csv" in response.headers["Content-Disposition"]
    text = await response.text()
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == HEADER
    assert {r[0] for r in rows[1:]} == {call_id}
    assert "[card ending 4242]" in text and CARD not in text
    [exported] = await entries(bot, EventType.EXPORTED)
    assert exported.actor == HTTP_ACTOR
    assert exported.detail == {
        "via": "http",
        "from": "2026-11-27",
        "to": "2026-11-27",
        "rows": len(rows) - 1,
        "complete": True,
    }


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"bearer {TOKEN}x"]
)
async def test_http_export_refuses_a_missing_or_wrong_token(
    bot: Harness, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await bot.client.get(EXPORT_PATH, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "call_id" not in await response.text()
    assert await entries(bot, EventType.EXPORTED) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"from": "2026-02-30"}, "from"), ({"to": "soon"}, "to"), ({"from": "2026-12-01"}, "from")],
)
async def test_http_export_names_the_bad_date(
    bot: Harness, query: dict[str, str], field: str
) -> None:
    response = await bot.client.get(
        EXPORT_PATH, params=query, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "invalid_date" and body["field"] == field


async def test_http_export_is_not_there_without_a_token(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        response = await bot.client.get(EXPORT_PATH, headers={"Authorization": "Bearer x"})
        assert response.status == 404


# ---- what the CSV holds ------------------------------------------------------------------


async def test_formula_cells_are_neutralised(bot: Harness) -> None:
    payload = example("duplicate_charge_dispute")
    payload["customer"] = {**payload["customer"], "name": '=HYPERLINK("http://evil.example")'}
    await bot.accept(payload)
    response = await bot.client.get(EXPORT_PATH, headers={"Authorization": f"Bearer {TOKEN}"})
    rows = list(csv.reader(io.StringIO(await response.text())))
    customers = {r[2] for r in rows[1:]}
    assert customers == {'\'=HYPERLINK("http://evil.example")'}


async def test_export_reads_page_by_page_and_misses_nothing(bot: Harness) -> None:
    calls = []
    for _ in range(5):
        handoff_id = await bot.accept(
            example("billing_question_minimal", call_id=fresh_call_id("bq"))
        )
        calls.append((await bot.card(handoff_id)).call_id)
    span = parse_range("2026-11-27", "2026-11-27", today=NOW.date())
    rows = [r async for r in AuditExport(bot.deps.db, page_size=2).rows(span)]
    seen = list(dict.fromkeys(r[0] for r in rows))
    assert sorted(seen) == sorted(calls)


# ---- exactly once --------------------------------------------------------------------------


async def test_a_failed_upload_is_retried_and_arrives_once(bot: Harness, clock: FakeClock) -> None:
    await bot.accept(example("duplicate_charge_dispute"))
    bot.slack.fail_next("files.completeUploadExternal", error="internal_error")
    await bot.command(Demo.FIN_LEAD, "/handoff", "export")
    await bot.drain()
    assert dm_files(bot, Demo.FIN_LEAD) == []
    clock.advance(seconds=5)  # past the retry's backoff
    await bot.drain()
    clock.advance(seconds=600)
    await bot.drain()
    assert len(dm_files(bot, Demo.FIN_LEAD)) == 1
    assert len(await entries(bot, EventType.EXPORTED)) == 1


async def test_a_retry_finds_an_upload_that_did_arrive_and_does_not_repeat_it(
    bot: Harness,
) -> None:
    """The upload reached Slack but its answer was lost: the retry sees the file in the DM."""
    ws = bot.slack.workspace
    dm, _ = ws.open_im(Demo.FIN_LEAD)
    title = "Audit trail 2026-10-29 to 2026-11-27 (export 4242)"
    reserved = ws.reserve_file("audit.csv", 3)
    ws.receive_upload(reserved.upload_id, b"a,b")
    ws.complete_upload([{"id": reserved.id, "title": title}], channel=dm.id)
    deliver = bot.deps.worker.handlers[OutboxKind.EXPORT]
    payload = {
        "user": Demo.FIN_LEAD,
        "via": "slash_command",
        "from": "2026-10-29",
        "to": "2026-11-27",
    }
    await deliver(ClaimedItem(4242, None, OutboxKind.EXPORT.value, payload, attempts=2))
    assert len(dm_files(bot, Demo.FIN_LEAD)) == 1
    assert bot.slack.calls_to("files.getUploadURLExternal") == []
    [exported] = await entries(bot, EventType.EXPORTED)
    assert exported.key == "export-4242" and "rows" not in exported.detail
