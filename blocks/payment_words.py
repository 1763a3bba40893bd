"""An invoice's money in plain words: "Awaiting payment", "Underpaid: expected …", "Expired".

Statuses come from ``services.payments.PaymentState`` first, else the status Plisio reported, else
the bot's own "creating" / "failed"; Plisio's raw codes are never shown as words.
"""

from __future__ import annotations

from decimal import Decimal

from blocks.common import clip_mrkdwn, escape, format_money, link
from services.cards import HandoffCard, InvoiceInfo

__all__ = [
    "ALSO_OPEN",
    "INVOICE_STATUS_WORDS",
    "OVERPAID",
    "PAID",
    "PAYMENT_WORDS",
    "amounts",
    "invoice_ref",
    "invoice_word",
    "payment_line",
    "payment_word",
    "superseded_lines",
]

AWAITING = "🧾 *Awaiting payment* on {invoice}"
AWAITING_STATUS = "🧾 *{status}* on {invoice}"
UNDERPAID = (
    "⚠️ *Underpaid:* expected {expected}, received {received} · {invoice}"
    " · *Reissue*, or *Mark done* after review"
)
REVIEW_PAYMENT = "⚠️ *Payment needs review:* {reason} · {invoice} · not counted as paid"
EXPIRED = "⌛ *Expired* unpaid · {invoice} · use *Reissue* for a new one"
EXPIRED_PART = (
    "⌛ *Expired* part paid (received {received}) · {invoice} · use *Reissue* for a new one"
)
CANCELLED = "✖️ *Cancelled* · {invoice} · use *Reissue* for a new one"
PLISIO_ERROR = "⚠️ *Plisio reports an error* on {invoice} · use *Reissue* for a new one"
OTHER_STATUS = "🧾 *Unrecognised payment status* on {invoice} · check it in Plisio"
PAID = "✅ *Paid* {amount}on {invoice}"
OVERPAID = "⚠️ Overpaid: expected {expected}, received {received} · check before closing"
SUPERSEDED = "Replaced: {invoice} ({state})"
# A reissued invoice still open after an earlier one was paid after all.
ALSO_OPEN = "⚠️ Also issued: {invoice} ({state}) · cancel it in Plisio"
EARLIER_INVOICE, NEWER_INVOICE = "an earlier invoice", "a newer invoice"
# An invoice's status in plain words (services.payments.PaymentState first, else the status
# Plisio reported, else the bot's own "creating" / "failed"); never Plisio's raw codes.
PAYMENT_WORDS = {
    "awaiting": "Awaiting payment",
    "paid": "Paid",
    "overpaid": "Overpaid — check",
    "underpaid": "Underpaid",
    "review": "Held for review",
    "expired": "Expired",
    "cancelled": "Cancelled",
    "error": "Plisio error",
    "other": "Unrecognised status",
}
INVOICE_STATUS_WORDS = {
    "creating": "Creating invoice…",
    "failed": "Invoice failed",
    "new": "Awaiting payment",
    "pending": "Payment arriving",
    "pending internal": "Payment arriving",
    "completed": "Paid",
    "mismatch": "Held for review",
    "expired": "Expired",
    "cancelled": "Cancelled",
    "cancelled duplicate": "Cancelled",
    "error": "Plisio error",
}
INVOICE_LINK = "the invoice"  # not "Plisio invoice": that is the link button's name
INVOICE_PLAIN = "the invoice"
# Per-piece budgets that keep the whole state section under Slack's 3000 characters.
REASON_MAX = 500
INVOICE_URL_MAX = 1000


def invoice_ref(invoice: InvoiceInfo | None) -> str:
    """The invoice as a link in words; its ids are in the message's context line."""
    if invoice is not None and invoice.url and len(invoice.url) <= INVOICE_URL_MAX:
        return link(invoice.url, INVOICE_LINK)  # Plisio's URLs are ~60 chars
    return INVOICE_PLAIN


def invoice_word(invoice: InvoiceInfo) -> str:
    """An invoice's status in plain words: "Awaiting payment", "Underpaid", "Expired", ..."""
    if invoice.paid:
        return PAYMENT_WORDS["overpaid" if invoice.payment_state == "overpaid" else "paid"]
    if invoice.payment_state in PAYMENT_WORDS:
        return PAYMENT_WORDS[invoice.payment_state]
    return INVOICE_STATUS_WORDS.get(invoice.status.lower(), PAYMENT_WORDS["other"])


def payment_word(card: HandoffCard) -> str | None:
    """The current invoice's payment status in plain words, once Plisio has reported on it."""
    invoice = card.invoice
    if invoice is None or invoice.superseded:
        return None
    if not invoice.paid and invoice.payment_state is None:
        return None
    return invoice_word(invoice)


def payment_line(card: HandoffCard) -> str:
    """Where the invoice's money stands: awaiting, underpaid (with amounts), expired, ..."""
    invoice = card.invoice
    ref = invoice_ref(invoice)
    if invoice is None:
        return AWAITING.format(invoice=ref)
    state = invoice.payment_state
    if state == "underpaid":
        return UNDERPAID.format(invoice=ref, **amounts(invoice))
    if state == "review":
        reason = clip_mrkdwn(invoice.review_reason or "amounts differ", REASON_MAX)[0]
        return REVIEW_PAYMENT.format(reason=reason, invoice=ref)
    if state == "expired":
        received = _money(invoice.received, invoice.received_currency)
        if invoice.received and received:
            return EXPIRED_PART.format(received=received, invoice=ref)
        return EXPIRED.format(invoice=ref)
    if state == "cancelled":
        return CANCELLED.format(invoice=ref)
    if state == "error":
        return PLISIO_ERROR.format(invoice=ref)
    if state == "other":
        return OTHER_STATUS.format(invoice=ref)
    if invoice.status in {"new", "creating"}:
        return AWAITING.format(invoice=ref)
    return AWAITING_STATUS.format(invoice=ref, status=invoice_word(invoice))


def _money(amount: Decimal | None, currency: str | None) -> str | None:
    if amount is None:
        return None
    return format_money(amount, escape(currency or ""))


def amounts(invoice: InvoiceInfo) -> dict[str, str]:
    return {
        "expected": _money(invoice.expected, invoice.expected_currency) or "unknown",
        "received": _money(invoice.received, invoice.received_currency) or "nothing",
    }


def superseded_lines(card: HandoffCard) -> list[str]:
    lines = []
    for old in card.superseded_invoices[-3:]:  # the newest few; the thread has them all
        words = EARLIER_INVOICE if old.superseded else NEWER_INVOICE
        label = link(old.url, words) if old.url and len(old.url) <= INVOICE_URL_MAX else words
        template = SUPERSEDED if old.superseded else ALSO_OPEN
        lines.append(template.format(invoice=label, state=invoice_word(old)))
    return lines
