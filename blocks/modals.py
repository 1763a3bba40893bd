"""Modals opened from a handoff message: decline, escalate, reassign, approve with an ID check."""

from __future__ import annotations

from blocks.common import (
    JSON,
    MODAL_TEXT_MAX,
    clip_mrkdwn,
    context,
    escape,
    plain,
    section,
    truncate,
)
from blocks.handoff_state import WORKFLOW_LABELS, card_amount, owner_ref
from blocks.ids import (
    IDENTITY_CONFIRMED,
    BlockId,
    CallbackId,
    InputId,
    ModalMetadata,
    encode_metadata,
)
from services.cards import HandoffCard, approval_effect
from services.routing import ReviewFlag

__all__ = [
    "approve_modal",
    "decline_modal",
    "escalate_modal",
    "loading_modal",
    "modal_error",
    "reassign_modal",
]

CANCEL = "Cancel"
REASON_MAX = 1000
SUMMARY = "*{label}* from {name}"
UNKNOWN_CALLER = "an unknown caller"
DECLINE_TITLE, DECLINE_SUBMIT = "Decline handoff", "Decline"
DECLINE_INTRO = (
    "You are declining {summary}. Your reason is posted in the handoff's thread and shown on "
    "the message."
)
DECLINE_LABEL = "Why are you declining it?"
DECLINE_PLACEHOLDER = "e.g. Outside the refund window; the owner will call the customer back"
ESCALATE_TITLE, ESCALATE_SUBMIT = "Escalate handoff", "Escalate"
ESCALATE_INTRO = (
    "Escalating {summary} raises its urgency to *urgent* and reposts it in the escalation "
    "channel, mentioning the finance lead."
)
ESCALATE_LABEL = "Why does it need escalating?"
ESCALATE_PLACEHOLDER = "e.g. The customer's renewal lapses tonight"
REASSIGN_TITLE, REASSIGN_SUBMIT = "Reassign handoff", "Reassign"
REASSIGN_INTRO = "Reassigning {summary}.\n*Owner now:* {owner}"
ASSIGNEE_LABEL, ASSIGNEE_PLACEHOLDER = "New owner", "Choose a person"
NOTE_LABEL = "Note for the new owner"
APPROVE_TITLE, APPROVE_SUBMIT = "Approve handoff", "Approve"
APPROVE_EFFECT = "*Approving will:* {effect}"
APPROVE_SECOND = "This is the second of two approvals; the first came from a different approver."
IDENTITY_WHY = "*Confirm who the caller is first.* This approval moves money, and {reasons}."
LOW_CONFIDENCE_WHY = "DialNexa matched the caller to this customer with low confidence{pct}"
UNVERIFIED_WHY = "the customer's email{email} is not verified"
IDENTITY_LABEL = "Identity check"
IDENTITY_OPTION = "I have confirmed the caller is the customer on the record"
LOADING = "⏳ Loading…"


def decline_modal(card: HandoffCard, meta: ModalMetadata) -> JSON:
    """Ask for the reason a handoff is declined."""
    intro = DECLINE_INTRO.format(summary=_summary(card))
    reason = _reason_input(DECLINE_LABEL, DECLINE_PLACEHOLDER)
    return _modal(
        CallbackId.DECLINE_MODAL,
        DECLINE_TITLE,
        DECLINE_SUBMIT,
        meta,
        card,
        [section(intro), reason],
    )


def escalate_modal(card: HandoffCard, meta: ModalMetadata) -> JSON:
    """Ask why a handoff needs escalating, saying what escalation does."""
    intro = ESCALATE_INTRO.format(summary=_summary(card))
    reason = _reason_input(ESCALATE_LABEL, ESCALATE_PLACEHOLDER)
    return _modal(
        CallbackId.ESCALATE_MODAL,
        ESCALATE_TITLE,
        ESCALATE_SUBMIT,
        meta,
        card,
        [section(intro), reason],
    )


def reassign_modal(card: HandoffCard, meta: ModalMetadata) -> JSON:
    """Pick a new owner for a handoff, with an optional note."""
    intro = REASSIGN_INTRO.format(summary=_summary(card), owner=owner_ref(card))
    assignee = {
        "type": "input",
        "block_id": BlockId.ASSIGNEE.value,
        "label": plain(ASSIGNEE_LABEL, 2000),
        "element": {
            "type": "users_select",
            "action_id": InputId.ASSIGNEE.value,
            "placeholder": plain(ASSIGNEE_PLACEHOLDER, 150),
        },
    }
    note = {
        "type": "input",
        "block_id": BlockId.NOTE.value,
        "optional": True,
        "label": plain(NOTE_LABEL, 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": InputId.NOTE.value,
            "multiline": True,
            "max_length": REASON_MAX,
        },
    }
    blocks = [section(intro), assignee, note]
    return _modal(CallbackId.REASSIGN_MODAL, REASSIGN_TITLE, REASSIGN_SUBMIT, meta, card, blocks)


def approve_modal(card: HandoffCard, meta: ModalMetadata) -> JSON:
    """Approve with an identity confirmation: the effect, why the check is needed, a checkbox."""
    effect = clip_mrkdwn(approval_effect(card), 1000)[0]
    lines = [_summary(card), APPROVE_EFFECT.format(effect=effect)]
    if card.two_person and len(card.approvals) == 1:
        lines.append(APPROVE_SECOND)
    identity = {
        "type": "input",
        "block_id": BlockId.IDENTITY.value,
        "label": plain(IDENTITY_LABEL, 2000),
        "element": {
            "type": "checkboxes",
            "action_id": InputId.IDENTITY.value,
            "options": [{"text": plain(IDENTITY_OPTION, 75), "value": IDENTITY_CONFIRMED}],
        },
    }
    blocks = [section("\n".join(lines)), section(_identity_why(card)), identity]
    return _modal(CallbackId.APPROVE_MODAL, APPROVE_TITLE, APPROVE_SUBMIT, meta, card, blocks)


def loading_modal(title: str) -> JSON:
    """A placeholder opened at once (trigger_id lives 3 s), then replaced with views.update."""
    return {
        "type": "modal",
        "title": plain(title, MODAL_TEXT_MAX),
        "close": plain(CANCEL, MODAL_TEXT_MAX),
        "blocks": [section(LOADING)],
    }


def modal_error(block_id: str, message: str) -> JSON:
    """The ack payload that shows ``message`` under one input of the open modal."""
    return {"response_action": "errors", "errors": {block_id: truncate(message, 2000)}}


def _summary(card: HandoffCard) -> str:
    customer = card.handoff.customer
    name = (customer.name or customer.account_id) if customer else None
    summary = SUMMARY.format(
        label=WORKFLOW_LABELS[card.workflow], name=clip_mrkdwn(name or UNKNOWN_CALLER, 200)[0]
    )
    amount = card_amount(card)
    return f"{summary} ({amount})" if amount else summary


def _identity_why(card: HandoffCard) -> str:
    reasons = []
    if ReviewFlag.LOW_CONFIDENCE in card.review_flags:
        confidence = card.handoff.match_confidence
        pct = f" ({confidence:.0%})" if confidence is not None else ""
        reasons.append(LOW_CONFIDENCE_WHY.format(pct=pct))
    if ReviewFlag.UNVERIFIED_EMAIL in card.review_flags:
        email = card.customer_email
        reasons.append(
            UNVERIFIED_WHY.format(email=f" ({clip_mrkdwn(email, 254)[0]})" if email else "")
        )
    return IDENTITY_WHY.format(reasons=" and ".join(reasons) or "the caller is not verified")


def _reason_input(label: str, placeholder: str) -> JSON:
    return {
        "type": "input",
        "block_id": BlockId.REASON.value,
        "label": plain(label, 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": InputId.REASON.value,
            "multiline": True,
            "max_length": REASON_MAX,
            "placeholder": plain(placeholder, 150),
        },
    }


def _modal(
    callback_id: CallbackId,
    title: str,
    submit: str,
    meta: ModalMetadata,
    card: HandoffCard,
    blocks: list[JSON],
) -> JSON:
    if meta.handoff_id != card.handoff_id:
        raise ValueError(f"modal metadata is for {meta.handoff_id}, not {card.handoff_id}")
    footer = context(f"Handoff `{escape(card.handoff_id)}` · call `{escape(card.call_id)}`")
    return {
        "type": "modal",
        "callback_id": callback_id.value,
        "title": plain(title, MODAL_TEXT_MAX),
        "submit": plain(submit, MODAL_TEXT_MAX),
        "close": plain(CANCEL, MODAL_TEXT_MAX),
        "private_metadata": encode_metadata(meta),
        "blocks": [*blocks, footer],
    }
