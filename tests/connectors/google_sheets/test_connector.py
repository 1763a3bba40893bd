"""The exception queue against the Sheets double: one row per call, updated in place."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from connectors.base import Done, GiveUp, RetryAfter
from connectors.google_sheets.rows import HEADER
from services.events import EventType
from tests.connectors.google_sheets.support import SHEET, rig


async def test_first_exception_writes_the_header_and_one_row(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-1")
        answer = await r.handle(hid, EventType.RECEIVED)
        rows = r.rows()
    assert rows[0] == list(HEADER)
    assert len(rows) == 2
    row = rows[1]
    assert row[:7] == [
        "call-1",
        "2026-01-05 09:00 UTC",
        "Dispute",
        "Jane Doe <jane@example.com>",
        "120.00",
        "USD",
        "changes money, legal terms",
    ]
    assert row[7:9] == ["U0OWNER", "Waiting for a decision"]
    assert isinstance(answer, Done)
    assert answer.context is not None
    assert answer.context["label"] == "row 2"
    assert answer.context["url"].endswith(f"/spreadsheets/d/{SHEET}/edit#gid=0&range=A2:K2")
    assert answer.context["lines"] == [
        "Review: changes money, legal terms",
        "Status: Waiting for a decision",
    ]
    (link,) = answer.links
    assert (link.kind, link.external_id, link.label) == (
        "row",
        f"{SHEET}:call-1",
        "exception row 2",
    )


async def test_not_an_exception_writes_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-2", review_flags=[], workflow="billing_question")
        assert await r.handle(hid, EventType.RECEIVED) == Done()
        assert r.rows() == []
        assert not [q for q in r.google.requests if q.write]


async def test_row_updated_in_place_when_approved_and_escalated(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-3")
        other = await r.add_handoff("call-4")
        await r.handle(hid, EventType.RECEIVED)
        await r.handle(other, EventType.RECEIVED)
        await r.change(hid, status="approved", message_ts="1700000000.000100")
        await r.audit(hid, EventType.ESCALATED)
        await r.handle(hid, EventType.ESCALATED)
        await r.change(hid, status="done")
        answer = await r.handle(hid, EventType.DONE)
        rows = r.rows()
    assert [row[0] for row in rows] == ["Call ID", "call-3", "call-4"]
    assert rows[1][6] == "changes money, legal terms, escalated"
    assert rows[1][8] == "Done"
    assert rows[1][9] == "https://slack.com/app_redirect?channel=C0FINANCE"
    assert isinstance(answer, Done) and answer.context and answer.context["label"] == "row 2"


async def test_a_handoff_that_stops_being_an_exception_keeps_its_row(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-5", review_flags=["unverified_email"])
        first = await r.handle(hid, EventType.RECEIVED)
        assert isinstance(first, Done)
        (link,) = first.links
        await r.record_ref(hid, link.external_id, link.url)
        await r.change(hid, review_flags=[], status="approved")
        await r.handle(hid, EventType.APPROVED)
        rows = r.rows()
    assert len(rows) == 2
    assert rows[1][6] == "none now"
    assert rows[1][8] == "Approved; next step with the owner (no longer an exception)"


async def test_failed_invoice_makes_an_exception(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-6", review_flags=[], workflow="create_invoice")
        await r.handle(hid, EventType.RECEIVED)
        await r.change(hid, status="action_failed")
        await r.handle(hid, EventType.INVOICE_FAILED)
        rows = r.rows()
    assert rows[1][6] == "Plisio invoice failed"


async def test_lost_append_response_gives_no_second_row(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-7")
        r.google.fail_next(1, 503, after_commit=True)  # the column read
        assert isinstance(await r.handle(hid, EventType.RECEIVED), RetryAfter)
        assert r.rows() == []
        # The append lands, then its answer is lost (as if the bot were killed before recording).
        r.google.requests.clear()
        original = r.connector.writer._client.append

        async def append_then_lose(tab: str, rows: object) -> str:
            await original(tab, rows)  # type: ignore[arg-type]
            raise asyncio.CancelledError

        r.connector.writer._client.append = append_then_lose  # type: ignore[method-assign]
        with contextlib.suppress(asyncio.CancelledError):
            await r.handle(hid, EventType.RECEIVED)
        r.connector.writer._client.append = original  # type: ignore[method-assign]
        assert len(r.rows()) == 2
        answer = await r.handle(hid, EventType.RECEIVED, attempt=2)
        rows = r.rows()
    assert [row[0] for row in rows] == ["Call ID", "call-7"]
    assert isinstance(answer, Done) and answer.context and answer.context["label"] == "row 2"


async def test_quota_429_is_retry_after_sixty_seconds(tmp_path: Path) -> None:
    async with rig(tmp_path, writes_per_minute=1) as r:
        first = await r.add_handoff("call-8")
        second = await r.add_handoff("call-9")
        assert isinstance(await r.handle(first, EventType.RECEIVED), Done)
        answer = await r.handle(second, EventType.RECEIVED)
        assert r.google.rate_limited == 1
    assert isinstance(answer, RetryAfter)
    assert answer.seconds == 60
    assert "quota exceeded" in answer.reason and "RESOURCE_EXHAUSTED" in answer.reason


async def test_quota_retry_after_header_is_honoured(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-10")
        r.google.fail_next(1, 429, "Quota exceeded", retry_after=12)
        answer = await r.handle(hid, EventType.RECEIVED)
    assert isinstance(answer, RetryAfter) and answer.seconds == 12


async def test_refused_key_is_a_clear_give_up(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-11")
        r.google.refuse_grants = "invalid_grant"
        answer = await r.handle(hid, EventType.RECEIVED)
    assert isinstance(answer, GiveUp)
    assert answer.reason.startswith("Google refused the service-account key: invalid_grant")


async def test_unknown_spreadsheet_is_a_give_up(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        hid = await r.add_handoff("call-12")
        r.google.spreadsheets.clear()
        answer = await r.handle(hid, EventType.RECEIVED)
    assert isinstance(answer, GiveUp)
    assert "Google Sheets refused to read the exceptions tab: 404 NOT_FOUND" in answer.reason


async def test_a_burst_is_batched_one_row_each(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.connector.writer.pacer.interval = 0.3  # rows pile up while a write slot is awaited
        ids = [await r.add_handoff(f"call-b{i}") for i in range(25)]
        first = await asyncio.gather(*(r.handle(h, EventType.RECEIVED) for h in ids))
        again = await asyncio.gather(*(r.handle(h, EventType.POSTED) for h in ids))
        rows = r.rows()
        writes = [q for q in r.google.requests if q.write]
    assert all(isinstance(a, Done) for a in [*first, *again])
    assert sorted(row[0] for row in rows[1:]) == sorted(f"call-b{i}" for i in range(25))
    assert len(writes) < 15  # batched: not 50


async def test_token_is_fetched_again_before_it_expires(tmp_path: Path) -> None:
    async with rig(tmp_path, token_lifetime=300) as r:  # inside the 5-minute margin at once
        hid = await r.add_handoff("call-13")
        await r.handle(hid, EventType.RECEIVED)
        await r.handle(hid, EventType.APPROVED)
        grants = r.google.grants
    assert grants >= 2
