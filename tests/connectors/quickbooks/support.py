"""A bot wired to a QuickBooks double, for the QuickBooks tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from connectors.base import ConnectorContext
from connectors.quickbooks.connector import QuickBooksConnector, build
from connectors.registry import ConnectorDeps
from sandbox.quickbooks import TOKEN_PATH, FakeQuickBooks
from tests.support.clock import FakeClock
from tests.support.harness import Harness, running_bot

__all__ = ["CLIENT", "KEY", "REALM", "SECRET", "SEED", "connector_for", "ctx", "qb_bot", "text"]

CLIENT = "ABqbClientId"
SECRET = "qb-client-secret-000111222333"
SEED = "RT1-seed-token-from-the-playground"
REALM = "9130355555555555"
KEY = Fernet.generate_key().decode()


def settings_for(url: str) -> dict[str, Any]:
    return {
        "quickbooks_client_id": CLIENT,
        "quickbooks_client_secret": SECRET,
        "quickbooks_refresh_token": SEED,
        "quickbooks_realm_id": REALM,
        "quickbooks_api_base": url,
        "quickbooks_token_url": url + TOKEN_PATH,
        "connector_encryption_key": KEY,
    }


@asynccontextmanager
async def qb_bot(
    tmp_path: Path, clock: FakeClock, qb: FakeQuickBooks | None = None
) -> AsyncIterator[tuple[Harness, FakeQuickBooks]]:
    double = qb or FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED)
    async with (
        double.running() as url,
        running_bot(tmp_path, clock=clock, **settings_for(url)) as bot,
    ):
        yield bot, double


def connector_for(bot: Harness) -> QuickBooksConnector:
    """A second instance of the connector on the bot's database (another process, in effect)."""
    c = bot.deps
    deps = ConnectorDeps(
        settings=c.settings,
        db=c.db,
        http=c.http,
        clock=c.clock,
        credentials=c.connectors.credentials,
    )
    return build(deps)


def ctx(clock: FakeClock, attempt: int = 1) -> ConnectorContext:
    return ConnectorContext(attempt=attempt, clock=clock)


def text(message: Any) -> str:
    return str(message.text) + json.dumps(message.blocks)
