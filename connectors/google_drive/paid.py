"""What a receipt resend is a receipt *of*: the payment that already happened.

A receipt resend carries no new money: the caller wants the receipt of something they paid. In
this order, the first that answers wins:

1. the bot's own record of that invoice, when it is paid (``Source.invoice`` with ``paid_at``:
   an invoice an earlier call's approval created, made out to this same email);
2. the handoff's ``billing`` amount and currency (DialNexa heard what was paid), with its invoice
   number as the reference;
3. the customer's Plisio invoices, through the bot's Plisio look-up (``InvoiceLookup``: invoices
   made out to this email, so a payment of someone else never lands in this customer's mailbox):
   the **completed** one the handoff names (``billing.invoice_number`` or ``billing.payment_id``,
   matched against Plisio's order number and transaction id), or, when it names none, the latest
   completed one.

``mismatch`` is not paid here: Plisio's word alone does not say the full amount arrived, and a
receipt says PAID. When the handoff names an invoice that is not among the completed ones, nothing
is picked in its place: the receipt of another payment would be wrong.

Shared by the Drive connector (which stores the receipt) and the Gmail connector (which emails
it): both ask the same look-up (cached for a few seconds per email), so both render the same
receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from connectors.base import GiveUp, Result, RetryAfter
from connectors.google_drive.source import Source
from connectors.plisio.errors import PlisioError
from connectors.plisio.models import Operation
from services.documents import InvoiceFacts

__all__ = ["InvoicesByEmail", "Paid", "paid_for_receipt", "plisio_result"]

COMPLETED = "completed"
PLISIO_RETRY = 30.0  # seconds before asking Plisio again when it gave no Retry-After


class InvoicesByEmail(Protocol):
    """The part of ``connectors.plisio.InvoiceLookup`` used here."""

    async def invoices_for_email(self, email: str) -> list[Operation]: ...


@dataclass(frozen=True, slots=True)
class Paid:
    """What was paid (``facts``), or why nothing was found (``missing``, for the thread)."""

    facts: InvoiceFacts | None
    missing: str | None = None


def _named(source: Source) -> tuple[str, ...]:
    billing = source.handoff.billing
    if billing is None:
        return ()
    return tuple(ref for ref in (billing.invoice_number, billing.payment_id) if ref)


def _facts(operation: Operation) -> InvoiceFacts | None:
    # What the shop priced it in (source_amount/currency, e.g. 89.00 USD); else the crypto sum.
    amount = operation.source_amount if operation.source_currency else operation.amount
    currency = operation.source_currency or operation.currency
    if amount is None or not currency:
        return None
    order = operation.order_number or operation.id
    return InvoiceFacts(
        order_number=order,
        amount=amount,
        currency=currency.upper(),
        paid_at=operation.finished_at,
        invoice_number=operation.order_number,
    )


def _paid_at_key(operation: Operation) -> float:
    at = operation.finished_at or operation.created_at
    return at.timestamp() if at else float("-inf")


async def paid_for_receipt(source: Source, lookup: InvoicesByEmail | None) -> Paid:
    """The payment ``source``'s receipt resend is about (see the module's order).

    Plisio errors propagate (``PlisioError``; the caller maps them to a retry or a refusal).
    """
    own = source.invoice
    if own is not None and own.paid_at is not None:
        return Paid(own)
    billing = source.handoff.billing
    if billing is not None and billing.amount_decimal is not None and billing.currency:
        return Paid(
            InvoiceFacts(
                order_number=billing.invoice_number or source.call_id,
                amount=billing.amount_decimal,
                currency=billing.currency,
                invoice_number=billing.invoice_number,
            )
        )
    customer = source.handoff.customer
    email = str(customer.email) if customer and customer.email else None
    named = _named(source)
    what = f"invoice {' / '.join(named)}" if named else "payment"
    if email is None:
        return Paid(None, f"no paid {what} found: the handoff has no customer email")
    if lookup is None:
        return Paid(None, f"no paid {what} found: no amount on the handoff and Plisio is off")
    completed = [
        op
        for op in await lookup.invoices_for_email(email)
        if op.status.strip().lower() == COMPLETED
    ]
    if named:
        completed = [op for op in completed if op.id in named or op.order_number in named]
    for operation in sorted(completed, key=_paid_at_key, reverse=True):
        facts = _facts(operation)
        if facts is not None:
            return Paid(facts)
    return Paid(None, f"no paid {what} found for {email} in Plisio")


def plisio_result(error: PlisioError) -> Result:
    """A failed look-up: retried later when repeating may help (5xx, 429, timeouts), else
    refused with Plisio's reason."""
    if error.retryable:
        wait = getattr(error, "retry_after", None) or PLISIO_RETRY
        return RetryAfter(float(wait), f"Plisio look-up of the paid invoice failed: {error}")
    return GiveUp(f"Plisio refused the look-up of the paid invoice: {error}")
