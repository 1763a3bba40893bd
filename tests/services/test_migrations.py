"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.exc import DBAPIError

from services.db.engine import Database
from services.db.models import AuditEntry, Base


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_reminder_and_home_queries_have_their_indexes(database: Database) -> None:
    def indexes(connection: Any) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for table in ("handoffs", "audit_log"):
            for index in inspect(connection).get_indexes(table):
                found[str(index["name"])] = [str(c) for c in index["column_names"]]
        return found

    async with database.engine.connect() as connection:
        found = await connection.run_sync(indexes)
    assert found["ix_handoffs_next_reminder_at"] == ["next_reminder_at"]
    assert found["ix_handoffs_owner_status"] == ["owner_slack_id", "status"]
    assert found["ix_audit_log_actor_at"] == ["actor", "at"]


async def test_downgrade_and_upgrade_again(database: Database) -> None:
    config = database.alembic_config()

    def cycle(connection: Any) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        command.upgrade(config, "head")

    async with database.engine.begin() as connection:
        await connection.run_sync(cycle)


async def test_audit_log_is_append_only(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        session.add(
            AuditEntry(
                handoff_id=None, at=datetime.now(UTC), actor="U1", action="approved", detail={}
            )
        )
    for statement in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.sessions() as session, session.begin():
                await session.execute(statement)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 1
        assert await session.scalar(select(AuditEntry.actor)) == "U1"
