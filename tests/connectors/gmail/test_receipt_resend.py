"""The receipt-resend journey without a browser: the sandbox's demo handoff (no amount on it), the
customer's earlier payment in the sandbox Plisio, then the Drive and Gmail connectors on the
approval, against the sandbox doubles. One email, the receipt of what was paid attached, the same
PDF in the customer's Drive folder; nothing sent when nothing paid is found."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pypdf

from connectors.base import Done, RetryAfter
from connectors.gmail import gmail_connector
from connectors.google_drive import drive_connector
from connectors.plisio import InvoiceLookup, PlisioClient
from connectors.registry import ConnectorDeps
from sandbox.examples import as_new_call
from sandbox.paid_history import add_paid_history
from sandbox.plisio import FakePlisio
from services.db.models import HandoffRow
from services.events import Event
from tests.connectors.google_drive.support import AT, World, world
from tests.support.examples import EXAMPLES_DIR, example

NOW = datetime(2026, 11, 26, 10, 7, tzinfo=UTC)


@asynccontextmanager
async def plisio_lookup(fake: FakePlisio) -> AsyncIterator[InvoiceLookup]:
    async with fake.running() as base, httpx.AsyncClient() as http:
        yield InvoiceLookup(PlisioClient("sk_sandbox", http=http, base_url=base, max_retries=0))


async def store(w: World, payload: dict[str, Any]) -> str:
    handoff_id = "h-receipt"
    async with w.db.sessions() as session, session.begin():
        session.add(
            HandoffRow(
                id=handoff_id,
                call_id=payload["call_id"],
                workflow=payload["workflow"],
                urgency="low",
                status="approved",
                channel="C1",
                email_verified=bool(payload["customer"]["email_verified"]),
                payload=payload,
                occurred_at=AT,
                created_at=AT,
                updated_at=AT,
            )
        )
    return handoff_id


def deps(w: World, lookup: InvoiceLookup) -> ConnectorDeps:
    return ConnectorDeps(
        settings=w.settings, db=w.db, http=w.http, clock=w.clock, invoice_lookup=lookup
    )


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


async def test_the_demo_receipt_resend_emails_the_receipt_of_the_paid_plisio_invoice(
    tmp_path: Path,
) -> None:
    fake = FakePlisio("sk_sandbox")
    async with world(tmp_path) as w, plisio_lookup(fake) as lookup:
        # What the sandbox page does: the demo call as a new call, its earlier payment added.
        raw, _ = as_new_call((EXAMPLES_DIR / "receipt_resend.json").read_bytes(), NOW)
        seeded = add_paid_history(fake, raw, NOW)
        assert seeded is not None and seeded.status == "completed"
        assert add_paid_history(fake, raw, NOW) is None  # once, however often it is sent
        payload = example("receipt_resend")
        assert "amount" not in payload["billing"]  # the demo names the invoice, not the sum
        handoff_id = await store(w, payload)
        approved = await w.approve(handoff_id, "U0ANNA")

        drive = await drive_connector(deps(w, lookup)).handle(approved, w.context())
        gmail = await gmail_connector(deps(w, lookup)).handle(approved, w.context())

        assert isinstance(drive, Done) and isinstance(gmail, Done)
        [mail] = w.double.sent()
        assert mail.header("To") == "wen.liu@example.com"
        assert "89.00 USD" in mail.body() and "INV-15502" in mail.body()
        [(name, attached)] = mail.attachments()
        assert name.endswith(".pdf")
        text = pdf_text(attached)
        assert "89.00 USD" in text
        assert "INV-15502" in text
        assert "PAID on 2026-09-14" in text
        assert "Wen Liu" in text
        [stored] = w.double.documents()
        assert stored.app_properties == {"call_id": "dnx_call_RCP6610", "document": "receipt"}
        assert stored.content == attached  # the emailed receipt is the one in Drive
        [folder] = [f for f in w.double.folders() if stored.parents == [f.id]]
        assert folder.name == "Wen Liu (ACC-3391)"
        assert gmail.context is not None
        assert gmail.context["lines"][-1].startswith("Email sent to wen.liu@example.com by")


async def test_a_named_invoice_that_was_not_paid_sends_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    fake = FakePlisio("sk_sandbox")
    async with world(tmp_path) as w, plisio_lookup(fake) as lookup:
        # Plisio knows the customer: a later invoice was paid, and the one asked for is open.
        paid = fake.add_invoice(
            order_number="INV-20001",
            order_name="Invoice INV-20001",
            source_amount=Decimal("40.00"),
            email="wen.liu@example.com",
        )
        paid.status, paid.finished_at = "completed", int(NOW.timestamp())
        fake.add_invoice(
            order_number="INV-15502",
            order_name="Invoice INV-15502",
            source_amount=Decimal("89.00"),
            email="wen.liu@example.com",
        )
        handoff_id = await store(w, example("receipt_resend"))
        approved = await w.approve(handoff_id)

        drive = await drive_connector(deps(w, lookup)).handle(approved, w.context())
        gmail = await gmail_connector(deps(w, lookup)).handle(approved, w.context())

        assert isinstance(drive, Done) and not drive.links
        assert isinstance(gmail, Done) and not gmail.links
        assert gmail.context is not None
        assert gmail.context["lines"][-1] == (
            "Not emailed: no paid invoice INV-15502 found for wen.liu@example.com in Plisio, "
            "so nothing was sent."
        )
        assert w.double.sent() == []
        assert w.double.documents() == []


async def test_without_a_named_invoice_the_latest_paid_one_is_the_receipt(
    tmp_path: Path,
) -> None:
    fake = FakePlisio("sk_sandbox")
    async with world(tmp_path) as w, plisio_lookup(fake) as lookup:
        for number, amount, paid_at in (
            ("INV-1", "10.00", datetime(2026, 8, 1, tzinfo=UTC)),
            ("INV-2", "25.50", datetime(2026, 10, 3, tzinfo=UTC)),
        ):
            invoice = fake.add_invoice(
                order_number=number,
                order_name=number,
                source_amount=Decimal(amount),
                source_currency="EUR",
                email="wen.liu@example.com",
                created_at=int(paid_at.timestamp()),
            )
            invoice.status, invoice.finished_at = "completed", int(paid_at.timestamp())
        payload = example("receipt_resend")
        payload["billing"] = {"payment_status": "paid"}
        handoff_id = await store(w, payload)
        approved = await w.approve(handoff_id)

        answer = await gmail_connector(deps(w, lookup)).handle(approved, w.context())

        assert isinstance(answer, Done) and answer.links
        [(_, attached)] = w.double.sent()[0].attachments()
        text = pdf_text(attached)
        assert "25.50 EUR" in text and "INV-2" in text and "PAID on 2026-10-03" in text


async def test_plisio_down_is_retried_later_and_nothing_is_sent(tmp_path: Path) -> None:
    fake = FakePlisio("sk_sandbox")
    async with world(tmp_path) as w, plisio_lookup(fake) as lookup:
        fake.fail_next(3, 503)
        handoff_id = await store(w, example("receipt_resend"))
        approved: Event = await w.approve(handoff_id)
        answer = await gmail_connector(deps(w, lookup)).handle(approved, w.context())
        assert isinstance(answer, RetryAfter)
        assert "Plisio" in answer.reason
        assert w.double.sent() == []
