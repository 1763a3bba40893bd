"""``Database.reads``: sessions that only read never wait for (or hold) SQLite's write lock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.db.engine import Database
from services.db.models import OutboxItem
from tests.support.db import fresh_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


async def test_a_read_session_reads_while_a_writer_holds_the_lock(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's one write lock")
    async with db.sessions() as writer, writer.begin():
        await writer.execute(select(func.count()).select_from(OutboxItem))  # BEGIN IMMEDIATE
        began = time.monotonic()
        async with db.reads() as reader:
            count = await asyncio.wait_for(
                reader.scalar(select(func.count()).select_from(OutboxItem)), timeout=2.0
            )
        assert count == 0
        assert time.monotonic() - began < 1.0  # not the 5 s busy timeout


async def test_a_read_session_does_not_hold_the_write_lock(db: Database) -> None:
    async with db.reads() as reader:
        await reader.scalar(select(func.count()).select_from(OutboxItem))
        began = time.monotonic()
        async with db.sessions() as writer, writer.begin():
            await writer.execute(select(func.count()).select_from(OutboxItem))
        assert time.monotonic() - began < 1.0
