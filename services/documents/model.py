"""A customer document as data: who it is from and to, its lines and its money."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.documents.money import round_money

__all__ = ["Company", "Document", "DocumentKind", "Line"]


class DocumentKind(StrEnum):
    """The documents the bot renders; the values are Drive's ``appProperties.document``."""

    INVOICE = "invoice"
    RECEIPT = "receipt"
    CREDIT_NOTE = "credit_note"

    @property
    def heading(self) -> str:
        return {"invoice": "Invoice", "receipt": "Receipt", "credit_note": "Credit note"}[self]


@dataclass(frozen=True, slots=True)
class Company:
    """Who issues the documents (``COMPANY_NAME``, ``COMPANY_ADDRESS``)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    quantity: Decimal
    unit_amount: Decimal

    def amount(self, currency: str) -> Decimal:
        return round_money(self.quantity * self.unit_amount, currency)


@dataclass(frozen=True, slots=True)
class Document:
    """Everything printed on one document; customer-safe fields only."""

    kind: DocumentKind
    number: str  # the document's own number ("INV-…", "RCT-…", "CN-…")
    reference: str  # the order / invoice it belongs to
    issued_on: date
    company: Company
    customer_name: str
    customer_email: str | None
    customer_address: str | None
    currency: str
    lines: tuple[Line, ...]
    due_on: date | None = None
    payment_url: str | None = None  # invoices: the Plisio payment link
    paid_at: datetime | None = None  # receipts: when the payment was confirmed
    reason: str | None = None  # credit notes: what the credit is for

    @property
    def total(self) -> Decimal:
        return round_money(
            sum((line.amount(self.currency) for line in self.lines), Decimal(0)), self.currency
        )
