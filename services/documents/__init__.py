"""Customer documents: invoice, receipt and credit-note PDFs, and the emails that carry them.

Pure (no I/O, no clock): a ``Document`` is built from the suppressed handoff and the stored
invoice, then rendered to PDF bytes; email bodies come from templates that take customer-safe
fields only (never internal notes, findings, transcript or recording links).
"""

from __future__ import annotations

from services.documents.build import InvoiceFacts, credit_note, invoice, receipt
from services.documents.emails import Email, collections_email, invoice_email, receipt_email
from services.documents.model import Company, Document, DocumentKind, Line
from services.documents.money import decimals, format_money, round_money
from services.documents.pdf import render_pdf

__all__ = [
    "Company",
    "Document",
    "DocumentKind",
    "Email",
    "InvoiceFacts",
    "Line",
    "collections_email",
    "credit_note",
    "decimals",
    "format_money",
    "invoice",
    "invoice_email",
    "receipt",
    "receipt_email",
    "render_pdf",
    "round_money",
]
