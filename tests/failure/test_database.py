"""The database locked or gone for a while: DialNexa hears 503 + Retry-After (so it retries), and
nothing it sent is lost."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.stack import handoff_payload
from services.db.engine import normalise_url
from tests.failure.conftest import Stack, eventually, only_post

pytestmark = pytest.mark.slow

BUSY_TIMEOUT = 5.0  # services.db.engine.SQLITE_BUSY_TIMEOUT_MS
LOCK_TIMEOUT = 5.0  # services.db.engine.POSTGRES_LOCK_TIMEOUT_MS


def _call() -> str:
    return f"dnx_db_{uuid.uuid4().hex[:8]}"


async def _accepted_and_posted(stack: Stack, call_id: str) -> None:
    bot = stack.bots[0]
    status, answer, _retry = await stack.dialnexa(bot).send(handoff_payload(call_id))
    assert status in (200, 202), answer
    handoff_id = answer["handoff_id"]
    await eventually(lambda: only_post(stack, handoff_id), timeout=15, what="the post")
    rows = [h for h in await stack.inspector.handoffs() if h.call_id == call_id]
    assert len(rows) == 1


async def _refused_as_busy(stack: Stack, call_id: str, *, waiting_at_least: float) -> None:
    """The delivery waits out the lock timeout, then hears 503 with Retry-After."""
    began = time.monotonic()
    status, answer, retry_after = await stack.dialnexa(stack.bots[0]).send(handoff_payload(call_id))
    waited = time.monotonic() - began
    assert status == 503, answer
    assert answer["error"] == "unavailable"
    assert retry_after is not None and retry_after >= 1
    assert waited >= waiting_at_least - 0.5  # it waited for the lock before giving up


async def _nothing_stored_then_retry_accepted(stack: Stack, call_id: str) -> None:
    assert [h for h in await stack.inspector.handoffs() if h.call_id == call_id] == []
    # DialNexa retries after Retry-After and the handoff goes through, once.
    await _accepted_and_posted(stack, call_id)


async def test_locked_sqlite_answers_503_with_retry_after_then_accepts(stack: Stack) -> None:
    if stack.postgres:
        pytest.skip("SQLite file locking; the PostgreSQL outage has its own test")
    bot = stack.bot()
    await bot.start_healthy()
    path = make_url(stack.database_url).database
    assert path
    call_id = _call()
    # Another process holds the write lock past the bot's busy timeout.
    locker = sqlite3.connect(
        path, timeout=10, isolation_level=None
    )  # waits out the bot's own writes
    try:
        locker.execute("BEGIN EXCLUSIVE")
        await _refused_as_busy(stack, call_id, waiting_at_least=BUSY_TIMEOUT)
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
    await _nothing_stored_then_retry_accepted(stack, call_id)


async def test_locked_postgres_table_answers_503_with_retry_after_then_accepts(
    stack: Stack,
) -> None:
    if not stack.postgres:
        pytest.skip("PostgreSQL table locks; SQLite's file lock has its own test")
    bot = stack.bot()
    await bot.start_healthy()
    call_id = _call()
    server_settings = {"search_path": stack.schema or "public"}
    engine = create_async_engine(
        normalise_url(stack.database_url), connect_args={"server_settings": server_settings}
    )
    try:
        async with engine.connect() as conn:
            # Someone locks the table by hand (maintenance, a stuck session) past the timeout.
            lock = await conn.begin()
            await conn.execute(text("LOCK TABLE handoffs IN ACCESS EXCLUSIVE MODE"))
            await _refused_as_busy(stack, call_id, waiting_at_least=LOCK_TIMEOUT)
            await lock.rollback()
    finally:
        await engine.dispose()
    await _nothing_stored_then_retry_accepted(stack, call_id)


async def test_briefly_locked_sqlite_waits_instead_of_refusing(stack: Stack) -> None:
    if stack.postgres:
        pytest.skip("SQLite file locking")
    bot = stack.bot()
    await bot.start_healthy()
    path = make_url(stack.database_url).database
    assert path
    call_id = _call()
    locker = sqlite3.connect(
        path, timeout=10, isolation_level=None
    )  # waits out the bot's own writes
    try:
        locker.execute("BEGIN EXCLUSIVE")
        sending = asyncio.create_task(stack.dialnexa(bot).send(handoff_payload(call_id)))
        await asyncio.sleep(1.0)  # well inside the busy timeout
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
    status, answer, _retry = await sending
    assert status == 202, answer
    await _accepted_and_posted(stack, call_id)


class _Proxy:
    """A TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening (new connections are refused) and cut every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        await self.down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, RuntimeError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
        self._writers.discard(sink)


@contextlib.asynccontextmanager
async def _proxied(url: str) -> AsyncIterator[tuple[_Proxy, str]]:
    parsed = make_url(url)
    proxy = _Proxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.up()
    try:
        yield proxy, parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    finally:
        await proxy.close()


async def test_unreachable_postgres_answers_503_with_retry_after_then_accepts(
    stack: Stack,
) -> None:
    if not stack.postgres:
        pytest.skip("needs TEST_DATABASE_URL pointing at PostgreSQL")
    async with _proxied(stack.database_url) as (proxy, proxied_url):
        bot = stack.bot(DATABASE_URL=proxied_url)
        await bot.start_healthy()
        await _accepted_and_posted(stack, _call())
        call_id = _call()
        await proxy.down()
        status, answer, retry_after = await stack.dialnexa(bot).send(handoff_payload(call_id))
        assert status == 503, answer
        assert retry_after is not None and retry_after >= 1
        await proxy.up()  # the same port again
        await _accepted_and_posted(stack, call_id)
