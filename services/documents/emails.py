"""Email templates for customers: customer-safe fields only.

A template sees a ``Document`` (already limited to what a customer may read) and, at most, a
link to the document's copy in Drive: never the handoff itself, so no internal note, finding,
transcript or recording link can reach a body. ``$`` placeholders (``string.Template``) keep
the wording readable and editable here.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from services.documents.model import Document
from services.documents.money import format_money
from services.handoff_model import Handoff

__all__ = ["Email", "collections_email", "invoice_email", "receipt_email"]

RECEIPT_SUBJECT = Template("Your receipt $number from $company")
RECEIPT_BODY = Template(
    """Hello $customer,

As requested, here is your receipt $number for $reference: $total, paid.
$attachment
If anything looks wrong, just reply to this email.

Kind regards,
$company
"""
)
INVOICE_SUBJECT = Template("Invoice $number from $company: $total")
INVOICE_BODY = Template(
    """Hello $customer,

Here is your invoice $number for $total.

You can pay it online here: $payment_url
$due
If you have any questions, just reply to this email.

Kind regards,
$company
"""
)
COLLECTIONS_SUBJECT = Template("A friendly reminder from $company")
COLLECTIONS_BODY = Template(
    """Hello $customer,

Our records show $balance on your account with us.$invoice
If you have already paid, thank you, and please ignore this email. If anything is unclear or
you would like to arrange payment differently, just reply to this email.

Kind regards,
$company
"""
)


@dataclass(frozen=True, slots=True)
class Email:
    """One email as its template made it (plain text)."""

    subject: str
    body: str


def _fields(document: Document) -> dict[str, str]:
    return {
        "customer": document.customer_name,
        "company": document.company.name,
        "number": document.number,
        "reference": document.reference,
        "total": format_money(document.total, document.currency),
    }


def receipt_email(document: Document, *, drive_url: str | None = None) -> Email:
    """The receipt resend: the PDF attached (and, when it is there, its Drive link)."""
    attachment = "The receipt is attached as a PDF."
    if drive_url:
        attachment += f" You can also open it here: {drive_url}"
    fields = {**_fields(document), "attachment": attachment + "\n"}
    return Email(RECEIPT_SUBJECT.substitute(fields), RECEIPT_BODY.substitute(fields))


def invoice_email(document: Document) -> Email:
    """An approved invoice with its payment link."""
    due = f"It is due on {document.due_on:%Y-%m-%d}.\n" if document.due_on else ""
    fields = {**_fields(document), "payment_url": document.payment_url or "", "due": due}
    return Email(INVOICE_SUBJECT.substitute(fields), INVOICE_BODY.substitute(fields))


def collections_email(handoff: Handoff, company: str) -> Email:
    """A collections follow-up, as the approver first sees it (they may edit the body).

    Customer-safe fields only: the customer's name, the amount and currency, the invoice
    number the customer gave. ``handoff`` is the suppressed handoff; nothing internal (notes,
    findings, transcript) is read.
    """
    customer = handoff.customer
    billing = handoff.billing
    amount = billing.amount_decimal if billing else None
    currency = billing.currency if billing else None
    balance = (
        f"an open balance of {format_money(amount, currency)}"
        if amount is not None and currency
        else "an open balance"
    )
    number = billing.invoice_number if billing else None
    fields = {
        "customer": (customer.name if customer else None) or "there",
        "company": company,
        "balance": balance,
        "invoice": f" It relates to invoice {number}." if number else "",
    }
    return Email(COLLECTIONS_SUBJECT.substitute(fields), COLLECTIONS_BODY.substitute(fields))
