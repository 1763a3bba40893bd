"""The one home of every Slack id this bot uses, and the encode/decode pairs for what ids carry.

Builders and ``register(...)`` functions import from here only, so a renamed id cannot leave a
button without a listener. Everything a button ``value`` or a modal's ``private_metadata`` carries
goes through one matched encode/decode pair, and every decoder raises ``ValueError`` on garbage.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from services.events import EventType

__all__ = [
    "APPROVED_PARTLY",
    "IDENTITY_CONFIRMED",
    "OPEN_LINK_PATTERN",
    "ActionId",
    "AuditAction",
    "BlockId",
    "CallbackId",
    "EmailChoice",
    "InputId",
    "InvoiceField",
    "ModalMetadata",
    "SnoozeFor",
    "decode_button_value",
    "decode_metadata",
    "decode_snooze_value",
    "encode_button_value",
    "encode_metadata",
    "encode_snooze_value",
    "link_action_id",
]

MAX_PRIVATE_METADATA = 3000
_HANDOFF_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SLACK_REF = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # channel ids, user ids, message ts


class ActionId(StrEnum):
    """``action_id`` of every interactive element on a handoff message."""

    APPROVE = "handoff_approve"
    DECLINE = "handoff_decline"
    ESCALATE = "handoff_escalate"
    REASSIGN = "handoff_reassign"
    RETRY = "handoff_retry"
    DONE = "handoff_done"
    SNOOZE = "handoff_snooze"
    REISSUE = "handoff_reissue"  # a new Plisio invoice for an expired, cancelled or underpaid one
    OPEN_INVOICE_FORM = "invoice_open_form"  # "create an invoice for …" typed: the form, prefilled
    REFRESH_CONTEXT = "handoff_refresh_context"  # read the connected systems (Stripe, ...) again
    REVERSE_REFUND = "handoff_refund_reverse"  # stop an automatic refund in its grace window
    MARK_REFUNDED = "handoff_refund_marked"  # a manual (crypto) refund was sent by hand
    APPROVAL_DMS = "home_approval_dms"  # Home tab: approval requests in the channel only / DM too
    EXPORT_AUDIT = "home_export_audit"  # Home tab (finance lead): the last 30 days as CSV
    REQUEST_INFO = "handoff_request_info"  # an approver asks a question before deciding
    ANSWER_INFO = "handoff_answer_info"  # the person asked opens the Answer modal
    AWAY = "home_away"  # Home tab: "I'm away" (opens the away modal)
    BACK = "home_back"  # Home tab: "I'm back" (ends the delegation)
    # Link buttons still send an action when clicked; handlers only ack it. Each link button gets
    # a suffix (see link_action_id) because action ids must be unique within a message.
    OPEN_LINK = "handoff_open_link"


# Bolt: app.action(OPEN_LINK_PATTERN)(ack_only) matches every link button.
OPEN_LINK_PATTERN = re.compile(rf"^{ActionId.OPEN_LINK.value}(:[a-z_]+)?$")


class CallbackId(StrEnum):
    """``callback_id`` of every modal."""

    DECLINE_MODAL = "handoff_decline_modal"
    ESCALATE_MODAL = "handoff_escalate_modal"
    REASSIGN_MODAL = "handoff_reassign_modal"
    APPROVE_MODAL = "handoff_approve_modal"  # approve with identity confirmation
    INVOICE_NEW_MODAL = "invoice_new_modal"
    REQUEST_INFO_MODAL = "handoff_request_info_modal"
    ANSWER_INFO_MODAL = "handoff_answer_info_modal"
    AWAY_MODAL = "away_modal"  # away until when, and who approves meanwhile


class BlockId(StrEnum):
    """``block_id`` of modal inputs (view state is keyed by block id, then action id)."""

    REASON = "reason_block"
    ASSIGNEE = "assignee_block"
    NOTE = "note_block"
    IDENTITY = "identity_block"
    EMAIL = "email_block"  # approve modal: which customer emails to send
    EMAIL_TEXT = "email_text_block"  # approve modal: a collections follow-up's body
    QUESTION = "question_block"  # request info: the question
    ASKED = "asked_block"  # request info: whom to ask
    ANSWER = "answer_block"  # answer modal: the answer
    AWAY_DATE = "away_date_block"  # away modal: the last day away
    AWAY_TIME = "away_time_block"  # away modal: until what time that day
    AWAY_DELEGATE = "away_delegate_block"  # away modal: who approves meanwhile
    # Message blocks that hold buttons, so a handler can tell where a click came from.
    DECISIONS = "handoff_decisions"
    LINKS = "handoff_links"
    CONTEXT_REFRESH = "handoff_context_refresh"
    REFUND = "handoff_refund"  # the refund's buttons (Reverse, Mark refunded)


# The value of the one checkbox in the approve-with-identity modal.
IDENTITY_CONFIRMED = "identity_confirmed"


class EmailChoice(StrEnum):
    """The values of the approve modal's email checkboxes."""

    INVOICE = "email_invoice"  # the invoice with its payment link, once it exists
    FOLLOWUP = "email_followup"  # the collections follow-up, exactly as written in the modal


class InputId(StrEnum):
    """``action_id`` of the element inside each modal input block."""

    REASON = "reason_input"
    ASSIGNEE = "assignee_input"
    NOTE = "note_input"
    IDENTITY = "identity_input"
    EMAIL = "email_input"
    EMAIL_TEXT = "email_text_input"
    QUESTION = "question_input"
    ASKED = "asked_input"
    ANSWER = "answer_input"
    AWAY_DATE = "away_date_input"
    AWAY_TIME = "away_time_input"
    AWAY_DELEGATE = "away_delegate_input"


class InvoiceField(StrEnum):
    """``block_id`` of each /invoice new modal input (its element's action_id adds ``_input``)."""

    EMAIL = "invoice_email"
    AMOUNT = "invoice_amount"
    CURRENCY = "invoice_currency"
    DESCRIPTION = "invoice_description"
    CALL_ID = "invoice_call_id"


class SnoozeFor(StrEnum):
    """How long the snooze menu pauses reminders."""

    ONE_HOUR = "1h"
    FOUR_HOURS = "4h"
    TOMORROW = "tomorrow"


# The audit log's actions are the domain's event types (``services.events``); this name stays
# for the blocks and handlers that import it.
AuditAction = EventType
# The thread note of a first approval of two. Its event is EventType.APPROVED (detail: approval
# 1 of 2): the note differs, the stored action does not.
APPROVED_PARTLY = "approved_partly"


def link_action_id(kind: str) -> str:
    """The unique action id of one link button, e.g. ``handoff_open_link:transcript``."""
    return f"{ActionId.OPEN_LINK.value}:{kind}"


def _handoff_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HANDOFF_ID.fullmatch(value):
        raise ValueError(f"{what} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return value


def encode_button_value(handoff_id: str) -> str:
    """The ``value`` of a handoff button: the handoff id itself, checked."""
    return _handoff_id(handoff_id, "handoff id")


def decode_button_value(value: str) -> str:
    """The handoff id a button carried; ValueError when it is not one."""
    return _handoff_id(value, "button value")


def encode_snooze_value(handoff_id: str, duration: SnoozeFor) -> str:
    """The option value of a snooze choice, e.g. ``"h_123:4h"``."""
    return f"{_handoff_id(handoff_id, 'handoff id')}:{SnoozeFor(duration).value}"


def decode_snooze_value(value: str) -> tuple[str, SnoozeFor]:
    """The handoff id and duration a snooze option carried; ValueError on garbage."""
    handoff_id, sep, duration = value.rpartition(":")
    if not sep:
        raise ValueError("snooze value must look like '<handoff id>:<1h|4h|tomorrow>'")
    _handoff_id(handoff_id, "snooze handoff id")
    try:
        return handoff_id, SnoozeFor(duration)
    except ValueError:
        raise ValueError(f"snooze duration must be 1h, 4h or tomorrow, not {duration!r}") from None


@dataclass(frozen=True, slots=True)
class ModalMetadata:
    """What a modal remembers about the handoff and message it was opened from."""

    handoff_id: str
    channel: str | None = None
    message_ts: str | None = None
    user_id: str | None = None


_META_KEYS = ("handoff_id", "channel", "message_ts", "user_id")


def encode_metadata(meta: ModalMetadata) -> str:
    """Compact JSON for a modal's ``private_metadata`` (None fields left out)."""
    data = {key: getattr(meta, key) for key in _META_KEYS if getattr(meta, key) is not None}
    _check_metadata(data)
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    if len(raw) > MAX_PRIVATE_METADATA:  # pragma: no cover - every field is length-checked
        raise ValueError(f"private_metadata would be {len(raw)} chars; Slack allows 3000")
    return raw


def decode_metadata(raw: str) -> ModalMetadata:
    """Parse a modal's ``private_metadata``; ValueError naming what is wrong."""
    if not isinstance(raw, str) or not raw:
        raise ValueError("private_metadata is empty")
    if len(raw) > MAX_PRIVATE_METADATA:
        raise ValueError("private_metadata is longer than 3000 characters")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError("private_metadata is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("private_metadata must be a JSON object")
    unknown = sorted(set(data) - set(_META_KEYS))
    if unknown:
        raise ValueError(f"private_metadata has unknown keys: {', '.join(unknown)}")
    if "handoff_id" not in data:
        raise ValueError("private_metadata has no handoff_id")
    _check_metadata(data)
    return ModalMetadata(**data)


def _check_metadata(data: dict[str, object]) -> None:
    _handoff_id(data.get("handoff_id"), "handoff_id")
    for key in _META_KEYS[1:]:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not _SLACK_REF.fullmatch(value)):
            raise ValueError(f"{key} must be a Slack id or ts (1-64 characters, no spaces)")
