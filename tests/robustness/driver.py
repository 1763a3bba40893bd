"""Drive one running bot from synchronous (hypothesis) tests, and look at everything it stored.

Hypothesis runs each example inside a plain function, so a module starts the real app once on its
own event loop (``asyncio.Runner``) and every example hands its coroutine to that loop. This keeps
one bot, one database and one fake Slack and Plisio per module instead of one per example.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import ClientResponse
from sqlalchemy import inspect, text

from services.db.engine import Database
from tests.support.harness import Harness, running_bot

__all__ = [
    "BotDriver",
    "Exchange",
    "Snapshot",
    "driven_bot",
    "dump_database",
    "snapshot",
    "table_names",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Exchange:
    """One HTTP answer, read whole."""

    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass(frozen=True)
class Snapshot:
    """What an input could have changed: every table's rows, and what went to Slack and Plisio."""

    rows: dict[str, int] | dict[str, list[str]]
    slack_calls: int
    slack_responses: int
    plisio_requests: int
    plisio_invoices: int


class BotDriver:
    """A running bot plus the loop it runs on; ``run`` executes one coroutine on that loop."""

    def __init__(self, runner: asyncio.Runner, harness: Harness) -> None:
        self._runner = runner
        self.harness = harness

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    @property
    def db(self) -> Database:
        database: Database = self.harness.deps.db
        return database


@contextmanager
def driven_bot(tmp_path: Path, **kwargs: Any) -> Iterator[BotDriver]:
    """Start the real app (``running_bot``) on a private loop for the length of the block."""
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        harness = runner.run(stack.enter_async_context(running_bot(tmp_path, **kwargs)))
        try:
            yield BotDriver(runner, harness)
        finally:
            runner.run(stack.aclose())


async def read(response: ClientResponse) -> Exchange:
    body = await response.read()
    return Exchange(response.status, response.content_type, body.decode("utf-8", "replace"))


async def table_names(db: Database) -> list[str]:
    """Every table in the bot's database (or its PostgreSQL schema), migrations' own included."""
    async with db.engine.connect() as connection:
        names: list[str] = await connection.run_sync(
            lambda sync: inspect(sync).get_table_names(schema=db.schema)
        )
    assert {"handoffs", "audit_log", "outbox", "invoices", "approvals"} <= set(names), names
    # Which Slack interactions were seen (so a replay acts once) is bookkeeping, not state:
    # every signed interaction is recorded, including the ones refused as changing nothing.
    return sorted(set(names) - {"seen_interactions"})


def _quoted(db: Database, table: str) -> str:
    return f'"{db.schema}"."{table}"' if db.schema else f'"{table}"'


async def _rows(db: Database, tables: list[str], *, full: bool) -> dict[str, Any]:
    async with db.engine.connect() as connection:
        if not full:  # one round trip: SELECT (SELECT COUNT(*) FROM a) AS a, ...
            counts = ", ".join(f'(SELECT COUNT(*) FROM {_quoted(db, t)}) AS "{t}"' for t in tables)  # noqa: S608 - names come from the inspector
            row = (await connection.execute(text(f"SELECT {counts}"))).one()
            return {table: int(count) for table, count in zip(tables, row, strict=True)}
        result: dict[str, Any] = {}
        for table in tables:
            rows = (await connection.execute(text(f"SELECT * FROM {_quoted(db, table)}"))).all()  # noqa: S608
            result[table] = sorted(repr(tuple(row)) for row in rows)
        return result


async def snapshot(harness: Harness, tables: list[str], *, full: bool = False) -> Snapshot:
    """Row counts of every table (or, with ``full``, every row) and the fakes' traffic so far."""
    return Snapshot(
        rows=await _rows(harness.deps.db, tables, full=full),
        slack_calls=len(harness.slack.calls),
        slack_responses=sum(len(v) for v in harness.slack.responses.values()),
        plisio_requests=len(harness.plisio.requests),
        plisio_invoices=len(harness.plisio.invoices),
    )


async def dump_database(db: Database) -> str:
    """Every row of every table as text, one JSON line per row (non-ASCII kept as it is)."""
    tables = await table_names(db)
    lines: list[str] = []
    async with db.engine.connect() as connection:
        for table in tables:
            result = await connection.execute(text(f"SELECT * FROM {_quoted(db, table)}"))  # noqa: S608
            for row in result.mappings():
                line = json.dumps(dict(row), default=str, ensure_ascii=False, sort_keys=True)
                lines.append(f"{table}: {line}")
    return "\n".join(lines)
