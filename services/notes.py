"""Which events a handoff's thread is told about, as data: the note's name, actor, time, detail.

``note_for`` is the one mapping from a domain event to its thread note. The event log queues the
note's work (``OutboxKind.THREAD_NOTE``, keyed ``note:{event key}``) in the same transaction as
the event, so a note can neither be lost in a crash between the decision and the post nor be
posted twice; the Slack adapter renders the ``NoteSpec`` with ``blocks.audit.thread_note``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.events import Event, EventType
from services.systems import system_name

__all__ = [
    "APPROVED_FOR",
    "APPROVED_PARTLY",
    "APPROVED_PARTLY_FOR",
    "CONNECTOR_FAILED_NOTE",
    "IDENTITY_CONFIRMED",
    "LINKED_NOTE",
    "NoteSpec",
    "money",
    "note_for",
    "note_key",
]

APPROVED_PARTLY = "approved_partly"  # the note of an approval that still needs another
APPROVED_FOR = "approved_for"  # a delegate's final approval for an away approver
APPROVED_PARTLY_FOR = "approved_partly_for"  # a delegate's first of two
IDENTITY_CONFIRMED = "identity confirmed by the approver"
CONNECTOR_FAILED_NOTE = EventType.CONNECTOR_FAILED.value  # detail: "System: what went wrong"
LINKED_NOTE = EventType.EXTERNAL_LINKED.value  # detail: "<url> <label>" or "<label>"

# Events whose note says only who did it (and the Plisio ones: what Plisio concluded).
_PLAIN_PAYMENTS = {EventType.PAID: "paid", EventType.EXPIRED: "expired"}
_PLAIN_PAYMENTS[EventType.CANCELLED] = "cancelled"


@dataclass(frozen=True, slots=True)
class NoteSpec:
    """One thread note: ``action`` names its template (``blocks.audit.NOTES``)."""

    action: str
    actor: str
    at: datetime
    detail: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "detail": self.detail,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> NoteSpec:
        detail = data.get("detail")
        return cls(
            action=str(data["action"]),
            actor=str(data["actor"]),
            at=datetime.fromisoformat(str(data["at"])),
            detail=None if detail is None else str(detail),
        )


def note_key(event: Event) -> str:
    """The key of an event's note: its outbox key and the key in its Slack metadata."""
    return f"note:{event.key}"


def money(amount: object, currency: object) -> str:
    """An amount as a note shows it, exactly as stored ("nothing" when none arrived)."""
    if amount is None:
        return "nothing"
    return f"{amount} {currency or ''}".strip()


def _payment(event: Event) -> NoteSpec:
    detail = event.detail
    state = detail.get("state")
    if state in {"underpaid", "overpaid"}:
        amounts = (
            f"expected {money(detail.get('expected'), detail.get('expected_currency'))}, "
            f"received {money(detail.get('received'), detail.get('received_currency'))}"
        )
        if state == "underpaid":
            return NoteSpec("mismatch", event.actor, event.at, f"underpaid — {amounts}")
        return NoteSpec("paid", event.actor, event.at, f"Overpaid ({amounts}): check it.")
    if state == "review":
        return NoteSpec("mismatch", event.actor, event.at, _text(detail.get("reason")))
    plain = _PLAIN_PAYMENTS.get(event.type)
    if plain is not None:
        return NoteSpec(plain, event.actor, event.at)
    return NoteSpec("payment_status", event.actor, event.at, _text(detail.get("status")))


def _linked(detail: Mapping[str, Any]) -> str:
    """``"<url> Zendesk ticket #123"`` (the url first, when there is one)."""
    system = system_name(str(detail.get("connector") or ""))
    label = detail.get("label") or f"{detail.get('kind') or 'record'} {detail.get('id') or ''}"
    name = f"{system} {str(label).strip()}"
    url = detail.get("url")
    return (
        f"{url} {name}"
        if isinstance(url, str) and url.startswith(("https://", "http://"))
        else name
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _refund_money(detail: Mapping[str, Any]) -> str:
    """``49.00 USD``, and Stripe's refund id when there is one: ``49.00 USD (re_123)``."""
    amount = money(detail.get("amount"), detail.get("currency"))
    external = detail.get("external_id")
    return f"{amount} ({external})" if external else amount


def _scheduled(detail: Mapping[str, Any]) -> str:
    """The sentence of an automatic refund: amount, policy, rule, when it executes."""
    when = detail.get("execute_after")
    try:
        at = datetime.fromisoformat(str(when)) if when else None
    except ValueError:
        at = None
    executes = f" at {at.strftime('%H:%M UTC')}" if at is not None else ""
    return (
        f"Refund of {money(detail.get('amount'), detail.get('currency'))} scheduled "
        f"automatically under policy {detail.get('policy_version') or '?'}: "
        f"{detail.get('rule') or 'its rule'}. It executes{executes} unless an approver "
        "reverses it"
    )


def _refund(event: Event) -> NoteSpec:
    detail, actor, at = event.detail, event.actor, event.at
    if event.type is EventType.REFUND_SCHEDULED:
        return NoteSpec(event.type.value, actor, at, _scheduled(detail))
    if event.type in {EventType.REFUND_FAILED, EventType.REFUND_REFUSED}:
        return NoteSpec(event.type.value, actor, at, _text(detail.get("reason")))
    return NoteSpec(event.type.value, actor, at, _refund_money(detail))


def note_for(event: Event) -> NoteSpec | None:
    """The thread note an event gets, or None (intake, posting, look-ups, refusals ...)."""
    if event.handoff_id is None:
        return None
    detail, actor, at = event.detail, event.actor, event.at
    match event.type:
        case EventType.APPROVED:
            partial = int(detail.get("approval", 1)) < int(detail.get("of", 1))
            confirmed = IDENTITY_CONFIRMED if detail.get("identity_confirmed") else None
            behalf = detail.get("on_behalf_of")
            if behalf:  # the away approver: the note names both people
                action = APPROVED_PARTLY_FOR if partial else APPROVED_FOR
                return NoteSpec(action, actor, at, str(behalf))
            action = APPROVED_PARTLY if partial else EventType.APPROVED.value
            return NoteSpec(action, actor, at, confirmed)
        case EventType.DECLINED | EventType.ESCALATED:
            return NoteSpec(event.type.value, actor, at, _text(detail.get("reason")))
        case EventType.REASSIGNED:
            return NoteSpec(event.type.value, actor, at, _text(detail.get("to")))
        case EventType.SNOOZED:
            # An ISO time: the adapter shows it as a date each reader sees in their own zone.
            return NoteSpec(event.type.value, actor, at, _text(detail.get("until")))
        case EventType.DONE | EventType.RETRIED:
            return NoteSpec(event.type.value, actor, at)
        case EventType.REISSUED:
            previous = detail.get("previous_txn_id") or detail.get("previous_order")
            return NoteSpec(event.type.value, actor, at, _text(previous))
        case EventType.INFO_REQUESTED:
            # "<asked user id>\n<question>": blocks.audit shows the mention, then the words.
            asked = f"{detail.get('asked_to') or ''}\n{detail.get('question') or ''}"
            return NoteSpec(event.type.value, actor, at, asked)
        case EventType.INFO_ANSWERED:
            answered = f"{detail.get('asked_by') or ''}\n{detail.get('answer') or ''}"
            return NoteSpec(event.type.value, actor, at, answered)
        case EventType.CONNECTOR_FAILED:
            system = system_name(str(detail.get("connector") or "a connected system"))
            reason = str(detail.get("reason") or "no reason given")
            return NoteSpec(CONNECTOR_FAILED_NOTE, actor, at, f"{system} gave up: {reason}")
        case EventType.EXTERNAL_LINKED:
            return NoteSpec(LINKED_NOTE, actor, at, _linked(detail))
        case (
            EventType.PAID
            | EventType.MISMATCH
            | EventType.EXPIRED
            | EventType.CANCELLED
            | EventType.PAYMENT_STATUS
        ):
            return _payment(event)
        case (
            EventType.REFUND_SCHEDULED
            | EventType.REFUND_REVERSED
            | EventType.REFUND_RELEASED
            | EventType.REFUND_SUCCEEDED
            | EventType.REFUND_FAILED
            | EventType.REFUND_REFUSED
            | EventType.REFUND_MANUAL
            | EventType.REFUND_MARKED
        ):
            return _refund(event)
    return None
