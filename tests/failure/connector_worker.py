"""A worker process for tests/failure/test_connector_crash.py: the outbox loop running
ConnectorRuntime with the toy HTTP connector, until it is killed.

    python -m tests.failure.connector_worker DATABASE_URL DOUBLE_URL [SCHEMA]
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import httpx

from connectors.runtime import ConnectorRuntime
from services.db.engine import Database
from services.events import EventLog, OutboxKind, Subscriptions
from services.outbox import Outbox
from tests.connectors.toy import HttpToy

LEASE = timedelta(seconds=1)  # work a killed process held is taken up again soon
PAUSE = 0.03  # seconds between the external write and the outbox completion (widens that gap)


def now() -> datetime:
    return datetime.now(UTC)


async def main(database_url: str, double_url: str, schema: str | None) -> None:
    db = Database(database_url, schema=schema)
    outbox = Outbox(db, clock=now, lease=LEASE)
    async with httpx.AsyncClient(timeout=5) as http:
        toy = HttpToy(double_url, http)
        runtime = ConnectorRuntime(
            db, outbox, [toy], now, EventLog(Subscriptions({toy.name: toy.handles}))
        )
        original = toy.handle

        async def slowly(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = await original(*args, **kwargs)
            await asyncio.sleep(PAUSE)
            return result

        toy.handle = slowly  # type: ignore[method-assign]
        while True:
            items = await outbox.claim(5)
            for item in items:
                assert item.kind == OutboxKind.CONNECTOR.value
                await runtime.run(item)
            if not items:
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
