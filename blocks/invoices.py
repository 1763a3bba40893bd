"""Builders for Plisio invoice lists (/invoice <email>, receipt threads) and the /invoice modal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from blocks.common import SECTION_TEXT_MAX, clip_mrkdwn, escape
from blocks.ids import CallbackId, InvoiceField
from blocks.payment_words import INVOICE_STATUS_WORDS
from connectors.plisio.models import Operation

__all__ = [
    "FIAT_CURRENCIES",
    "MAX_LISTED",
    "invoice_list_message",
    "invoice_request_modal",
    "invoice_usage_message",
    "not_an_email",
    "plisio_unavailable_message",
]

MAX_LISTED = 10
# The fiat currencies offered in the /invoice new form (Plisio prices invoices in these).
FIAT_CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK", "PLN")

USAGE = (
    "*/invoice someone@example.com* — that customer's Plisio invoices\n"
    "*/invoice new* — request a new invoice (goes through finance approval)\n"
    "*/invoice help* — this message\n"
    "*/handoff <call ID>* — state, owner, deadline and audit trail of a call's handoff"
)
SANDBOX_NOTE = "SANDBOX — invoices here are not real"
STATUS_EMOJI = {
    "completed": "✅",
    "mismatch": "⚠️",
    "new": "🕓",
    "pending": "⏳",
    "pending internal": "⏳",
    "expired": "⌛",
    "cancelled": "✖️",
    "cancelled duplicate": "✖️",
    "error": "⚠️",
}


# Plisio calls a mismatch overpaid, but it is also what an underpayment looks like: the list
# cannot compare amounts, so it says to check rather than "paid".
LIST_WORDS = {"mismatch": "Amount differs from the invoice — check it"}
UNRECOGNISED = "Unrecognised status ({code})"


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "amount unknown"
    return f"{amount:,.2f} {currency or ''}".strip()


def _date(at: datetime | None) -> str:
    if at is None:
        return "unknown date"
    return f"<!date^{int(at.timestamp())}^{{date_short}}|{at:%Y-%m-%d}>"


def _line(op: Operation) -> str:
    amount = (
        _money(op.source_amount, op.source_currency)
        if op.source_amount is not None
        else _money(op.amount, op.currency or op.psys_cid)
    )
    status = op.status
    badge = STATUS_EMOJI.get(status, "•")
    word = LIST_WORDS.get(status) or INVOICE_STATUS_WORDS.get(status)
    # In words; only a status Plisio has not documented shows its code, being all there is.
    shown = word or UNRECOGNISED.format(code=clip_mrkdwn(status, 40, inert=True)[0])
    label = f"<{op.invoice_url}|{escape(op.id)}>" if op.invoice_url else f"`{escape(op.id)}`"
    order = f" · order `{escape(op.params.order_number)}`" if op.params.order_number else ""
    return f"{badge} *{shown}* · {amount} · {_date(op.created_at)} · {label}{order}"


def invoice_list_message(
    *,
    email: str | None,
    invoices: Sequence[Operation],
    verified: bool = True,
    sandbox: bool = False,
    platform_url: str | None = None,
) -> dict[str, Any]:
    """A list of at most ten invoices, newest first, with a note when there are more."""
    if not email:
        text = "No customer email on this handoff, so no Plisio invoices could be looked up."
        return {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
    shown = list(invoices)[:MAX_LISTED]
    who = escape(email)
    if not shown:
        text = f"No Plisio invoices found for {email}."
        blocks: list[dict[str, Any]] = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"No Plisio invoices found for *{who}*."},
            }
        ]
    else:
        text = f"{len(invoices)} Plisio invoice(s) for {email}"
        body = "\n".join(_line(op) for op in shown)
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Plisio invoices for {who}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:SECTION_TEXT_MAX]}},
        ]
        if len(invoices) > MAX_LISTED:
            more = f"{len(invoices) - MAX_LISTED} more in Plisio"
            if platform_url:
                more = f"<{platform_url}|{more}>"
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    notes = []
    if not verified:
        notes.append(
            "⚠️ This email is not verified: confirm the caller's identity before sending anything to it."
        )
    if sandbox:
        notes.append(SANDBOX_NOTE)
    if notes:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": n} for n in notes]}
        )
    return {"text": text, "blocks": blocks}


def invoice_usage_message(problem: str | None = None) -> dict[str, Any]:
    """How to use /invoice, optionally after saying what was wrong (``problem`` is mrkdwn the
    caller has made safe; see ``not_an_email``)."""
    text = f"{problem}\n\n{USAGE}" if problem else USAGE
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def not_an_email(typed: str) -> str:
    """The /invoice complaint about text that is not an email, quoting it inert."""
    return f"“{clip_mrkdwn(typed, 100, inert=True)[0]}” is not an email address."


def plisio_unavailable_message(email: str) -> dict[str, Any]:
    """Plisio could not be reached for a lookup."""
    text = (
        f"Plisio did not answer while looking up invoices for {email}. "
        "Nothing was changed; try again in a minute."
    )
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}],
    }


def _input(
    field: InvoiceField,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.value,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": f"{field.value}_input"},
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def invoice_request_modal(currencies: Sequence[str]) -> dict[str, Any]:
    """The /invoice new form; the request then goes through finance approval."""
    return {
        "type": "modal",
        "callback_id": CallbackId.INVOICE_NEW_MODAL.value,
        "title": {"type": "plain_text", "text": "Request an invoice"},
        "submit": {"type": "plain_text", "text": "Send for approval"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Finance approves the request before the Plisio invoice is created. "
                    "You cannot approve your own request.",
                },
            },
            _input(InvoiceField.EMAIL, "Customer email", {"type": "email_text_input"}),
            _input(
                InvoiceField.AMOUNT,
                "Amount",
                {
                    "type": "plain_text_input",
                    "placeholder": {"type": "plain_text", "text": "1250.00"},
                },
            ),
            _input(
                InvoiceField.CURRENCY,
                "Currency",
                {
                    "type": "static_select",
                    "options": [
                        {"text": {"type": "plain_text", "text": c}, "value": c} for c in currencies
                    ],
                    "initial_option": {
                        "text": {"type": "plain_text", "text": currencies[0]},
                        "value": currencies[0],
                    },
                },
            ),
            _input(
                InvoiceField.DESCRIPTION,
                "What is it for?",
                {"type": "plain_text_input", "multiline": True, "max_length": 500},
            ),
            _input(
                InvoiceField.CALL_ID,
                "DialNexa call ID",
                {"type": "plain_text_input", "max_length": 128},
                optional=True,
                hint="Links the request to that call's handoff, which must exist already; "
                "leave empty for a standalone request.",
            ),
        ],
    }
