"""The exception sheet under a burst: 300 exception handoffs against Sheets' write quota.

The Sheets double holds the bot to 60 writes per (scaled) minute and answers 429 over it. Every
handoff is an exception: RECEIVED gives it a row, POSTED adds its Slack link, and every third is
then approved (its status changes). Each event is one connector call, as the outbox makes it; a
``RetryAfter`` is tried again after its (scaled) seconds with the next attempt number.

Figures: rows, duplicate rows, lost rows, writes and 429s, and the time to land everything
against the quota minimum: the writes the bot made, at 60 a minute. Without batching the same
work would take one write per change (``unbatched_minimum_seconds``).
``time_scale`` shortens Google's minute so the run takes seconds (the pacer is scaled alike).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bot.settings import Settings
from connectors.base import ConnectorContext, Done, RetryAfter
from connectors.google.auth import GoogleAuth
from connectors.google_sheets.client import SheetsClient
from connectors.google_sheets.connector import GoogleSheetsConnector
from connectors.google_sheets.writer import WRITE_INTERVAL, Pacer
from sandbox.google import FakeGoogle
from services.db.engine import Database
from services.db.models import HandoffRow
from services.events import BOT, Event, EventType

__all__ = ["run"]

SHEET = "bench-exceptions"
QUOTA = 60  # writes per minute per user


async def _handoffs(db: Database, n: int, now: datetime) -> list[str]:
    ids = []
    async with db.sessions() as session, session.begin():
        for i in range(n):
            call_id = f"bench-call-{i:04d}"
            hid = f"h{i:031d}"
            ids.append(hid)
            session.add(
                HandoffRow(
                    id=hid,
                    call_id=call_id,
                    workflow="refund",
                    urgency="normal",
                    status="open",
                    channel="C0FINANCE",
                    owner="U0OWNER",
                    amount=Decimal("99.00"),
                    currency="USD",
                    customer_email=f"c{i}@example.com",
                    review_flags=["changes_money"],
                    payload={},
                    occurred_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    return ids


async def _change(db: Database, hid: str, **fields: Any) -> None:
    async with db.sessions() as session, session.begin():
        row = await session.get(HandoffRow, hid)
        assert row is not None
        for key, value in fields.items():
            setattr(row, key, value)


async def run(workdir: Path, *, handoffs: int = 300, time_scale: float = 20.0) -> dict[str, Any]:
    """One burst; returns the figures."""
    now = datetime.now(UTC)
    google = FakeGoogle(writes_per_minute=QUOTA, time_scale=time_scale, clock=time.monotonic)
    google.add_spreadsheet(SHEET)
    db = Database(f"sqlite+aiosqlite:///{workdir / 'sheets-bench.db'}")
    await db.migrate()
    retries = Counter[str]()
    async with google.running() as base, httpx.AsyncClient(timeout=30) as http:
        key_file = google.write_key_file(workdir / "bench-sa.json", base + "/token")
        google.clock = time.time  # the token endpoint checks iat/exp against wall time
        quota_clock = time.monotonic
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            google_service_account_file=key_file,
            google_api_base=base,
            google_sheets_spreadsheet_id=SHEET,
        )
        auth = GoogleAuth(settings, http, lambda: datetime.now(UTC))
        client = SheetsClient(settings, SHEET, auth=auth, http=http)
        connector = GoogleSheetsConnector(
            db=db, client=client, tab="Exceptions", pacer=Pacer(WRITE_INTERVAL / time_scale)
        )
        # SQLite takes one writer at a time: the bench's own updates and the connector's reads
        # queue as the outbox worker's would (the bench is about Sheets, not the database).
        gate = asyncio.Semaphore(4)
        load = connector._load

        async def gated_load(hid: str) -> Any:
            async with gate:
                return await load(hid)

        connector._load = gated_load  # type: ignore[method-assign]

        async def change(hid: str, **fields: Any) -> None:
            async with gate:
                await _change(db, hid, **fields)

        ids = await _handoffs(db, handoffs, now)
        await auth.token(("https://www.googleapis.com/auth/spreadsheets",))  # not timed
        google.clock = quota_clock

        async def deliver(hid: str, kind: EventType) -> None:
            event = Event(kind, hid, BOT, now, {}, key=f"{kind.value}-{hid}")
            attempt = 1
            while True:
                answer = await connector.handle(
                    event, ConnectorContext(attempt, lambda: datetime.now(UTC))
                )
                if isinstance(answer, Done):
                    return
                if not isinstance(answer, RetryAfter):
                    raise RuntimeError(f"gave up: {answer}")
                retries[kind.value] += 1
                attempt += 1
                await asyncio.sleep(answer.seconds / time_scale)

        async def life(i: int, hid: str) -> None:
            await deliver(hid, EventType.RECEIVED)
            await change(hid, message_ts=f"1700000000.{i:06d}")
            await deliver(hid, EventType.POSTED)
            if i % 3 == 0:
                await change(hid, status="approved")
                await deliver(hid, EventType.APPROVED)

        began = time.monotonic()
        await asyncio.gather(*(life(i, hid) for i, hid in enumerate(ids)))
        elapsed = time.monotonic() - began
        rows = google.rows(SHEET)[1:]
    await db.dispose()
    calls = Counter(r[0] for r in rows)
    writes = sum(1 for r in google.requests if r.write and r.authorized)
    changes = handoffs * 2 + len(range(0, handoffs, 3))
    minute = 60.0 / time_scale
    quota_minimum = writes * minute / QUOTA
    return {
        "handoffs": handoffs,
        "time_scale": time_scale,
        "quota_writes_per_minute": QUOTA,
        "rows": len(rows),
        "duplicates": sum(c - 1 for c in calls.values()),
        "lost": handoffs - len(calls),
        "approved_rows_updated": sum(1 for r in rows if r[8].startswith("Approved")),
        "writes": writes,
        "reads": sum(1 for r in google.requests if not r.write),
        "rate_limited_429s": google.rate_limited,
        "retries": dict(retries),
        "total_seconds": round(elapsed, 2),
        "quota_minimum_seconds": round(quota_minimum, 2),
        "ratio_to_quota_minimum": round(elapsed / quota_minimum, 3) if quota_minimum else None,
        "unbatched_minimum_seconds": round(changes * minute / QUOTA, 2),
        "scaled_to_real_seconds": round(elapsed * time_scale, 1),
    }


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))
