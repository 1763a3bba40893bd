"""The /handoff audit trail in sentences: "Ana approved (1 of 2)", "Plisio: paid", ...

Each event type has a sentence; its detail fills in who, where and why. Channels are shown by
name when the caller knows it, else as a ``<#C…>`` mention Slack renders as the name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from blocks.common import clip_mrkdwn, escape, slack_date, who
from blocks.payment_words import PAYMENT_WORDS
from services.events import BOT, PLISIO, EventType
from services.systems import system_name

__all__ = ["DETAIL_MAX", "channel_ref", "event_sentence"]

DETAIL_MAX = 200
SOMEONE = "someone"
DIALNEXA = "dialnexa"  # the actor of a handoff DialNexa delivered
Detail = Mapping[str, Any]


def channel_ref(channel: str | None, names: Mapping[str, str]) -> str:
    """``#finance`` when the name is known, else Slack's channel mention, else nothing."""
    if not channel:
        return "a channel"
    name = names.get(channel)
    if name:
        return escape("#" + name.lstrip("#"))
    if channel[:1] in {"C", "G"} and channel.isalnum():
        return f"<#{channel}>"
    return escape(channel)


def _text(detail: Detail, key: str) -> str:
    value = detail.get(key)
    return clip_mrkdwn(str(value), DETAIL_MAX, inert=True)[0] if value not in (None, "") else ""


def _why(detail: Detail, key: str = "reason") -> str:
    reason = _text(detail, key)
    return f": {reason}" if reason else ""


def _person(actor: str) -> str:
    if actor in {BOT, PLISIO, DIALNEXA}:
        return {BOT: "The bot", PLISIO: "Plisio", DIALNEXA: "DialNexa"}[actor]
    return who(actor) if actor else SOMEONE


def _when(detail: Detail, key: str) -> str:
    raw = detail.get(key)
    try:
        at = datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        return _text(detail, key)
    return slack_date(at)


def _approved(actor: str, d: Detail) -> str:
    count = f" ({d['approval']} of {d['of']})" if d.get("approval") and d.get("of") else ""
    checked = " after confirming the caller's identity" if d.get("identity_confirmed") else ""
    principal = d.get("on_behalf_of")
    behalf = f" for {who(str(principal))} (away)" if principal else ""
    return f"{_person(actor)} approved{behalf}{count}{checked}"


def _escalated(actor: str, d: Detail) -> str:
    before, after = _text(d, "urgency_before"), _text(d, "urgency")
    change = f" ({before} → {after})" if before and after else ""
    return f"{_person(actor)} escalated it{change}{_why(d)}"


def _payment(_actor: str, d: Detail) -> str:
    state = str(d.get("state") or "")
    word = PAYMENT_WORDS.get(state) or _text(d, "status") or "status update"
    return f"Plisio: {word.lower() if state in {'paid', 'expired', 'cancelled'} else word}"


def _done(actor: str, d: Detail) -> str:
    after = PAYMENT_WORDS.get(str(d.get("after_review") or ""))
    return f"{_person(actor)} marked it done" + (
        f" after review ({after.lower()})" if after else ""
    )


def _nudge(_actor: str, d: Detail) -> str:
    notified = str(d.get("notified") or "")
    target = "the channel" if notified == "channel" else who(notified) if notified else "the owner"
    kind = "Escalation" if d.get("kind") == "escalation" else "Reminder"
    return f"{kind} sent to {target}"


def _refund_amount(d: Detail) -> str:
    amount, currency = _text(d, "amount"), _text(d, "currency")
    return f"{amount} {currency}".strip() or "the amount"


def _refund_scheduled(_actor: str, d: Detail) -> str:
    version = _text(d, "policy_version") or "?"
    rule = _text(d, "rule")
    when = _when(d, "execute_after")
    return (
        f"Refund of {_refund_amount(d)} scheduled automatically under policy {version}"
        + (f" ({rule})" if rule else "")
        + (f"; executes {when} unless reversed" if when else "")
    )


def _refund_released(actor: str, d: Detail) -> str:
    by = "after the grace window" if actor == BOT else f"approved by {_person(actor)}"
    return f"Refund of {_refund_amount(d)} sent to Stripe ({by})"


def _refund_succeeded(_actor: str, d: Detail) -> str:
    ref = _text(d, "external_id")
    return f"Stripe refunded {_refund_amount(d)}" + (f" ({ref})" if ref else "")


Sentence = Callable[[str, Detail], str]
SENTENCES: dict[str, Sentence] = {
    EventType.RECEIVED: lambda a, d: (
        "Received from DialNexa" if a == DIALNEXA else f"{_person(a)} requested it in Slack"
    ),
    EventType.APPROVED: _approved,
    EventType.DECLINED: lambda a, d: f"{_person(a)} declined it{_why(d)}",
    EventType.ESCALATED: _escalated,
    EventType.REASSIGNED: lambda a, d: (
        f"{_person(a)} reassigned it to {who(str(d.get('to')))}"
        if d.get("to")
        else f"{_person(a)} reassigned it"
    ),
    EventType.SNOOZED: lambda a, d: f"{_person(a)} snoozed reminders until {_when(d, 'until')}",
    EventType.DONE: _done,
    EventType.RETRIED: lambda a, d: f"{_person(a)} retried the invoice",
    EventType.REISSUED: lambda a, d: f"{_person(a)} issued a new invoice",
    EventType.INVOICE_CREATED: lambda a, d: "Plisio invoice created",
    EventType.INVOICE_FAILED: lambda a, d: f"Invoice failed{_why(d, 'error')}",
    EventType.PAID: _payment,
    EventType.MISMATCH: _payment,
    EventType.EXPIRED: _payment,
    EventType.CANCELLED: _payment,
    EventType.PAYMENT_STATUS: _payment,
    EventType.CALLBACK_CONFLICT: lambda a, d: f"Plisio callback ignored{_why(d)}",
    EventType.STATUS_REGRESSION: lambda a, d: "Plisio reported it unpaid again; kept as paid",
    EventType.STATUS_OUT_OF_ORDER: lambda a, d: "An older Plisio status arrived late; ignored",
    EventType.NUDGE_DUE: lambda a, d: "Reminder due",
    EventType.NUDGE_SENT: _nudge,
    EventType.APPROVAL_DM_SENT: lambda a, d: (
        f"Approval request sent to {who(str(d.get('to')))} in a DM"
        + (" (escalation)" if d.get("reason") == "escalation" else "")
    ),
    EventType.NOTE_ADDED: lambda a, d: f"{_person(a)} added a note{_why(d, 'note')}",
    EventType.CONTEXT_UPDATED: lambda a, d: (
        f"Details updated from {system_name(_text(d, 'connector') or 'a connected system')}"
    ),
    EventType.CONTEXT_REQUESTED: lambda a, d: (
        f"{_person(a)} asked to read the connected systems again"
    ),
    EventType.CONNECTOR_FAILED: lambda a, d: (
        f"{system_name(_text(d, 'connector') or 'A connected system')} gave up" + _why(d)
    ),
    EventType.EXTERNAL_LINKED: lambda a, d: (
        f"Linked {system_name(_text(d, 'connector') or '')} {_text(d, 'kind') or 'record'}"
        f" {_text(d, 'label') or _text(d, 'id') or ''}".rstrip()
    ),
    EventType.REFUND_SCHEDULED: _refund_scheduled,
    EventType.REFUND_REVERSED: lambda a, d: (
        f"{_person(a)} reversed the automatic refund of {_refund_amount(d)}"
    ),
    EventType.REFUND_RELEASED: _refund_released,
    EventType.REFUND_SUCCEEDED: _refund_succeeded,
    EventType.REFUND_FAILED: lambda a, d: f"The Stripe refund failed{_why(d)}",
    EventType.REFUND_REFUSED: lambda a, d: f"Refund of {_refund_amount(d)} refused{_why(d)}",
    EventType.REFUND_MANUAL: lambda a, d: (
        f"{_person(a)} approved the refund of {_refund_amount(d)}; it is sent by hand"
    ),
    EventType.REFUND_MARKED: lambda a, d: (
        f"{_person(a)} marked the refund of {_refund_amount(d)} as sent by hand"
    ),
    EventType.INFO_REQUESTED: lambda a, d: (
        f"{_person(a)} asked {who(str(d.get('asked_to') or '')) or 'someone'} for information"
        + _why(d, "question")
    ),
    EventType.INFO_ANSWERED: lambda a, d: f"{_person(a)} answered the question{_why(d, 'answer')}",
    EventType.REFUSED: lambda a, d: f"{_person(a)} was refused ({_text(d, 'action') or 'action'})",
    EventType.LOOKED_UP: lambda a, d: f"{_person(a)} looked it up",
}


def event_sentence(
    action: str, actor: str, detail: Detail | None, channel_names: Mapping[str, str]
) -> str:
    """One audit entry as a sentence, in mrkdwn."""
    d = detail or {}
    if action == EventType.POSTED:
        return f"Posted in {channel_ref(d.get('channel'), channel_names)}"
    if action == EventType.REROUTED:
        return (
            f"{channel_ref(d.get('from'), channel_names)} refused the post; "
            f"moved to {channel_ref(d.get('to'), channel_names)}"
        )
    sentence = SENTENCES.get(action)
    if sentence is None:
        return f"{_person(actor)}: {escape(action.replace('_', ' '))}"
    return sentence(actor, d)
