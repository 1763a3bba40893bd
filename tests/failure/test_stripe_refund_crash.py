"""SIGKILL the worker executing a Stripe refund right after Stripe stored the refund, before the
worker heard the answer: a restarted worker finishes it, and Stripe holds exactly one refund.

A real process (``tests/failure/stripe_refund_worker.py``) runs the outbox loop with
``ConnectorRuntime`` and the real ``stripe_refunds`` connector on a real database file (or a
PostgreSQL schema when TEST_DATABASE_URL is set), against the loopback Stripe double served by
this test, which kills the worker the moment it has stored the refund.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.stripe.refunds import NAME, StripeRefundConnector
from sandbox.stripe import FakeStripe
from services.db.engine import Database
from services.db.models import AuditEntry, OutboxItem
from services.events import EventLog, EventType, OutboxKind, Subscriptions
from services.intake import HandoffIntake
from services.refunds import RefundLedger, RefundStatus, refund_key
from tests.connectors.stripe.refund_support import release_refund, store_refund_handoff
from tests.support.db import fresh_database_url
from tests.support.routing import make_routing

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_crash0123456789abcdef"
CALL_ID = "dnx_refund_sigkill"
DEADLINE = 20.0  # seconds for the whole test


def start_worker(url: str, stripe_url: str, schema: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.failure.stripe_refund_worker", url, stripe_url, KEY]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*args, *([schema] if schema else [])], cwd=ROOT, env=env)


async def unfinished(db: Database) -> int:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxItem.status).where(OutboxItem.kind == OutboxKind.CONNECTOR.value)
        )
        return sum(1 for status in rows if status != "done")


async def test_a_refund_stored_by_stripe_as_the_worker_dies_is_made_once(tmp_path: Path) -> None:
    started = time.monotonic()
    fake = FakeStripe.demo(KEY)
    victim: list[int] = []
    killed = asyncio.Event()

    def kill_the_worker(refund: dict[str, Any]) -> None:
        # Stripe has the refund; the worker dies before it hears so or tells anyone.
        if victim:
            os.kill(victim.pop(), signal.SIGKILL)
            killed.set()

    fake.on_refund = kill_the_worker
    async with fresh_database_url(tmp_path) as (url, schema), fake.running() as stripe_url:
        db = Database(url, schema=schema)
        await db.migrate()
        try:
            routing = make_routing()
            intake = HandoffIntake(db, lambda: routing, clock=lambda: datetime.now(UTC))
            handoff_id = await store_refund_handoff(
                intake, CALL_ID, payment_id="pi_SbxMaple19", email="accounts@maplerow.example",
                amount="19.00", currency="USD",
            )  # fmt: skip
            events = EventLog(Subscriptions({NAME: StripeRefundConnector.handles}))
            await release_refund(
                db, events, handoff_id, CALL_ID, payment_ref="pi_SbxMaple19", amount="19.00",
                currency="USD", now=datetime.now(UTC),
            )  # fmt: skip
            ledger = RefundLedger(db, lambda: events, lambda: datetime.now(UTC))

            worker = start_worker(url, stripe_url, schema)
            victim.append(worker.pid)
            try:
                await asyncio.wait_for(killed.wait(), timeout=DEADLINE / 2)
            finally:
                worker.kill()
                await asyncio.to_thread(worker.wait)
            assert worker.returncode == -signal.SIGKILL
            assert len(fake.refunds()) == 1
            refund = await ledger.for_handoff(handoff_id)
            assert refund is not None and refund.status is RefundStatus.RELEASED

            worker = start_worker(url, stripe_url, schema)
            try:
                while True:
                    refund = await ledger.for_handoff(handoff_id)
                    assert refund is not None
                    if refund.status is RefundStatus.SUCCEEDED and not await unfinished(db):
                        break
                    assert time.monotonic() - started < DEADLINE, "the worker did not finish"
                    assert worker.poll() is None, "the worker exited by itself"
                    await asyncio.sleep(0.1)
            finally:
                worker.kill()
                await asyncio.to_thread(worker.wait)

            [made] = fake.refunds()
            assert (made["amount"], made["metadata"]) == (1900, {"call_id": CALL_ID})
            assert refund.external_id == made["id"]
            # The restarted worker found the refund: it never asked Stripe to refund again.
            assert [w.idempotency_key for w in fake.writes()] == [refund_key(CALL_ID)]
            async with db.sessions() as session:
                told = list(
                    await session.scalars(
                        select(AuditEntry.id).where(
                            AuditEntry.action == EventType.REFUND_SUCCEEDED.value
                        )
                    )
                )
            assert len(told) == 1
        finally:
            await db.dispose()
