"""A worker process for tests/failure/test_quickbooks_refund_crash.py: the outbox loop running
ConnectorRuntime with the real QuickBooks connector, until it is killed.

    python -m tests.failure.quickbooks_worker DATABASE_URL QUICKBOOKS_URL [SCHEMA]
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import httpx

from bot.settings import Settings
from connectors.quickbooks.connector import build
from connectors.registry import ConnectorDeps
from connectors.runtime import ConnectorRuntime
from sandbox.quickbooks import TOKEN_PATH
from services.credentials import CredentialStore
from services.db.engine import Database
from services.events import EventLog, OutboxKind, Subscriptions
from services.outbox import Outbox
from services.refunds import RefundLedger

__all__ = ["CLIENT", "REALM", "SECRET", "SEED", "main"]

LEASE = timedelta(seconds=1)  # work a killed process held is taken up again soon
CLIENT = "ABqbCrashClient"
SECRET = "qb-crash-client-secret"
SEED = "RT1-crash-test-seed"
REALM = "9130355555550001"
# Fixed (not generated): every worker process must read the refresh token the one before stored.
KEY = "cXVpY2tib29rcyByZWZ1bmQgY3Jhc2ggdGVzdCBrZXk="


def now() -> datetime:
    return datetime.now(UTC)


def settings_for(database_url: str, qb_url: str, schema: str | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_mode="slack",
        slack_bot_token="xoxb-crash-test",
        slack_signing_secret="crash-test-signing",
        plisio_secret_key="crash-test-plisio",
        dialnexa_webhook_secret="crash-test-webhook",
        public_url="http://127.0.0.1:9",
        routing_file="does-not-matter.toml",
        database_url=database_url,
        database_schema=schema,
        quickbooks_client_id=CLIENT,
        quickbooks_client_secret=SECRET,
        quickbooks_refresh_token=SEED,
        quickbooks_realm_id=REALM,
        quickbooks_api_base=qb_url,
        quickbooks_token_url=qb_url + TOKEN_PATH,
        connector_encryption_key=KEY,
    )


async def main(database_url: str, qb_url: str, schema: str | None) -> None:
    db = Database(database_url, schema=schema)
    outbox = Outbox(db, clock=now, lease=LEASE)
    settings = settings_for(database_url, qb_url, schema)
    async with httpx.AsyncClient(timeout=5) as http:
        late: list[EventLog] = []
        deps = ConnectorDeps(
            settings=settings,
            db=db,
            http=http,
            clock=now,
            credentials=CredentialStore(db, KEY, clock=now),
            refunds=RefundLedger(db, lambda: late[0], now),
        )
        connector = build(deps)
        events = EventLog(Subscriptions({connector.name: connector.handles}))
        late.append(events)
        runtime = ConnectorRuntime(db, outbox, [connector], now, events)
        while True:
            items = await outbox.claim(5)
            for item in items:
                assert item.kind == OutboxKind.CONNECTOR.value
                await runtime.run(item)
            if not items:
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
