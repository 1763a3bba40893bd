"""What a document is made of: the suppressed handoff and its newest invoice, read once.

Shared by the Drive connector (which stores the PDFs) and the Gmail connector (which attaches
them), so both render the same document for the same call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.settings import Settings
from services.db.engine import Database
from services.db.models import HandoffRow, InvoiceRow
from services.documents import (
    Company,
    Document,
    DocumentKind,
    InvoiceFacts,
    credit_note,
    invoice,
    receipt,
)
from services.handoff_model import Handoff

__all__ = ["Source", "company", "customer_folder_name", "load"]

_BUILDERS = {
    DocumentKind.INVOICE: invoice,
    DocumentKind.RECEIPT: receipt,
    DocumentKind.CREDIT_NOTE: credit_note,
}


def company(settings: Settings) -> Company:
    return Company(settings.company_name, settings.company_address)


@dataclass(frozen=True, slots=True)
class Source:
    """One handoff as documents see it."""

    handoff_id: str
    handoff: Handoff
    workflow: str
    email_verified: bool
    context: dict[str, Any]
    invoice: InvoiceFacts | None

    @property
    def call_id(self) -> str:
        return self.handoff.call_id

    def document(self, kind: DocumentKind, company: Company, issued_on: date) -> Document | None:
        """The document of ``kind``, or None when there is no money to put on it."""
        if self.invoice is None:
            return None
        return _BUILDERS[kind](self.handoff, self.invoice, company, issued_on)


def _facts(handoff: Handoff, row: InvoiceRow | None) -> InvoiceFacts | None:
    number = handoff.billing.invoice_number if handoff.billing else None
    if row is not None:
        return InvoiceFacts(
            order_number=row.order_number,
            amount=row.amount,
            currency=row.currency,
            payment_url=row.invoice_url,
            paid_at=row.paid_at,
            invoice_number=number,
        )
    billing = handoff.billing
    if billing is None or billing.amount_decimal is None or billing.currency is None:
        return None
    return InvoiceFacts(
        order_number=handoff.call_id,
        amount=billing.amount_decimal,
        currency=billing.currency,
        invoice_number=number,
    )


async def load(db: Database, handoff_id: str) -> Source | None:
    """The handoff (already suppressed) and its newest current invoice, or None."""
    async with db.sessions() as session:
        row = await session.get(HandoffRow, handoff_id)
        if row is None:
            return None
        invoice_row = await session.scalar(
            select(InvoiceRow)
            .where(InvoiceRow.handoff_id == handoff_id, InvoiceRow.superseded_at.is_(None))
            .order_by(InvoiceRow.id.desc())
            .limit(1)
        )
        handoff = Handoff.model_validate(row.payload)
        number = handoff.billing.invoice_number if handoff.billing else None
        email = handoff.customer.email if handoff.customer else None
        if invoice_row is None and number and email:
            # A receipt resend names an invoice an earlier call's approval created: used only
            # when it was made out to this same customer email.
            invoice_row = await session.scalar(
                select(InvoiceRow)
                .where(InvoiceRow.order_number == number, InvoiceRow.email == str(email))
                .limit(1)
            )
        return Source(
            handoff_id=row.id,
            handoff=handoff,
            workflow=row.workflow,
            email_verified=row.email_verified,
            context=dict(row.context or {}),
            invoice=_facts(handoff, invoice_row),
        )


def customer_folder_name(handoff: Handoff) -> str:
    """The customer's subfolder: their name and account id, else their email, else the call."""
    customer = handoff.customer
    if customer is None:
        return f"Unknown customer ({handoff.call_id})"
    name = customer.name or (str(customer.email) if customer.email else None)
    if name and customer.account_id:
        return f"{name} ({customer.account_id})"
    return name or customer.account_id or f"Unknown customer ({handoff.call_id})"
