"""A worker process for tests/failure/test_stripe_refund_crash.py: the outbox loop running
ConnectorRuntime with the real Stripe refund connector against a Stripe double, until killed.

    python -m tests.failure.stripe_refund_worker DATABASE_URL STRIPE_URL API_KEY [SCHEMA]
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import httpx

from connectors.runtime import ConnectorRuntime
from connectors.stripe.client import StripeRefunder
from connectors.stripe.refunds import StripeRefundConnector
from services.db.engine import Database
from services.events import EventLog, OutboxKind, Subscriptions
from services.outbox import Outbox
from services.refunds import RefundLedger

LEASE = timedelta(seconds=1)  # work a killed process held is taken up again soon


def now() -> datetime:
    return datetime.now(UTC)


async def main(database_url: str, stripe_url: str, api_key: str, schema: str | None) -> None:
    db = Database(database_url, schema=schema)
    outbox = Outbox(db, clock=now, lease=LEASE)
    late: list[EventLog] = []
    ledger = RefundLedger(db, lambda: late[0], now)
    async with httpx.AsyncClient(timeout=5) as http:
        client = StripeRefunder(api_key, http=http, api_base=stripe_url)
        connector = StripeRefundConnector(client, ledger, now, livemode=False, poll_seconds=0.2)
        events = EventLog(Subscriptions({connector.name: connector.handles}))
        late.append(events)
        runtime = ConnectorRuntime(db, outbox, [connector], now, events)
        while True:
            items = await outbox.claim(5, kind=OutboxKind.CONNECTOR)
            for item in items:
                await runtime.run(item)
            if not items:
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    schema = sys.argv[4] if len(sys.argv) > 4 else None
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], schema))
