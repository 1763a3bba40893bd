"""The sandbox keeps its world in the sandbox database, next to the bot's own tables.

The pretend Slack workspace, the fake Plisio and the writable vendor doubles (``keep``: Zendesk,
QuickBooks, the Google sheet, Drive and Gmail) live in memory; without this, a restart emptied
them while the sandbox database kept every handoff, so lookups found no invoices, Home counted
handoffs whose messages were gone and connectors' notes went to tickets and rows the doubles had
forgotten. ``SandboxWorld`` saves them all as one JSON snapshot in a table of
its own (``sandbox_world``, created here with ``CREATE TABLE IF NOT EXISTS``, not an Alembic
migration: it is the sandbox's, not part of the bot's schema), at most once a second after a
change and once more on shut-down, and loads it at start-up before the bot posts anything.

``reset`` empties both sides together: the bot's tables are dropped and migrated again (the audit
log is append-only, so rows cannot be deleted; the sandbox database holds made-up data only) and
the workspace, Plisio and the doubles go back to their first state, so they never disagree.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sandbox.plisio import FakePlisio
from sandbox.slack_workspace import SlackWorkspace
from sandbox.snapshot import Persistent, SnapshotError, dump_world, load_world
from services.db.engine import Database

__all__ = ["SAVE_DELAY_SECONDS", "WORLD_TABLE", "SandboxWorld", "reset_database"]

logger = logging.getLogger(__name__)

SAVE_DELAY_SECONDS = 1.0  # at most one save a second, however busy the page is
_KEY = "world"
_metadata = MetaData()
WORLD_TABLE = Table(
    "sandbox_world",
    _metadata,
    Column("name", String(32), primary_key=True),
    Column("body", Text, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)


def _upgrade_in(connection: Any, db: Database, revision: str, *, down: bool = False) -> None:
    config = db.alembic_config()
    config.attributes["connection"] = connection
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


async def reset_database(db: Database) -> None:
    """Drop every table of the bot and migrate again, in one transaction (sandbox data only)."""
    async with db.engine.begin() as connection:
        # Each migration undoes itself (tables, the audit log's triggers and function), so only
        # what the bot created goes; the sandbox's own table is emptied too.
        await connection.run_sync(_upgrade_in, db, "base", down=True)
        await connection.run_sync(_upgrade_in, db, "head")
        await connection.run_sync(_metadata.create_all)
        await connection.execute(delete(WORLD_TABLE))


class SandboxWorld:
    """Loads, saves (debounced) and resets the workspace, the fake Plisio and the kept doubles
    as one."""

    def __init__(
        self,
        db: Database,
        workspace: SlackWorkspace,
        plisio: FakePlisio,
        *,
        delay: float = SAVE_DELAY_SECONDS,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.workspace = workspace
        self.plisio = plisio
        self.delay = delay
        self.changed = changed  # told after a load or a reset (the page redraws)
        # What a reset goes back to: the demo directory, no messages, no invoices.
        self._first = json.dumps(dump_world(workspace, plisio))
        self.doubles: dict[str, Persistent] = {}
        self._pending: asyncio.Task[None] | None = None
        self._dirty = False
        self._lock = asyncio.Lock()

    def keep(self, name: str, double: Persistent) -> None:
        """Save and restore ``double`` with the world (under ``name``); each write it reports
        schedules a save. Call before ``restore``."""
        self.doubles[name] = double
        double.on_change.append(self.mark_changed)

    async def restore(self) -> bool:
        """Load the saved world, if any, keeping directory entries added since; says if loaded."""
        async with self.db.engine.begin() as connection:
            await connection.run_sync(_metadata.create_all)
            body = await connection.scalar(
                select(WORLD_TABLE.c.body).where(WORLD_TABLE.c.name == _KEY)
            )
        if body is None:
            return False
        ws = self.workspace
        # Members, groups and channels this start-up seeded (a newer demo, an operator's own
        # routing) stay, even when the saved workspace predates them.
        users, groups, channels = dict(ws.users), dict(ws.usergroups), dict(ws.channels)
        try:
            load_world(ws, self.plisio, json.loads(body), self.doubles)
        except (SnapshotError, ValueError) as exc:
            logger.warning("sandbox: ignored the saved workspace (%s); starting afresh", exc)
            return False
        for user_id, user in users.items():
            ws.users.setdefault(user_id, user)
        for group_id, group in groups.items():
            ws.usergroups.setdefault(group_id, group)
        for channel_id, channel in channels.items():
            ws.channels.setdefault(channel_id, channel)
        logger.info(
            "sandbox: restored the pretend workspace and Plisio",
            extra={
                "channels": len(ws.channels),
                "invoices": len(self.plisio.invoices),
                "doubles": sorted(self.doubles),
            },
        )
        self.changed()
        return True

    def mark_changed(self, _event: object = None) -> None:
        """Schedule a save (usable as a workspace ``on_change`` listener)."""
        self._dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # changed outside the server (a script): saved by the next flush
            return
        if self._pending is None or self._pending.done():
            self._pending = loop.create_task(self._save_later())

    async def _save_later(self) -> None:
        await asyncio.sleep(self.delay)
        try:
            await self.save()
        except Exception:
            logger.exception("sandbox: could not save the pretend workspace")

    async def save(self) -> None:
        """Write the world now (the whole snapshot, in one row)."""
        async with self._lock:
            self._dirty = False
            world = dump_world(self.workspace, self.plisio, self.doubles)
            body = json.dumps(world, separators=(",", ":"))
            try:
                async with self.db.engine.begin() as connection:
                    await connection.run_sync(_metadata.create_all)
                    await _write(connection, body)
            except BaseException:
                self._dirty = True
                raise

    async def flush(self, _app: object = None) -> None:
        """Save what is not saved yet, now (on shut-down; a failure is logged, not raised)."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            # Waited for, not awaited: awaiting would raise the save's CancelledError, and
            # suppressing that would also swallow a cancellation of this task (a shut-down
            # that cancels it would then wait for a save that may never get the database).
            await asyncio.wait({pending})
        if not self._dirty:
            return
        try:
            await self.save()
        except Exception:
            logger.warning("sandbox: could not save the last changes on shut-down", exc_info=True)

    async def reset(self) -> None:
        """Empty the bot's sandbox tables, the workspace, Plisio and the doubles together."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            # Waited for, not awaited: awaiting would raise the save's CancelledError, and
            # suppressing that would also swallow a cancellation of this task (a shut-down
            # that cancels it would then wait for a save that may never get the database).
            await asyncio.wait({pending})
        async with self._lock:
            await reset_database(self.db)
            # The first snapshot names no double: each is emptied (``reset``).
            load_world(self.workspace, self.plisio, json.loads(self._first), self.doubles)
            async with self.db.engine.begin() as connection:
                await _write(connection, self._first)
            self._dirty = False
        logger.warning("sandbox: reset (handoffs, invoices, audit log and pretend workspace)")
        self.changed()


async def _write(connection: AsyncConnection, body: str) -> None:
    await connection.execute(delete(WORLD_TABLE).where(WORLD_TABLE.c.name == _KEY))
    await connection.execute(
        insert(WORLD_TABLE).values(name=_KEY, body=body, saved_at=datetime.now(UTC))
    )
