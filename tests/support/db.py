"""Test databases: a fresh SQLite file, or a fresh PostgreSQL schema when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.db.engine import Database, normalise_url

__all__ = ["backend_name", "fresh_database", "fresh_database_url"]


def backend_name() -> str:
    return "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"


@asynccontextmanager
async def fresh_database_url(tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    """(url, schema) for an empty database that is dropped afterwards."""
    pg_url = os.environ.get("TEST_DATABASE_URL")
    if not pg_url:
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", None
        return
    url = normalise_url(pg_url)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url, schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


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
