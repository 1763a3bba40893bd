"""SIGKILL the QuickBooks connector's worker right after QuickBooks stored a RefundReceipt, before
the worker heard the answer or told its outbox: a restarted worker finishes the work, and every
executed refund is booked exactly once.

A real process (``tests/failure/quickbooks_worker.py``) runs the outbox loop with
``ConnectorRuntime`` and the real QuickBooks connector against the QuickBooks double served by
this test, on a real database file (or a PostgreSQL schema when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.quickbooks.connector import QuickBooksConnector
from sandbox.quickbooks import FakeQuickBooks
from services.db.engine import Database
from services.db.models import HandoffRow, OutboxItem, RefundRow
from services.events import Event, EventLog, EventType, Subscriptions
from services.refunds import RefundLedger, RefundStatus, RefundSystem, refund_key
from tests.failure.quickbooks_worker import CLIENT, REALM, SECRET, SEED
from tests.support.db import fresh_database_url
from tests.support.examples import example, fresh_call_id

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KILLS = 2  # each right after a RefundReceipt reached QuickBooks
DEADLINE = 40.0  # seconds for the whole test (it takes a few)


def now() -> datetime:
    return datetime.now(UTC)


class Killer:
    """Kills ``pid`` when the double stores its next RefundReceipt (before it answers)."""

    def __init__(self, double: FakeQuickBooks) -> None:
        self.double = double
        self.pid: int | None = None
        self.seen = 0
        self.killed = asyncio.Event()
        double.on_change.append(self.changed)

    def arm(self, pid: int) -> None:
        self.seen = len(self.double.refund_receipts)
        self.killed.clear()
        self.pid = pid

    def changed(self) -> None:
        if self.pid is not None and len(self.double.refund_receipts) > self.seen:
            os.kill(self.pid, signal.SIGKILL)  # stored; the worker never hears so
            self.pid = None
            self.killed.set()


def start_worker(url: str, qb_url: str, schema: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.failure.quickbooks_worker", url, qb_url]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*args, *([schema] if schema else [])], cwd=ROOT, env=env)


async def add_refunds(db: Database) -> dict[str, str]:
    """Four executed refunds (two by Stripe, two marked by hand), each with its outcome event
    recorded: call id -> handoff id."""
    log = EventLog(Subscriptions({"quickbooks": QuickBooksConnector.handles}))
    ledger = RefundLedger(db, lambda: log, now)
    handoffs: dict[str, str] = {}
    for n in range(4):
        call_id = fresh_call_id("dnx_crash")
        handoff_id = f"h{n}-{call_id[-20:]}"
        stripe = n % 2 == 0
        payload = example("create_invoice", call_id=call_id, workflow="refund")
        payload["billing"] = {"amount": "75.50", "currency": "USD", "payment_id": f"ch_{n}"}
        at = now()
        async with db.sessions() as session, session.begin():
            session.add(
                HandoffRow(
                    id=handoff_id,
                    call_id=call_id,
                    workflow="refund",
                    urgency="normal",
                    status="approved",
                    channel="C1",
                    customer_email=payload["customer"]["email"],
                    email_verified=True,
                    payload=payload,
                    occurred_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
            await session.flush()
            system = RefundSystem.STRIPE if stripe else RefundSystem.MANUAL
            session.add(
                RefundRow(
                    handoff_id=handoff_id,
                    key=refund_key(call_id),
                    customer_email=payload["customer"]["email"],
                    system=system.value,
                    payment_ref=f"ch_{n}" if stripe else f"plisio_txn_{n}",
                    amount=Decimal("75.50"),
                    currency="USD",
                    status=(RefundStatus.RELEASED if stripe else RefundStatus.MARKED).value,
                    automatic=False,
                    decided_by="U_APPROVER",
                    created_at=at,
                    updated_at=at,
                )
            )
            if not stripe:
                detail = {"amount": "75.50", "currency": "USD"}
                log.record(session, Event(EventType.REFUND_MARKED, handoff_id, "U1", at, detail))
        if stripe:
            assert await ledger.record_outcome(
                handoff_id, RefundStatus.SUCCEEDED, external_id=f"re_{n}"
            )
        handoffs[call_id] = handoff_id
    return handoffs


async def pending(db: Database) -> int:
    async with db.sessions() as session:
        rows = await session.scalars(select(OutboxItem.status))
        return sum(1 for status in rows if status != "done")


async def test_a_refund_receipt_is_booked_once_across_sigkills_after_the_write(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    double = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED)
    killer = Killer(double)
    async with fresh_database_url(tmp_path) as (url, schema), double.running() as qb_url:
        db = Database(url, schema=schema)
        await db.migrate()
        try:
            handoffs = await add_refunds(db)
            kills = 0
            for _ in range(KILLS):
                worker = start_worker(url, qb_url, schema)
                killer.arm(worker.pid)
                try:
                    await asyncio.wait_for(killer.killed.wait(), timeout=15)
                    kills += 1
                except TimeoutError:
                    killer.pid = None
                    worker.kill()
                await asyncio.to_thread(worker.wait)
            worker = start_worker(url, qb_url, schema)
            try:
                while await pending(db):
                    assert time.monotonic() - started < DEADLINE, "the worker did not finish"
                    assert worker.poll() is None, "the worker exited by itself"
                    await asyncio.sleep(0.1)
            finally:
                worker.kill()
                await asyncio.to_thread(worker.wait)
            async with db.sessions() as session:
                statuses = set(await session.scalars(select(OutboxItem.status)))
        finally:
            await db.dispose()
    assert kills == KILLS  # both times the worker died between the write and its answer
    assert statuses == {"done"}
    booked = Counter(
        call_id
        for receipt in double.refund_receipts.values()
        for call_id in handoffs
        if f"DialNexa call {call_id} ·" in receipt["PrivateNote"]
    )
    assert booked == dict.fromkeys(handoffs, 1)
    assert len(double.refund_receipts) == len(handoffs)
    assert all(r["TotalAmt"] == Decimal("75.50") for r in double.refund_receipts.values())
