"""Test databases: a fresh SQLite file, or a fresh PostgreSQL schema when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.stack import fresh_database as bench_fresh_database
from services.db.engine import Database

__all__ = ["backend_name", "fresh_database", "fresh_database_url"]


def backend_name() -> str:
    return "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"


@asynccontextmanager
async def fresh_database_url(tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    """(url, schema) for an empty database that is dropped afterwards."""
    async with bench_fresh_database(tmp_path, os.environ.get("TEST_DATABASE_URL")) as found:
        yield found


@asynccontextmanager
async def fresh_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty Database."""
    async with fresh_database_url(tmp_path) as (url, schema):
        db = Database(url, schema=schema)
        await db.migrate()
        try:
            yield db
        finally:
            await db.dispose()
