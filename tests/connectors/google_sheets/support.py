"""A Sheets connector wired to a running FakeGoogle and a fresh database, for the tests."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import Settings
from connectors.base import ConnectorContext
from connectors.google.auth import GoogleAuth
from connectors.google_sheets.client import SheetsClient
from connectors.google_sheets.connector import GoogleSheetsConnector
from connectors.google_sheets.writer import Pacer
from sandbox.google import FakeGoogle
from services import external_refs
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow
from services.events import BOT, Event, EventType
from tests.support.db import fresh_database

SHEET = "sheet-123"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Rig:
    google: FakeGoogle
    db: Database
    connector: GoogleSheetsConnector
    auth: GoogleAuth
    settings: Settings

    def rows(self) -> list[list[str]]:
        return self.google.rows(SHEET)

    async def add_handoff(self, call_id: str, **fields: Any) -> str:
        handoff_id = call_id.replace("-", "")[:32]
        values: dict[str, Any] = {
            "id": handoff_id,
            "call_id": call_id,
            "workflow": "dispute",
            "urgency": "normal",
            "status": "open",
            "channel": "C0FINANCE",
            "message_ts": None,
            "owner": "U0OWNER",
            "amount": Decimal("120.00"),
            "currency": "USD",
            "customer_email": "jane@example.com",
            "review_flags": ["changes_money", "legal_terms"],
            "payload": {
                "schema_version": "1",
                "call_id": call_id,
                "occurred_at": NOW.isoformat(),
                "caller_request": "Dispute a charge",
                "customer": {"name": "Jane Doe", "email": "jane@example.com"},
            },
            "occurred_at": NOW,
            "created_at": NOW,
            "updated_at": NOW,
        }
        values.update(fields)
        async with self.db.sessions() as session, session.begin():
            session.add(HandoffRow(**values))
        return handoff_id

    async def change(self, handoff_id: str, **fields: Any) -> None:
        async with self.db.sessions() as session, session.begin():
            row = await session.get(HandoffRow, handoff_id)
            assert row is not None
            for key, value in fields.items():
                setattr(row, key, value)

    async def audit(self, handoff_id: str, action: EventType) -> None:
        async with self.db.sessions() as session, session.begin():
            session.add(
                AuditEntry(handoff_id=handoff_id, at=NOW, actor="U0LEAD", action=action.value)
            )

    async def handle(self, handoff_id: str, kind: EventType, attempt: int = 1) -> Any:
        event = Event(kind, handoff_id, BOT, NOW, {}, key=f"{kind.value}-{handoff_id}")
        return await self.connector.handle(event, ConnectorContext(attempt, lambda: NOW))

    async def record_ref(self, handoff_id: str, external_id: str, url: str | None) -> None:
        """What the runtime does with a Done's link."""
        async with self.db.sessions() as session, session.begin():
            await external_refs.record(
                session,
                handoff_id=handoff_id,
                system="google_sheets",
                kind="row",
                external_id=external_id,
                url=url,
                now=NOW,
            )


@functools.cache
def service_key() -> rsa.RSAPrivateKey:
    """One service-account key for every test (made at test time: none is committed)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@asynccontextmanager
async def rig(tmp_path: Path, **google_options: Any) -> AsyncIterator[Rig]:
    google = FakeGoogle(service_key(), **google_options)
    google.add_spreadsheet(SHEET)
    async with (
        google.running() as base,
        fresh_database(tmp_path) as db,
        httpx.AsyncClient() as http,
    ):
        key_file = google.write_key_file(tmp_path / "sa.json", base + "/token")
        settings = Settings(
            google_service_account_file=key_file,
            google_api_base=base,
            google_sheets_spreadsheet_id=SHEET,
        )
        auth = GoogleAuth(settings, http, lambda: datetime.now(UTC))
        client = SheetsClient(settings, SHEET, auth=auth, http=http)
        connector = GoogleSheetsConnector(db=db, client=client, tab="Exceptions", pacer=Pacer(0.01))
        yield Rig(google, db, connector, auth, settings)
