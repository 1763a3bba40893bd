"""What the customer and finance read about an invoice: its title, its summary, why it failed."""

from __future__ import annotations

from connectors.plisio.errors import PlisioAPIError
from services.cards import HandoffCard
from services.payment_provider import PaymentProviderError

__all__ = ["customer_order_name", "failure_reason", "invoice_description"]


def customer_order_name(card: HandoffCard) -> str:
    """What the paying customer sees as the invoice's title: no workflow label, no call id."""
    customer = card.handoff.customer
    billing = card.handoff.billing
    name = (customer.name or "").strip() if customer else ""
    number = (billing.invoice_number or "").strip() if billing else ""
    title = f"Invoice {number}" if number else "Invoice"
    return (f"{title} for {name}" if name else title)[:100]


def failure_reason(exc: PaymentProviderError) -> str:
    """Why creating an invoice failed, in words finance can act on."""
    reason = exc.message
    if (
        isinstance(exc, PlisioAPIError)
        and exc.http_status in (401, 403)
        and "/operations" in reason
    ):
        reason += (
            " — Plisio refused the order lookup: allow this server's address in Plisio's "
            "API settings (Request IP)"
        )
    return reason


def invoice_description(card: HandoffCard) -> str:
    """The short operational summary Plisio shows on the invoice."""
    handoff = card.handoff
    parts = [f"{card.workflow.value.replace('_', ' ').capitalize()} for call {card.call_id}."]
    if handoff.follow_up and handoff.follow_up.next_step:
        parts.append(handoff.follow_up.next_step.rstrip(".") + ".")
    else:
        parts.append(handoff.caller_request[:200].rstrip(".") + ".")
    if handoff.links and handoff.links.transcript_url:
        parts.append(f"Transcript: {handoff.links.transcript_url}")
    return " ".join(parts)[:500]
