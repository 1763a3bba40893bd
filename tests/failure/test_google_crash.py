"""SIGKILL the connector worker right after Gmail stored the sent receipt, and right after Drive
stored the uploaded receipt, before the worker heard either answer: a restarted worker finishes,
and there is still one email and one file for the call, each linked (and noted in the thread)
once.

A real process (``tests/failure/google_worker.py``) runs ``ConnectorRuntime`` with the real Drive
and Gmail connectors against the loopback Drive/Gmail double (its token endpoint included), on a
real database file (or a PostgreSQL schema when TEST_DATABASE_URL is set). The double kills the
worker from inside the request that stored the message or the file, before it answers.
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

import pytest
from sqlalchemy import func, select

from connectors.gmail import GmailConnector
from connectors.gmail.connector import REF_HEADER
from connectors.google_drive import DriveConnector
from sandbox.google_drive_gmail import FakeDriveGmail
from services.db.engine import Database
from services.db.models import AuditEntry, ExternalRef, HandoffRow, OutboxItem
from services.events import Event, EventLog, EventType, OutboxKind, Subscriptions
from tests.connectors.google_drive.support import handoff_payload, key_file
from tests.support.db import fresh_database_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 20.0  # seconds for the whole test
HANDOFF = "h-crash"
CALL = "call-receipt_resend"


class Killer:
    """Told after every write the double makes: kills the worker once per kind of write."""

    def __init__(self, double: FakeDriveGmail) -> None:
        self.double = double
        self.pid: int | None = None
        self.killed: list[str] = []  # "upload", "send": what was stored when it was killed
        self.done = asyncio.Event()
        self._seen = (0, 0)

    def __call__(self) -> None:
        seen = (len(self.double.documents()), len(self.double.sent()))
        stored = (
            "upload" if seen[0] > self._seen[0] else "send" if seen[1] > self._seen[1] else None
        )
        self._seen = seen
        if stored is None or self.pid is None or stored in self.killed:
            return
        # Stored here; the worker dies before it hears so or tells its outbox.
        os.kill(self.pid, signal.SIGKILL)
        self.pid = None
        self.killed.append(stored)
        self.done.set()


def start_worker(url: str, google: str, key: Path, schema: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.failure.google_worker", url, google, str(key)]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*args, *([schema] if schema else [])], cwd=ROOT, env=env)


async def pending(db: Database) -> int:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxItem.status).where(OutboxItem.kind == OutboxKind.CONNECTOR.value)
        )
        return sum(1 for status in rows if status != "done")


async def approve_receipt_resend(db: Database) -> None:
    """A stored receipt resend (its amount on the handoff) and its final approval, which queues
    the Drive and Gmail work as the bot does."""
    at = datetime.now(UTC)
    payload = handoff_payload("receipt_resend")
    log = EventLog(
        Subscriptions({"google_drive": DriveConnector.handles, "gmail": GmailConnector.handles})
    )
    async with db.sessions() as session, session.begin():
        session.add(
            HandoffRow(
                id=HANDOFF,
                call_id=CALL,
                workflow="receipt_resend",
                urgency="low",
                status="approved",
                channel="C1",
                email_verified=True,
                payload=payload,
                occurred_at=at,
                created_at=at,
                updated_at=at,
            )
        )
    async with db.sessions() as session, session.begin():
        log.record(
            session,
            Event(EventType.APPROVED, HANDOFF, "U0ANNA", at, {"approval": 1, "of": 1}),
        )


async def count(db: Database, *where: object) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)


async def test_a_worker_killed_after_each_google_write_sends_one_email_and_stores_one_file(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    double = FakeDriveGmail()
    killer = Killer(double)
    double.on_change.append(killer)
    async with fresh_database_url(tmp_path) as (url, schema), double.running() as google:
        key = key_file(tmp_path, f"{google}/token")
        db = Database(url, schema=schema)
        await db.migrate()
        workers: list[subprocess.Popen[bytes]] = []
        try:
            await approve_receipt_resend(db)
            for _ in range(2):  # one kill right after the upload, one right after the send
                worker = start_worker(url, google, key, schema)
                workers.append(worker)
                killer.done.clear()
                killer.pid = worker.pid
                await asyncio.wait_for(killer.done.wait(), timeout=DEADLINE / 2)
                await asyncio.to_thread(worker.wait)
            worker = start_worker(url, google, key, schema)
            workers.append(worker)
            while await pending(db):
                assert time.monotonic() - started < DEADLINE, "the worker did not finish"
                assert worker.poll() is None, "the worker exited by itself"
                await asyncio.sleep(0.1)

            assert sorted(killer.killed) == ["send", "upload"]
            assert worker.poll() is None  # the last worker was never killed: it finished
            mails = [m for m in double.sent() if m.header(REF_HEADER) == f"{CALL}:receipt"]
            assert len(mails) == 1
            assert len(double.sent()) == 1
            files = [f for f in double.documents() if f.app_properties.get("call_id") == CALL]
            assert [f.app_properties["document"] for f in files] == ["receipt"]
            assert len(double.documents()) == 1
            [(_, attached)] = mails[0].attachments()
            assert attached.startswith(b"%PDF")
            # Linked once each (external_refs), and each link told to the thread once.
            assert (
                await count(
                    db, ExternalRef.handoff_id == HANDOFF, ExternalRef.kind == "receipt_email"
                )
                == 1
            )
            assert (
                await count(db, ExternalRef.handoff_id == HANDOFF, ExternalRef.kind == "receipt")
                == 1
            )
            linked = (AuditEntry.handoff_id == HANDOFF, AuditEntry.action == "external_linked")
            assert await count(db, *linked) == 2
            notes = (OutboxItem.handoff_id == HANDOFF, OutboxItem.kind == "thread_note")
            assert await count(db, *notes) == 2
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                await asyncio.to_thread(worker.wait)
            await db.dispose()
