"""SIGKILL a connector worker at random moments, and right after its external write before the
outbox heard of it: every event is still written to the external system exactly once.

A real process (``tests/failure/connector_worker.py``) runs the outbox loop with
``ConnectorRuntime`` and a toy connector on a real database file (or a PostgreSQL schema when
TEST_DATABASE_URL is set). The toy writes to a loopback HTTP double that counts writes per
idempotency key (the toy's outbox key), and looks up what it wrote before writing again on a
later attempt. ``FAILURE_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from services.db.engine import Database
from services.db.models import OutboxItem
from services.events import BOT, Event, EventLog, EventType, Subscriptions, connector_key
from tests.support.db import fresh_database_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("FAILURE_SEED", str(random.SystemRandom().randrange(10**6))))
EVENTS = 40
KILLS = 6  # half at a random moment, half right after a write reaches the double
DEADLINE = 50.0  # seconds for the whole test


class Double:
    """The external system: counts every write per Idempotency-Key; can kill the writer."""

    def __init__(self) -> None:
        self.writes: Counter[str] = Counter()
        self.kill_pid: int | None = None  # SIGKILL this process when the next write arrives
        self.killed = asyncio.Event()

    async def write(self, request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        await request.read()
        self.writes[key] += 1
        if self.kill_pid is not None:
            # The write is done here; the worker dies before it hears so or tells its outbox.
            os.kill(self.kill_pid, signal.SIGKILL)
            self.kill_pid = None
            self.killed.set()
        return web.json_response({"id": key}, status=201)

    async def look_up(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        return web.json_response({"id": key}) if self.writes[key] else web.Response(status=404)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/writes", self.write)
        app.router.add_get("/writes/{key}", self.look_up)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


def start_worker(url: str, double_url: str, schema: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.failure.connector_worker", url, double_url]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*args, *([schema] if schema else [])], cwd=ROOT, env=env)


async def pending(db: Database) -> int:
    async with db.sessions() as session:
        rows = await session.scalars(select(OutboxItem.status))
        return sum(1 for status in rows if status != "done")


async def test_a_toy_connector_writes_each_event_exactly_once_across_sigkills(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    print(f"FAILURE_SEED={SEED}")
    started = time.monotonic()
    double = Double()
    async with fresh_database_url(tmp_path) as (url, schema), double.running() as double_url:
        db = Database(url, schema=schema)
        await db.migrate()
        log = EventLog(Subscriptions({"toy": [EventType.NOTE_ADDED]}))
        keys = []
        async with db.sessions() as session, session.begin():
            for n in range(EVENTS):
                event = Event(EventType.NOTE_ADDED, None, BOT, datetime.now(UTC), {"n": n})
                log.record(session, event)
                keys.append(connector_key("toy", event.key))
        kills_after_write = 0
        try:
            for round_ in range(KILLS):
                worker = start_worker(url, double_url, schema)
                if round_ % 2:
                    double.killed.clear()
                    double.kill_pid = worker.pid
                    try:
                        await asyncio.wait_for(double.killed.wait(), timeout=10)
                        kills_after_write += 1
                    except TimeoutError:
                        double.kill_pid = None
                        worker.kill()
                else:
                    await asyncio.sleep(rng.uniform(0.2, 2.0))
                    worker.kill()
                await asyncio.to_thread(worker.wait)
                await asyncio.sleep(rng.uniform(0.0, 0.3))
            worker = start_worker(url, double_url, schema)
            try:
                while await pending(db):
                    assert time.monotonic() - started < DEADLINE, "the worker did not finish"
                    assert worker.poll() is None, "the worker exited by itself"
                    await asyncio.sleep(0.1)
            finally:
                worker.kill()
                await asyncio.to_thread(worker.wait)
        finally:
            await db.dispose()
    assert kills_after_write >= 1  # the window between the write and the outbox was hit
    assert dict(double.writes) == dict.fromkeys(keys, 1)
