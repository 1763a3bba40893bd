"""Answers to what people type to the bot: help, lists, confirmations, note receipts.

Pure builders: data and ``now`` in, ``{"text", "blocks"}`` out. Single handoffs are answered with
the ``/handoff`` builder (``blocks.status``), invoices with ``/invoice``'s (``blocks.invoices``)
and approvals with the handoff message itself (``blocks.handoff``), buttons included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from blocks.common import (
    JSON,
    MESSAGE_BLOCKS_MAX,
    button,
    context,
    escape,
    format_money,
    humanize_duration,
    section,
    slack_date,
)
from blocks.handoff import handoff_message
from blocks.handoff_state import WORKFLOW_LABELS
from blocks.ids import ActionId, InvoiceField
from blocks.status import STATUS_LABELS
from services.cards import HandoffCard
from services.home import HomeItem
from services.states import CLOSED

__all__ = [
    "HELP_PHRASES",
    "THREAD_PHRASES",
    "InvoicePrefill",
    "acted_message",
    "create_invoice_message",
    "decode_prefill",
    "encode_prefill",
    "help_message",
    "items_message",
    "money_message",
    "needs_handoff_message",
    "needs_person_message",
    "needs_time_message",
    "not_approver_message",
    "note_saved_message",
    "prefilled_invoice_form",
]

HELP_INTRO = "Here is what you can ask me, in your own words:"
NOT_UNDERSTOOD = "Sorry, I did not understand “{typed}”."
HELP_PHRASES = (
    ("what's overdue", "your handoffs past their deadline"),
    ("my queue", "your open handoffs"),
    ("waiting for me", "handoffs waiting for your approval"),
    ("status dnx_call_123", "one handoff, with its audit trail"),
    ("what's happening with Harbor & Finch", "a customer's handoffs"),
    ("invoices for ap@x.example", "a customer's Plisio invoices"),
)
THREAD_PHRASES = (
    ("snooze 2h · snooze until tomorrow 9am · remind me friday", "push the reminder"),
    ("assign @ben", "make someone else the owner"),
    ("done", "mark the handoff done"),
    ("anything else", "is saved as a note on the handoff"),
)
THREAD_TITLE = "*In a handoff's thread:*"
MONEY_NOTE = "Approving and invoicing are done with the buttons, never from a message."
LIST_EMPTY = "Nothing here. 🎉"
MORE = "…and {count} more"
OVERDUE = "⏰ overdue by {duration}"
DEADLINE = "deadline {when}"
APPROVE_INTRO = (
    "Approving moves money, so I never do it from a message: use the buttons below "
    "(Approve asks you to confirm, and a second approver is still needed where required)."
)
DECLINE_INTRO = "Declining needs a reason: use Decline below and say why."
INVOICE_INTRO = (
    "Invoices are only created through the form, so every request is approved by finance: "
    "open it below (or type `/invoice new`), check it and send it."
)
OPEN_FORM = "Open the invoice form"
INVOICE_DETAILS = "What I understood: {details}."
NEEDS_HANDOFF = (
    "Which handoff? Say it in the handoff's thread, or add its call ID (e.g. `{example}`)."
)
VIEWING = "In <#{channel}>, reply in the handoff's own thread."
NEEDS_TIME = "Until when? Try `snooze 2h`, `snooze until tomorrow 9am` or `remind me friday`."
NEEDS_PERSON = "Who should own it? Mention them, e.g. `assign @ben`."
NOT_APPROVER = "You are not an approver, so nothing waits for your approval."
SNOOZED = "Snoozed: I will remind the owner {when}."
ASSIGNED = "<@{user}> owns this handoff now."
DONE = "Marked done. Reminders are off."
REMOVED = "I removed {what} from your note before saving it."
SAVED = "Saved as a note on the handoff."
PROMPT = (
    "Tip: a billing note is most useful with *who* owns the next step and *by when* "
    "(who, what was agreed, amounts, next step, deadline), e.g. "
    "“@maria sends the revised invoice for 450 EUR by Friday”."
)
REMOVED_WORDS = {
    "card_number": "a card number",
    "bank_details": "bank details",
    "tax_identifier": "a tax identifier",
}
ITEMS_MAX = 20


def help_message(typed: str | None = None) -> JSON:
    """What the bot understands; ``typed`` when this answers something it did not."""
    lines = [f"• `{escape(p)}` — {escape(what)}" for p, what in HELP_PHRASES]
    thread = [f"• `{escape(p)}` — {escape(what)}" for p, what in THREAD_PHRASES]
    intro = HELP_INTRO
    if typed is not None:
        intro = NOT_UNDERSTOOD.format(typed=escape(typed[:80])) + " " + HELP_INTRO
    blocks = [
        section(intro + "\n" + "\n".join(lines)),
        section(THREAD_TITLE + "\n" + "\n".join(thread)),
        context(MONEY_NOTE),
    ]
    text = intro + " " + "; ".join(p for p, _ in HELP_PHRASES)
    return {"text": text, "blocks": blocks}


def _line(item: HomeItem, now: datetime) -> str:
    who = escape(item.customer or "unknown caller")
    head = f"*{escape(WORKFLOW_LABELS[item.workflow])} · {who}*"
    if item.amount is not None and item.currency:
        head += f" · {format_money(item.amount, escape(item.currency))}"
    facts = [escape(STATUS_LABELS.get(item.status.value, item.status.value))]
    if item.deadline is not None:
        facts.append(DEADLINE.format(when=slack_date(item.deadline)))
        if item.deadline < now and item.status not in CLOSED:
            facts.append(OVERDUE.format(duration=humanize_duration(now - item.deadline)))
    facts.append(f"`{escape(item.call_id)}`")
    return head + "\n" + " · ".join(facts)


def items_message(
    title: str, items: Sequence[HomeItem], *, total: int | None = None, now: datetime
) -> JSON:
    """A titled list of handoffs (overdue, my queue, waiting for me, a customer's)."""
    count = len(items) if total is None else total
    blocks: list[JSON] = [section(f"*{escape(title)}* · {count}")]
    shown = list(items)[:ITEMS_MAX]
    if not shown:
        blocks.append(context(LIST_EMPTY))
    blocks.extend(section(_line(item, now)) for item in shown)
    if count > len(shown):
        blocks.append(context(MORE.format(count=count - len(shown))))
    text = f"{title}: {count}"
    return {"text": text, "blocks": blocks[:MESSAGE_BLOCKS_MAX]}


def money_message(card: HandoffCard, *, decline: bool = False, now: datetime) -> JSON:
    """Approve / decline typed: the handoff message with its buttons, never an action."""
    message = handoff_message(card, now=now)
    intro = DECLINE_INTRO if decline else APPROVE_INTRO
    blocks = [section(intro), *message["blocks"]][:MESSAGE_BLOCKS_MAX]
    return {"text": f"{intro} {message['text']}"[:3000], "blocks": blocks}


InvoicePrefill = dict[str, str]  # email, amount, currency, call_id: what the form starts with
PREFILL_KEYS = ("email", "amount", "currency", "call_id")
PREFILL_MAX = 300  # characters per value; the button's value may hold 2000


def encode_prefill(
    *,
    email: str | None,
    amount: Decimal | None,
    currency: str | None,
    call_id: str | None = None,
) -> str:
    """What the Open-the-form button carries."""
    values = {"email": email, "amount": None if amount is None else str(amount)}
    values |= {"currency": currency, "call_id": call_id}
    return json.dumps({k: v[:PREFILL_MAX] for k, v in values.items() if v}, separators=(",", ":"))


def decode_prefill(value: str) -> InvoicePrefill:
    """The button's prefill; raises ``ValueError`` for a value the bot did not make (a forged
    or garbled click changes nothing, like every other button)."""
    try:
        data = json.loads(value)
    except ValueError:
        raise ValueError("the form button's value is not JSON") from None
    if not isinstance(data, dict) or not set(data) <= set(PREFILL_KEYS):
        raise ValueError("the form button's value is not a prefill")
    if not all(isinstance(v, str) and len(v) <= PREFILL_MAX for v in data.values()):
        raise ValueError("the form button's prefill holds something other than short text")
    return {k: str(data[k]) for k in PREFILL_KEYS if k in data}


def create_invoice_message(
    *,
    email: str | None,
    amount: Decimal | None,
    currency: str | None,
    call_id: str | None = None,
) -> JSON:
    """ "Create an invoice for …": the form (prefilled), never an invoice."""
    details = []
    if email:
        details.append(escape(email))
    if amount is not None and currency:
        details.append(format_money(amount, escape(currency)))
    text = INVOICE_INTRO
    if details:
        text += "\n" + INVOICE_DETAILS.format(details=", ".join(details))
    value = encode_prefill(email=email, amount=amount, currency=currency, call_id=call_id)
    open_form = button(OPEN_FORM, ActionId.OPEN_INVOICE_FORM.value, value=value, style="primary")
    blocks = [section(text), {"type": "actions", "elements": [open_form]}]
    return {"text": text, "blocks": blocks}


def _option(currency: str) -> JSON:
    return {"text": {"type": "plain_text", "text": currency}, "value": currency}


def prefilled_invoice_form(
    form: Mapping[str, Any], prefill: InvoicePrefill, currencies: Sequence[str]
) -> JSON:
    """The /invoice new form with what was typed already filled in (all still editable)."""
    view = json.loads(json.dumps(form))  # a deep copy: the builder's view stays untouched
    try:
        amount = f"{Decimal(prefill['amount']):.2f}" if "amount" in prefill else None
    except InvalidOperation:
        amount = None
    initial = {
        InvoiceField.EMAIL.value: prefill.get("email"),
        InvoiceField.AMOUNT.value: amount,
        InvoiceField.CALL_ID.value: prefill.get("call_id"),
    }
    currency = prefill.get("currency")
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        value = initial.get(block.get("block_id"))
        if value:
            element["initial_value"] = value
        if block.get("block_id") == InvoiceField.CURRENCY.value and currency in currencies:
            element["initial_option"] = _option(str(currency))
    return dict(view)


def needs_handoff_message(example: str = "dnx_call_123", *, viewing: str | None = None) -> JSON:
    """Which handoff? ``viewing``: the channel the person has open (the assistant's context)."""
    text = NEEDS_HANDOFF.format(example=escape(example))
    if viewing and viewing[:1] in {"C", "G"} and viewing.isalnum():
        text += " " + VIEWING.format(channel=viewing)
    return {"text": text, "blocks": [section(text)]}


def needs_time_message() -> JSON:
    return {"text": NEEDS_TIME, "blocks": [section(NEEDS_TIME)]}


def needs_person_message() -> JSON:
    return {"text": NEEDS_PERSON, "blocks": [section(NEEDS_PERSON)]}


def not_approver_message() -> JSON:
    return {"text": NOT_APPROVER, "blocks": [section(NOT_APPROVER)]}


def acted_message(action: str, *, until: datetime | None = None, user: str | None = None) -> JSON:
    """The confirmation of a typed snooze, assign or done (``action``: a permissions.Action)."""
    if action == "snooze" and until is not None:
        text = SNOOZED.format(when=slack_date(until))
    elif action == "reassign" and user is not None:
        text = ASSIGNED.format(user=escape(user))
    else:
        text = DONE
    return {"text": text, "blocks": [section(text)]}


def _removed(found: Iterable[str]) -> str:
    words = [REMOVED_WORDS.get(f, f.replace("_", " ")) for f in sorted(found)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def note_saved_message(removed: Iterable[str], *, prompt: bool) -> JSON | None:
    """What the bot says in the thread after a note: what it removed, and the tip once."""
    found = [f for f in removed if f in REMOVED_WORDS]
    lines = []
    if found:
        lines.append(REMOVED.format(what=_removed(found)))
    if prompt:
        lines.append(PROMPT if lines else SAVED + " " + PROMPT)
    if not lines:
        return None
    text = "\n".join(lines)
    return {"text": text, "blocks": [section(text)]}
