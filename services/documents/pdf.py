"""One ``Document`` as PDF bytes, drawn with fpdf2 (pure Python, no system libraries).

The PDF uses the core Helvetica font so the output needs no font files and is the same on every
machine; text outside Latin-1 is written with its closest Latin-1 spelling (accents kept where
Latin-1 has them, others dropped to their base letter, anything else as ``?``). The file's
creation date is the document's issue date, so the same document renders to the same bytes.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, time

from fpdf import FPDF

from services.documents.model import Document, DocumentKind
from services.documents.money import format_money

__all__ = ["render_pdf"]

MARGIN = 18
WIDTH = 210 - 2 * MARGIN  # A4, millimetres


def latin1(text: str) -> str:
    """``text`` as the core PDF fonts can draw it."""
    out = []
    for char in text:
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _status(document: Document) -> str | None:
    if document.kind is DocumentKind.RECEIPT:
        when = f" on {document.paid_at:%Y-%m-%d %H:%M} UTC" if document.paid_at else ""
        return f"Status: PAID{when}"
    if document.kind is DocumentKind.INVOICE:
        return "Status: awaiting payment"
    return "Status: credit issued"


def render_pdf(document: Document) -> bytes:
    """The document as a one-page (or longer) A4 PDF."""
    pdf = FPDF(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN)
    issued = datetime.combine(document.issued_on, time(0), tzinfo=UTC)
    pdf.set_creation_date(issued)
    pdf.set_title(latin1(f"{document.kind.heading} {document.number}"))
    pdf.set_author(latin1(document.company.name))
    pdf.add_page()

    def line(text: str, size: float = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(WIDTH, height, latin1(text), new_x="LMARGIN", new_y="NEXT")

    line(document.company.name, 14, "B", 7)
    line(document.company.address)
    pdf.ln(6)
    line(document.kind.heading.upper(), 18, "B", 9)
    line(f"Number: {document.number}")
    line(f"Reference: {document.reference}")
    line(f"Date: {document.issued_on:%Y-%m-%d}")
    if document.due_on is not None:
        line(f"Due: {document.due_on:%Y-%m-%d}")
    pdf.ln(4)
    line("Bill to", 10, "B")
    line(document.customer_name)
    if document.customer_address:
        line(document.customer_address)
    if document.customer_email:
        line(document.customer_email)
    pdf.ln(6)

    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(WIDTH - 70, 7, "Description", border="B")
    pdf.cell(20, 7, "Qty", border="B", align="R")
    pdf.cell(50, 7, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for item in document.lines:
        pdf.cell(WIDTH - 70, 7, latin1(item.description))
        pdf.cell(20, 7, f"{item.quantity:f}", align="R")
        amount = format_money(item.amount(document.currency), document.currency)
        pdf.cell(50, 7, amount, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 11)
    label = "Total credited" if document.kind is DocumentKind.CREDIT_NOTE else "Total"
    pdf.cell(WIDTH - 50, 8, label, border="T")
    total = format_money(document.total, document.currency)
    pdf.cell(50, 8, total, border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    status = _status(document)
    if status:
        line(status, 10, "B")
    if document.reason:
        line(f"Reason: {document.reason}")
    if document.payment_url:
        line("Pay online:")
        pdf.set_font("Helvetica", "U", 10)
        pdf.set_text_color(0, 0, 200)
        pdf.multi_cell(
            WIDTH, 5.5, latin1(document.payment_url), link=document.payment_url, new_x="LMARGIN"
        )
    return bytes(pdf.output())
