"""What the bot writes on a Zendesk ticket: the first private comment and one note per decision.

Every text ends with ``[finance-bot ref <event key>]``: a retry after a lost answer reads the
ticket's comments and finds the note it already wrote. Everything comes from the suppressed
handoff and is suppressed once more on the way out (``services.redaction``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.events import BOT, PLISIO, Event, EventType
from services.handoff_model import Handoff, Workflow
from services.notes import money
from services.redaction import redact_text

__all__ = [
    "MARKED",
    "TicketFacts",
    "decision_note",
    "has_marker",
    "marker",
    "subject",
    "summary",
    "workflow_label",
]

PRIVATE = "Private note from the finance bot (the customer does not see it)."
TEXT_MAX = 2000  # a caller's words or a reason as a note quotes them


MARKED = "[finance-bot ref "  # how every note of the bot's ends


def marker(event_key: str) -> str:
    """The line that names the event a note was written for."""
    return f"{MARKED}{event_key}]"


def has_marker(body: str, event_key: str) -> bool:
    return marker(event_key) in body


def workflow_label(workflow: Workflow) -> str:
    """``tax_or_billing_address_correction`` as "Tax or billing address correction"."""
    return workflow.value.replace("_", " ").capitalize()


def _clean(text: str) -> str:
    """Suppressed again: nothing a card number or bank detail looks like leaves the bot."""
    return redact_text(text).text


def _clip(value: object) -> str:
    text = str(value).strip()
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the first comment says besides the handoff itself (from the handoff's row)."""

    owner: str | None
    amount: str | None
    currency: str | None
    permalink: str | None


def subject(handoff: Handoff) -> str:
    customer = handoff.customer
    who = (customer.name or customer.email) if customer else None
    title = workflow_label(handoff.effective_workflow)
    return _clean(f"{title}: {who}" if who else f"{title} (DialNexa call {handoff.call_id})")


def summary(handoff: Handoff, facts: TicketFacts, event_key: str) -> str:
    """The first private comment: the operational summary, the Slack message, the transcript."""
    lines = [
        f"Finance handoff from DialNexa call {handoff.call_id}.",
        f"Workflow: {workflow_label(handoff.effective_workflow)}",
    ]
    customer = handoff.customer
    if customer is not None:
        who = " ".join(
            p for p in (customer.name, f"<{customer.email}>" if customer.email else None) if p
        )
        if customer.account_id:
            who += f" · account {customer.account_id}"
        lines.append(f"Customer: {who}")
    if facts.amount is not None:
        amount = money(facts.amount, facts.currency)
        invoice = handoff.billing.invoice_number if handoff.billing else None
        lines.append(f"Amount: {amount}" + (f" · invoice {invoice}" if invoice else ""))
    lines.append(f"Caller asked: {_clip(handoff.caller_request)}")
    if handoff.findings:
        lines.append(f"Findings: {_clip(handoff.findings)}")
    follow_up = handoff.follow_up
    if follow_up is not None and follow_up.next_step:
        lines.append(f"Next step: {_clip(follow_up.next_step)}")
    lines.append(f"Owner: {facts.owner or 'not assigned yet'}")
    if follow_up is not None and follow_up.deadline is not None:
        lines.append(f"Deadline: {follow_up.deadline.isoformat()}")
    if facts.permalink:
        lines.append(f"Slack: {facts.permalink}")
    links = handoff.links
    if links is not None and links.transcript_url is not None:
        lines.append(f"Transcript: {links.transcript_url}")
    lines += ["", PRIVATE]
    # The marker is added after suppression: a retry must find it exactly as written.
    return _clean("\n".join(lines)) + "\n" + marker(event_key)


def _by(actor: str) -> str:
    if actor == PLISIO:
        return " (reported by Plisio)"
    if actor == BOT or not actor:
        return ""
    return f" (by Slack user {actor})"


def _payment(detail: Mapping[str, Any]) -> str:
    state = detail.get("state")
    amounts = (
        f"expected {money(detail.get('expected'), detail.get('expected_currency'))}, "
        f"received {money(detail.get('received'), detail.get('received_currency'))}"
    )
    if state == "underpaid":
        return f"The invoice was underpaid: {amounts}. Finance will follow up."
    if state == "overpaid":
        return f"The invoice was overpaid: {amounts}. Finance will check it."
    reason = detail.get("reason")
    return "The payment needs a finance review" + (f": {_clip(reason)}" if reason else ".")


def decision_note(event: Event) -> str | None:
    """The private note of a later decision, or None for an event that gets none."""
    detail = event.detail
    text: str | None
    match event.type:
        case EventType.APPROVED:
            approval, of = int(detail.get("approval", 1)), int(detail.get("of", 1))
            text = (
                f"Finance approval {approval} of {of} recorded; waiting for a second approver."
                if approval < of
                else "Finance approved this request."
            )
            if detail.get("identity_confirmed"):
                text += " The caller's identity was confirmed."
        case EventType.DECLINED:
            text = (
                f"Finance declined this request: {_clip(detail.get('reason') or 'no reason given')}"
            )
        case EventType.ESCALATED:
            text = f"Finance escalated this request: {_clip(detail.get('reason') or 'no reason given')}"
        case EventType.REASSIGNED:
            text = f"The finance follow-up was reassigned to Slack user {detail.get('to')}."
        case EventType.INVOICE_CREATED:
            url = detail.get("url")
            text = "A Plisio invoice was created" + (f": {url}" if url else ".")
        case EventType.PAID:
            text = "The invoice was paid."
        case EventType.MISMATCH:
            text = _payment(detail)
        case EventType.NOTE_ADDED:
            note = detail.get("note")
            if not note:
                return None
            text = f"Finance note: {_clip(note)}"
        case EventType.DONE:
            text = "Finance marked this follow-up done."
        case _:
            return None
    return _clean(f"{text}{_by(event.actor)}\n\n{PRIVATE}") + "\n" + marker(event.key)
