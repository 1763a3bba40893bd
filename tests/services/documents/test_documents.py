"""Invoice, receipt and credit-note PDFs: golden tests on the text a reader extracts.

Set ``UPDATE_GOLDEN=1`` to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from services.documents import (
    Company,
    InvoiceFacts,
    credit_note,
    decimals,
    format_money,
    invoice,
    invoice_email,
    receipt,
    receipt_email,
    render_pdf,
    round_money,
)
from services.handoff_model import Handoff

GOLDEN = Path(__file__).parents[2] / "fixtures" / "golden" / "documents"
COMPANY = Company("Acme Finance Ltd", "1 Example Street, Springfield, US")
ISSUED = date(2026, 11, 25)
INTERNAL = (
    "INTERNAL-FINDING",
    "transcripts.example",
    "recordings.example",
    "crm.example",
    "Agent Smith",
    "EXCERPT-TEXT",
)


def handoff(**billing: object) -> Handoff:
    return Handoff.model_validate(
        {
            "schema_version": "1",
            "call_id": "call-golden-1",
            "occurred_at": "2026-11-25T09:00:00Z",
            "caller_request": "Please resend my receipt",
            "findings": "INTERNAL-FINDING: customer was rude",
            "transcript_excerpt": "EXCERPT-TEXT",
            "agent": {"id": "a1", "name": "Agent Smith"},
            "customer": {
                "name": "Zoë Müller",
                "email": "ap@x.example",
                "email_verified": True,
                "billing_address": {"line1": "5 Rue Exemple", "city": "Lyon", "country": "FR"},
            },
            "billing": {"invoice_number": "INV-2041", "currency": "USD", **billing},
            "links": {
                "transcript_url": "https://transcripts.example/t/1",
                "recording_url": "https://recordings.example/r/1",
                "crm_url": "https://crm.example/c/1",
            },
        }
    )


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages).strip() + "\n"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    for secret in INTERNAL:
        assert secret not in text


def test_invoice_pdf_text() -> None:
    facts = InvoiceFacts(
        "call-golden-1",
        Decimal("1234.5"),
        "USD",
        payment_url="https://plisio.net/invoice/6abc",
        invoice_number="INV-2041",
    )
    doc = invoice(handoff(amount="1234.5", due_date="2026-12-10"), facts, COMPANY, ISSUED)
    check_golden("invoice", text_of(render_pdf(doc)))


def test_receipt_pdf_text() -> None:
    paid = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    facts = InvoiceFacts("call-golden-1", Decimal("0.001234567"), "BTC", paid_at=paid)
    doc = receipt(handoff(amount="0.0012345", currency="BTC"), facts, COMPANY, ISSUED)
    check_golden("receipt", text_of(render_pdf(doc)))


def test_credit_note_pdf_text() -> None:
    facts = InvoiceFacts("call-golden-1", Decimal("-5000.4"), "JPY", invoice_number="INV-2041")
    doc = credit_note(
        handoff(amount="-5000.4", currency="JPY", credit_request="Two days of outage"),
        facts,
        COMPANY,
        ISSUED,
    )
    check_golden("credit_note", text_of(render_pdf(doc)))


def test_same_document_same_bytes() -> None:
    facts = InvoiceFacts("call-golden-1", Decimal(10), "USD")
    doc = receipt(handoff(amount="10"), facts, COMPANY, ISSUED)
    assert render_pdf(doc) == render_pdf(doc)


@pytest.mark.parametrize(
    ("amount", "currency", "places", "shown"),
    [
        ("1234.5", "JPY", 0, "1,235 JPY"),
        ("1234.565", "USD", 2, "1,234.57 USD"),
        ("0.1", "BTC", 8, "0.10000000 BTC"),
        ("0.123456785", "BTC", 8, "0.12345679 BTC"),
        ("1.0005", "KWD", 3, "1.001 KWD"),
        ("-2.005", "EUR", 2, "-2.01 EUR"),
    ],
)
def test_rounding_per_currency(amount: str, currency: str, places: int, shown: str) -> None:
    assert decimals(currency) == places
    assert format_money(Decimal(amount), currency) == shown
    assert round_money(Decimal(amount), currency) == Decimal(shown.split()[0].replace(",", ""))


def test_emails_carry_customer_safe_fields_only() -> None:
    facts = InvoiceFacts(
        "call-golden-1", Decimal("99.999"), "USD", payment_url="https://plisio.net/invoice/6abc"
    )
    h = handoff(amount="99.999")
    sent = invoice_email(invoice(h, facts, COMPANY, ISSUED))
    assert sent.subject == "Invoice INV-call-golden-1 from Acme Finance Ltd: 100.00 USD"
    assert "https://plisio.net/invoice/6abc" in sent.body
    assert "Hello Zoë Müller" in sent.body
    back = receipt_email(receipt(h, facts, COMPANY, ISSUED), drive_url="https://drive.example/f")
    assert "attached" in back.body
    assert "https://drive.example/f" in back.body
    for email in (sent, back):
        for secret in INTERNAL:
            assert secret not in email.subject + email.body
