"""Documents built from the suppressed handoff and its stored invoice.

Only fields a customer may see are read: the customer's name, email and billing address, the
invoice's number, amount, currency and payment link, dates, and a credit request's wording.
Findings, transcript, recording and CRM links, agent notes and review reasons are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from services.documents.model import Company, Document, DocumentKind, Line
from services.handoff_model import Handoff

__all__ = ["InvoiceFacts", "credit_note", "invoice", "receipt"]

NO_NAME = "Customer"


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    """The money side of a document: the Plisio invoice, or the handoff's billing fields."""

    order_number: str
    amount: Decimal
    currency: str
    payment_url: str | None = None
    paid_at: datetime | None = None
    invoice_number: str | None = None  # the customer's own invoice number, when DialNexa gave it


def _customer(handoff: Handoff) -> tuple[str, str | None, str | None]:
    customer = handoff.customer
    if customer is None:
        return NO_NAME, None, None
    address = customer.billing_address.one_line() if customer.billing_address else None
    email = str(customer.email) if customer.email else None
    return customer.name or NO_NAME, email, address or None


def _document(
    kind: DocumentKind,
    prefix: str,
    handoff: Handoff,
    facts: InvoiceFacts,
    company: Company,
    issued_on: date,
    description: str,
    **extra: object,
) -> Document:
    name, email, address = _customer(handoff)
    reference = facts.invoice_number or facts.order_number
    return Document(
        kind=kind,
        number=f"{prefix}-{facts.order_number}",
        reference=reference,
        issued_on=issued_on,
        company=company,
        customer_name=name,
        customer_email=email,
        customer_address=address,
        currency=facts.currency,
        lines=(Line(description, Decimal(1), abs(facts.amount)),),
        **extra,  # type: ignore[arg-type]
    )


def invoice(handoff: Handoff, facts: InvoiceFacts, company: Company, issued_on: date) -> Document:
    """The invoice for a Plisio invoice: amount due and the payment link."""
    due = handoff.billing.due_date if handoff.billing else None
    return _document(
        DocumentKind.INVOICE,
        "INV",
        handoff,
        facts,
        company,
        issued_on,
        f"Payment for order {facts.order_number}",
        due_on=due,
        payment_url=facts.payment_url,
    )


def receipt(handoff: Handoff, facts: InvoiceFacts, company: Company, issued_on: date) -> Document:
    """The receipt of a paid invoice."""
    return _document(
        DocumentKind.RECEIPT,
        "RCT",
        handoff,
        facts,
        company,
        issued_on,
        f"Payment received for {facts.invoice_number or 'order ' + facts.order_number}",
        paid_at=facts.paid_at,
    )


def credit_note(
    handoff: Handoff, facts: InvoiceFacts, company: Company, issued_on: date
) -> Document:
    """The credit note of an approved credit request (its amount shown as a credit)."""
    reason = handoff.billing.credit_request if handoff.billing else None
    return _document(
        DocumentKind.CREDIT_NOTE,
        "CN",
        handoff,
        facts,
        company,
        issued_on,
        f"Credit against {facts.invoice_number or 'order ' + facts.order_number}",
        reason=reason,
    )
