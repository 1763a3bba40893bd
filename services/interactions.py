"""Slack interactions handled once: a replay of a signed request is recognised and ignored.

Slack's signatures stay valid for five minutes, so a captured click, form submission or slash
command can be sent again within that window and would act again. Each interaction's identity
(derived by the web layer from the payload) is recorded here; the first process to record it
wins, on one database shared by every web process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import ReturningInsert

from services.db.engine import Database
from services.db.models import SeenInteraction

__all__ = ["KEEP_FOR", "SeenInteractions"]

# Slack refuses signatures older than 5 minutes; twice that covers clock skew between hosts.
KEEP_FOR = timedelta(minutes=10)
MAX_KEY = 200
PRUNE_EVERY = timedelta(minutes=1)


class SeenInteractions:
    """Records interaction keys; ``first`` says whether this is the first time one is seen."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        keep_for: timedelta = KEEP_FOR,
    ) -> None:
        self._db = sidecar(db) or db
        self._own = self._db is not db
        self._ready = not self._own  # the main database has the table from its migrations
        self._clock = clock
        self._keep_for = keep_for
        self._pruned_at: datetime | None = None

    @property
    def database(self) -> Database:
        """Where the keys are kept (the main database, or its SQLite side file)."""
        return self._db

    async def close(self) -> None:
        """Close the side file's connections (nothing to do on the main database)."""
        if self._own:
            await self._db.dispose()

    async def keys(self) -> set[str]:
        """Every key kept now (for inspection and tests)."""
        await self._ensure_table()
        async with self._db.engine.connect() as connection:
            return set((await connection.execute(select(SeenInteraction.key))).scalars())

    async def _ensure_table(self) -> None:
        if self._ready:
            return
        table = cast(Table, SeenInteraction.__table__)
        async with self._db.engine.begin() as connection:
            await connection.run_sync(table.create, checkfirst=True)
        self._ready = True

    async def first(self, key: str) -> bool:
        """Record ``key``; True when no process had recorded it within the replay window."""
        now = self._clock()
        await self._ensure_table()
        async with self._db.engine.begin() as connection:
            # Expired keys go at most once a minute per process (one write fewer per click on a
            # busy SQLite); Slack refuses a signature that old anyway, so a key kept a minute
            # longer blocks nothing real.
            if (
                self._pruned_at is None
                or now - self._pruned_at >= PRUNE_EVERY
                or now < self._pruned_at
            ):
                await connection.execute(
                    delete(SeenInteraction).where(SeenInteraction.seen_at < now - self._keep_for)
                )
                self._pruned_at = now
            inserted = await connection.execute(
                _insert(self._db.is_sqlite), {"key": key[:MAX_KEY], "seen_at": now}
            )
            return inserted.first() is not None


def sidecar(db: Database) -> Database | None:
    """On SQLite, a small database file beside the main one for the keys, else None.

    The check runs before Slack is answered. On SQLite every transaction takes the single write
    lock up front, and the bot's other work holds it for many milliseconds at a time; queueing the
    check behind that made each click's acknowledgement wait (p50 125 ms instead of 14 ms in
    ``python -m bench --only ack``). A file of its own has its own lock, still shared by every
    web process on the machine. PostgreSQL locks rows, so there the main database serves.
    """
    if not db.is_sqlite:
        return None
    url = make_url(db.url)
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Database(url.set(database=f"{url.database}-interactions").render_as_string())


@functools.cache
def _insert(sqlite: bool) -> ReturningInsert[tuple[str]]:
    table = cast(Table, SeenInteraction.__table__)
    statement = sqlite_insert(table) if sqlite else postgresql_insert(table)
    return statement.on_conflict_do_nothing(index_elements=[table.c.key]).returning(table.c.key)
