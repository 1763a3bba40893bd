"""Shared by the Drive and Gmail tests: a running Drive/Gmail double, a service-account key whose
token_uri is the double's, and a stored handoff with its invoice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import Settings
from connectors.base import ConnectorContext
from sandbox.google_drive_gmail import FakeDriveGmail
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, InvoiceRow
from services.events import Event, EventType
from tests.support.clock import FakeClock
from tests.support.db import fresh_database

SENDER = "finance@acme.example"
ROOT = "root-folder"
AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@cache
def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def key_file(tmp_path: Path, token_uri: str) -> Path:
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "bot@project.iam.gserviceaccount.com",
                "private_key_id": "k1",
                "private_key": _pem(),
                "token_uri": token_uri,
            }
        )
    )
    return path


def handoff_payload(workflow: str, *, verified: bool = True, **billing: Any) -> dict[str, Any]:
    return {
        "schema_version": "1",
        "call_id": f"call-{workflow}",
        "occurred_at": "2026-11-25T09:00:00Z",
        "workflow": workflow,
        "caller_request": "Please send it again",
        "findings": "INTERNAL-FINDING do not share",
        "customer": {
            "name": "Globex Corp",
            "account_id": "ACC-9",
            "email": "ap@x.example",
            "email_verified": verified,
        },
        "billing": {"amount": "120.5", "currency": "USD", "invoice_number": "INV-77", **billing},
        "links": {"transcript_url": "https://transcripts.example/t/1"},
    }


@dataclass
class World:
    db: Database
    double: FakeDriveGmail
    settings: Settings
    http: httpx.AsyncClient
    clock: FakeClock

    async def add_handoff(
        self, workflow: str, *, verified: bool = True, invoice: bool = True, **billing: Any
    ) -> str:
        payload = handoff_payload(workflow, verified=verified, **billing)
        handoff_id = f"h-{workflow}"[:32]
        async with self.db.sessions() as session, session.begin():
            session.add(
                HandoffRow(
                    id=handoff_id,
                    call_id=payload["call_id"],
                    workflow=workflow,
                    urgency="normal",
                    status="approved",
                    channel="C1",
                    email_verified=verified,
                    payload=payload,
                    occurred_at=AT,
                    created_at=AT,
                    updated_at=AT,
                )
            )
            if invoice:
                session.add(
                    InvoiceRow(
                        handoff_id=handoff_id,
                        order_number=payload["call_id"],
                        txn_id=f"txn-{workflow}",
                        invoice_url="https://plisio.example/invoice/abc",
                        status="new",
                        amount=Decimal("120.5"),
                        currency="USD",
                        email="ap@x.example",
                        created_at=AT,
                        updated_at=AT,
                    )
                )
        return handoff_id

    async def approve(
        self,
        handoff_id: str,
        actor: str = "U0APPROVER",
        *,
        identity_confirmed: bool = False,
        **choices: Any,
    ) -> Event:
        """An approval as ``HandoffService.approve`` records it; ``choices`` are its email
        choices (``email_invoice=True``, ``followup_email="..."``)."""
        event = Event(
            EventType.APPROVED,
            handoff_id,
            actor,
            AT,
            {"approval": 1, "of": 1, "identity_confirmed": identity_confirmed, **choices},
            key=f"approved-{handoff_id}",
        )
        async with self.db.sessions() as session, session.begin():
            session.add(AuditEntry(**event.row()))
        return event

    def context(self, attempt: int = 1) -> ConnectorContext:
        return ConnectorContext(attempt=attempt, clock=self.clock)


@asynccontextmanager
async def world(tmp_path: Path, **settings: Any) -> AsyncIterator[World]:
    double = FakeDriveGmail()
    async with (
        fresh_database(tmp_path) as db,
        double.running() as root,
        httpx.AsyncClient() as http,
    ):
        values: dict[str, Any] = {
            "google_service_account_file": key_file(tmp_path, f"{root}/token"),
            "google_api_base": root,
            "google_delegated_user": "admin@acme.example",
            "google_drive_folder_id": ROOT,
            "gmail_sender": SENDER,
            **settings,
        }
        yield World(
            db,
            double,
            Settings(_env_file=None, **values),  # type: ignore[call-arg]
            http,
            FakeClock(AT),
        )
