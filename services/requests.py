"""Invoice requests typed into Slack (/invoice new): validated, then handled like a handoff.

A request becomes a ``create_invoice`` handoff with the requester recorded, so it goes through
exactly the same routing, approvals (approvers, two-person threshold) and Plisio path; the only
extra rule is that a requester may not approve their own request.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email

from services.handoff_model import ACCEPTED_CURRENCIES, CALL_ID_PATTERN, Handoff

__all__ = [
    "REQUEST_ID_PREFIX",
    "InvoiceRequest",
    "RequestErrors",
    "build_request_handoff",
    "is_request_id",
    "new_request_id",
    "validate_request",
]

# Slack requests' own ID space. DialNexa owns call IDs: a request never takes one (that would
# answer DialNexa's real handoff for the call "duplicate" and drop it). Intake refuses DialNexa
# call IDs with this prefix, so the two spaces cannot meet; the request ID is also the Plisio
# order_number of the request's invoice, unique like every handoff's call_id.
REQUEST_ID_PREFIX = "slack_req:"

MAX_DESCRIPTION = 500
MAX_AMOUNT = Decimal("999999999999")


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    email: str
    amount: Decimal
    currency: str
    description: str
    call_id: str | None


RequestErrors = dict[str, str]  # form field -> what is wrong


def validate_request(
    *,
    email: str | None,
    amount: str | None,
    currency: str | None,
    description: str | None,
    call_id: str | None,
    currencies: tuple[str, ...],
) -> InvoiceRequest | RequestErrors:
    """The checked request, or the error to show beside each bad field."""
    errors: RequestErrors = {}
    clean_email = ""
    try:
        clean_email = validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors["email"] = f"Enter a valid email address ({exc})."[:150]
    value = Decimal(0)
    text = (amount or "").strip().replace(",", "")
    try:
        value = Decimal(text)
        if not value.is_finite() or value <= 0:
            errors["amount"] = "Enter an amount greater than zero, e.g. 1250.00."
        elif value > MAX_AMOUNT:
            errors["amount"] = "That amount is too large."
        elif value.as_tuple().exponent < -2:  # type: ignore[operator]
            errors["amount"] = "Use at most two decimal places."
    except InvalidOperation:
        errors["amount"] = "Enter a number, e.g. 1250.00."
    # Offered in the form and accepted at intake: the same currency rule as DialNexa handoffs.
    if currency not in currencies or currency not in ACCEPTED_CURRENCIES:
        errors["currency"] = "Choose a currency from the list."
    desc = (description or "").strip()
    if not desc:
        errors["description"] = "Say what the invoice is for."
    elif len(desc) > MAX_DESCRIPTION:
        errors["description"] = f"Keep it under {MAX_DESCRIPTION} characters."
    call = (call_id or "").strip() or None
    if call is not None and not re.fullmatch(CALL_ID_PATTERN, call):
        errors["call_id"] = "Call IDs are letters, digits and _ . : - (at most 128)."
    if errors:
        return errors
    return InvoiceRequest(clean_email, value.quantize(Decimal("0.01")), str(currency), desc, call)


# The random part is drawn from letters only: hex digits could, by chance, line up into a run
# that suppression reads as a card number, and an ID holding one is refused like any call ID.
_REQUEST_ID_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def new_request_id() -> str:
    """A fresh ID for a Slack request, in the space DialNexa call IDs can never use."""
    return f"{REQUEST_ID_PREFIX}{uuid.uuid4().hex.translate(_REQUEST_ID_LETTERS)}"


def is_request_id(call_id: str) -> bool:
    """Whether ``call_id`` is in the Slack requests' ID space."""
    return call_id.startswith(REQUEST_ID_PREFIX)


def build_request_handoff(request: InvoiceRequest, *, requester: str, now: datetime) -> Handoff:
    """The handoff a request stands for, under its own request ID; a call ID named in the form
    (already checked to be a stored handoff) is recorded as the affected record it is about."""
    linked = (
        {"system": "dialnexa", "object": "call", "id": request.call_id}
        if request.call_id
        else {"system": "plisio", "object": "invoice"}
    )
    findings = "Requested in Slack with /invoice new." + (
        f" About DialNexa call {request.call_id}." if request.call_id else ""
    )
    return Handoff.model_validate(
        {
            "schema_version": "1",
            "call_id": new_request_id(),
            "occurred_at": now.isoformat(),
            "workflow": "create_invoice",
            "urgency": "normal",
            "caller_request": request.description,
            "findings": findings,
            # Typed by a finance colleague, not heard on a call: the email is taken as checked.
            "customer": {"email": request.email, "email_verified": True},
            "billing": {
                "amount": format(request.amount, "f"),
                "currency": request.currency,
                "payment_status": "unpaid",
            },
            "follow_up": {
                "finance_owner": requester,
                "next_step": "Send the approved invoice to the customer",
            },
            "affected_record": linked,
        }
    )
