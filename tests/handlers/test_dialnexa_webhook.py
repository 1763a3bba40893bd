"""The DialNexa webhook, driven through the real app with real signatures."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.db.models import AuditEntry, HandoffRow, OutboxItem
from tests.support.examples import SHARED_DIR, example, example_names
from tests.support.harness import Harness, running_bot
from tests.support.signing import signed_headers


@pytest.fixture
async def bot(tmp_path: Path) -> Any:
    async with running_bot(tmp_path) as harness:
        yield harness


async def count(bot: Harness, model: Any) -> int:
    async with bot.bot.container.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_new_handoff_is_accepted_with_its_id(bot: Harness) -> None:
    response = await bot.deliver(example("create_invoice"))
    assert response.status == 202
    body = await response.json()
    assert body["status"] == "accepted"
    async with bot.bot.container.db.sessions() as session:
        row = await session.get(HandoffRow, body["handoff_id"])
        assert row is not None
        assert row.call_id == "dnx_call_INV2041"
        assert row.status == "open"
        outbox = (await session.scalars(select(OutboxItem))).all()
        audit = (await session.scalars(select(AuditEntry))).all()
    assert [(o.kind, o.handoff_id) for o in outbox] == [("post_handoff", row.id)]
    assert [(a.action, a.actor) for a in audit] == [("received", "dialnexa")]


@pytest.mark.parametrize(
    "findings",
    ["Caller asked whether the null invoice (NaN total, Infinity due) is void.", "text \\u0000"],
)
async def test_words_like_null_inside_text_do_not_refuse_a_handoff(
    bot: Harness, findings: str
) -> None:
    # These bytes send a delivery down the careful path; text containing them is still fine.
    response = await bot.deliver(example("create_invoice", findings=findings))
    assert response.status == 202, await response.text()
    async with bot.bot.container.db.sessions() as session:
        row = await session.get(HandoffRow, (await response.json())["handoff_id"])
    assert row is not None and row.payload["findings"] == findings


async def test_retry_of_same_call_is_a_duplicate_and_changes_nothing(bot: Harness) -> None:
    first = await (await bot.deliver(example("create_invoice"))).json()
    changed = example("create_invoice", caller_request="Different text on retry")
    response = await bot.deliver(changed)
    assert response.status == 200
    assert await response.json() == {
        "handoff_id": first["handoff_id"],
        "status": "accepted",
        "duplicate": True,
    }
    assert await count(bot, HandoffRow) == 1
    assert await count(bot, OutboxItem) == 1
    assert await count(bot, AuditEntry) == 1


async def test_fifty_concurrent_deliveries_of_one_call_make_one_handoff(bot: Harness) -> None:
    responses = await asyncio.gather(
        *(bot.deliver(example("duplicate_charge_dispute")) for _ in range(50))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses.count(202) == 1
    assert statuses.count(200) == 49
    ids = {(await r.json())["handoff_id"] for r in responses}
    assert len(ids) == 1
    assert await count(bot, HandoffRow) == 1
    assert await count(bot, OutboxItem) == 1


@pytest.mark.parametrize("name", example_names())
async def test_every_repo_example_is_accepted(bot: Harness, name: str) -> None:
    assert (await bot.deliver(example(name))).status == 202


@pytest.mark.skipif(
    not (SHARED_DIR / "contracts" / "examples").is_dir(),
    reason="the shared contracts folder (../shared) is not beside this clone; CI has it",
)
async def test_every_contract_example_is_accepted(bot: Harness) -> None:
    paths = sorted((SHARED_DIR / "contracts" / "examples").glob("*.json"))
    assert paths
    for path in paths:
        response = await bot.deliver(json.loads(path.read_text()))
        assert response.status == 202, (path.name, await response.text())


async def test_unsigned_request_is_refused_and_stores_nothing(bot: Harness) -> None:
    body = json.dumps(example("create_invoice")).encode()
    response = await bot.client.post(
        "/dialnexa/handoffs", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 401
    assert (await response.json())["error"] == "invalid_signature"
    assert await count(bot, HandoffRow) == 0


async def test_wrong_secret_and_stale_timestamp_are_refused(bot: Harness) -> None:
    wrong = await bot.deliver(example("create_invoice"), secret="not-the-secret")
    stale = await bot.deliver(example("create_invoice"), at=time.time() - 301)
    assert (wrong.status, stale.status) == (401, 401)
    assert "300 seconds" in (await stale.json())["message"]
    assert await count(bot, HandoffRow) == 0


async def test_wrong_content_type_is_415(bot: Harness) -> None:
    body = json.dumps(example("create_invoice")).encode()
    headers = signed_headers(body) | {"Content-Type": "text/plain"}
    response = await bot.client.post("/dialnexa/handoffs", data=body, headers=headers)
    assert response.status == 415
    assert await count(bot, HandoffRow) == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe{}", b'{"a": NaN}', b"[" * 100 + b"]" * 100],
    ids=["broken", "bad-utf8", "nan", "deep"],
)
async def test_body_that_is_not_json_is_400(bot: Harness, body: bytes) -> None:
    response = await bot.client.post("/dialnexa/handoffs", data=body, headers=signed_headers(body))
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_json"
    assert await count(bot, HandoffRow) == 0


async def test_oversized_body_is_413(bot: Harness) -> None:
    payload = example("create_invoice", transcript_excerpt="x" * (300 * 1024))
    response = await bot.deliver(payload)
    assert response.status == 413
    assert await count(bot, HandoffRow) == 0


async def test_schema_violations_are_422_naming_every_field(bot: Harness) -> None:
    payload = example("create_invoice")
    payload.pop("caller_request")
    payload["billing"] = {**payload["billing"], "amount": "12.5.0", "currency": "usd"}
    payload["customer"] = {**payload["customer"], "email": "not-an-email", "phone": "1" * 40}
    payload["follow_up"] = {**payload["follow_up"], "deadline": "2026-11-27T17:00:00"}
    payload["surprise"] = 1
    response = await bot.deliver(payload)
    assert response.status == 422
    body = await response.json()
    fields = {problem["field"] for problem in body["fields"]}
    assert fields == {
        "caller_request",
        "billing.amount",
        "billing.currency",
        "customer.email",
        "customer.phone",
        "follow_up.deadline",
        "surprise",
    }
    reasons = {p["field"]: p["reason"] for p in body["fields"]}
    assert reasons["surprise"] == "unknown field"
    assert "time zone" in reasons["follow_up.deadline"]
    assert await count(bot, HandoffRow) == 0


async def test_array_body_is_422(bot: Harness) -> None:
    body = b"[]"
    response = await bot.client.post("/dialnexa/handoffs", data=body, headers=signed_headers(body))
    assert response.status == 422


async def test_secrets_are_removed_before_storage(bot: Harness) -> None:
    response = await bot.deliver(example("refund_with_bank_details"))
    handoff_id = (await response.json())["handoff_id"]
    async with bot.bot.container.db.sessions() as session:
        row = await session.get(HandoffRow, handoff_id)
    assert row is not None
    stored = json.dumps(row.payload)
    assert "DE89370400440532013000" not in stored.replace(" ", "")
    assert "INV-2026-004511" in stored
    assert row.redacted == ["bank_details"]
    assert "sensitive_data" in row.review_flags


async def test_health_reports_database(bot: Harness) -> None:
    response = await bot.client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["database"]["reachable"] is True


async def test_health_says_starting_until_the_process_group_is_up(bot: Harness) -> None:
    # A web helper (WEB_PROCESSES) reports ready only once its primary says the group is up.
    bot.bot.readiness.starting = True
    response = await bot.client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "starting"
    bot.bot.readiness.starting = False
    assert (await bot.client.get("/healthz")).status == 200
