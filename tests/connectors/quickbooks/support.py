"""A bot wired to a QuickBooks double, for the QuickBooks tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from connectors.base import ConnectorContext
from connectors.quickbooks.connector import QuickBooksConnector, build
from connectors.registry import ConnectorDeps
from sandbox.quickbooks import TOKEN_PATH, FakeQuickBooks
from services.db.models import HandoffRow, RefundRow
from services.events import Event, EventType
from services.refunds import RefundStatus, RefundSystem, refund_key
from tests.support.clock import FakeClock
from tests.support.harness import Harness, running_bot

__all__ = [
    "CLIENT",
    "KEY",
    "REALM",
    "SECRET",
    "SEED",
    "add_refund",
    "connector_for",
    "ctx",
    "mark_refunded",
    "qb_bot",
    "text",
]

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
    tmp_path: Path, clock: FakeClock, qb: FakeQuickBooks | None = None, **settings: Any
) -> AsyncIterator[tuple[Harness, FakeQuickBooks]]:
    double = qb or FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED)
    async with (
        double.running() as url,
        running_bot(tmp_path, clock=clock, **settings_for(url), **settings) as bot,
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
        refunds=c.connectors.refunds,
    )
    return build(deps)


def ctx(clock: FakeClock, attempt: int = 1) -> ConnectorContext:
    return ConnectorContext(attempt=attempt, clock=clock)


def text(message: Any) -> str:
    return str(message.text) + json.dumps(message.blocks, ensure_ascii=False)


async def add_refund(
    bot: Harness,
    handoff_id: str,
    *,
    system: RefundSystem = RefundSystem.STRIPE,
    status: RefundStatus = RefundStatus.RELEASED,
    amount: str = "150.00",
    currency: str = "USD",
    payment_ref: str | None = "ch_3PqRstripeCharge",
) -> str:
    """The handoff's refund row, as the refund service leaves it (released, or manual);
    returns its key."""
    now = bot.deps.clock()
    async with bot.deps.db.sessions() as session, session.begin():
        row = await session.get(HandoffRow, handoff_id)
        assert row is not None
        key = refund_key(row.call_id)
        # A refund handoff's row is stored by intake (pending); other test handoffs get one here.
        refund = await session.scalar(select(RefundRow).where(RefundRow.handoff_id == handoff_id))
        if refund is None:
            refund = RefundRow(handoff_id=handoff_id, key=key, created_at=now)
            session.add(refund)
        refund.customer_email = row.customer_email
        refund.system = system.value
        refund.payment_ref = payment_ref
        refund.amount = Decimal(amount)
        refund.currency = currency
        refund.status = status.value
        refund.automatic = False
        refund.decided_by = "U_APPROVER"
        refund.updated_at = now
    return key


async def mark_refunded(bot: Harness, handoff_id: str, note: str | None = None) -> None:
    """An approver marked the manual refund done: the row is MARKED and REFUND_MARKED is
    recorded (what the refund service does)."""
    now = bot.deps.clock()
    async with bot.deps.db.sessions() as session, session.begin():
        row = await session.scalar(select(RefundRow).where(RefundRow.handoff_id == handoff_id))
        assert row is not None
        row.status = RefundStatus.MARKED.value
        row.updated_at = now
        detail: Mapping[str, Any] = {"amount": str(row.amount), "currency": row.currency}
        if note:
            detail = {**detail, "note": note}
        event = Event(EventType.REFUND_MARKED, handoff_id, "U_APPROVER", now, detail)
        bot.deps.connectors.events.record(session, event)
