"""Modals opened from a handoff message: decline, escalate, reassign, approve with an ID check."""

from __future__ import annotations

from blocks.common import (
    EMAIL_MAX,
    JSON,
    LABEL_MAX,
    MODAL_TEXT_MAX,
    NAME_MAX,
    OPTION_TEXT_MAX,
    PLACEHOLDER_MAX,
    clip_mrkdwn,
    context,
    escape,
    plain,
    section,
    truncate,
    who,
)
from blocks.handoff_state import WORKFLOW_LABELS, card_amount, owner_ref
from blocks.ids import (
    IDENTITY_CONFIRMED,
    BlockId,
    CallbackId,
    EmailChoice,
    InputId,
    ModalMetadata,
    encode_metadata,
)
from services.cards import HandoffCard, urgency_after_escalation
from services.documents import Email
from services.handoff_model import Workflow
from services.reasons import MAX_EMAIL_TEXT
from services.routing import ReviewFlag

__all__ = [
    "REASON_MAX",
    "approval_step",
    "approve_modal",
    "decline_modal",
    "email_choice",
    "escalate_modal",
    "loading_modal",
    "modal_error",
    "reassign_modal",
]

CANCEL = "Cancel"
# The reason and note inputs' max_length; handlers.views checks the same number (MAX_REASON).
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
    "Escalating {summary} {change} and reposts it in the escalation channel, mentioning the "
    "finance lead."
)
ESCALATE_RAISES = "raises its urgency from *{before}* to *{after}*"
ESCALATE_KEEPS = "keeps its urgency at *{after}* (the highest)"
ESCALATE_LABEL = "Why does it need escalating?"
ESCALATE_PLACEHOLDER = "e.g. The customer's renewal lapses tonight"
REASSIGN_TITLE, REASSIGN_SUBMIT = "Reassign handoff", "Reassign"
REASSIGN_INTRO = "Reassigning {summary}.\n*Owner now:* {owner}"
ASSIGNEE_LABEL, ASSIGNEE_PLACEHOLDER = "New owner", "Choose a person"
NOTE_LABEL = "Note for the new owner"
APPROVE_TITLE, APPROVE_SUBMIT, APPROVE_FIRST_SUBMIT = "Approve handoff", "Approve", "Approve 1 of 2"
APPROVE_EFFECT = "*What your approval does:* {effect}"
FIRST_OF_TWO = (
    "Records approval 1 of 2. Nothing else happens yet: a second, different approver's "
    "approval {then}."
)
SECOND_OF_TWO = "Approval 2 of 2 (the first came from {first}): it {then} now."
ONLY_ONE = "It {then} now."
THEN_INVOICE = "creates a Plisio invoice for {amount}{target}"
THEN_INVOICE_TARGET = " and sends it to {email}"
THEN_LOOKUP = "posts {email}'s Plisio invoices in the handoff's thread"
THEN_LOOKUP_NO_EMAIL = "records the decision (there is no customer email to look invoices up with)"
THEN_RECORD = "records the decision and hands the next step to {owner}; no money moves"
IDENTITY_WHY = "*Confirm who the caller is first.* This approval moves money, and {reasons}."
LOW_CONFIDENCE_WHY = "DialNexa matched the caller to this customer with low confidence{pct}"
UNVERIFIED_WHY = "the customer's email{email} is not verified"
IDENTITY_LABEL = "Identity check"
IDENTITY_OPTION = "I have confirmed the caller is the customer on the record"
LOADING = "⏳ Loading…"
EMAIL_LABEL = "Email {email}"
EMAIL_INVOICE_OPTION = "Email the invoice with its payment link"
EMAIL_FOLLOWUP_OPTION = "Email the follow-up below"
EMAIL_IDENTITY_HINT = (
    "The address is not verified: it is written to only because you confirm the caller's "
    "identity above."
)
EMAIL_SECOND_CHOOSES = "✉️ The second approver chooses whether the customer is emailed."
EMAIL_NONE = "✉️ No customer email can be sent: the handoff has no customer email."
EMAIL_UNVERIFIED = (
    "✉️ No customer email can be sent: {email} is not verified, and the bot writes only to "
    "verified addresses."
)
FOLLOWUP_LABEL = "Follow-up email (sent exactly as written)"
FOLLOWUP_HINT = "Subject: {subject}. Card and bank numbers are removed before it is stored or sent."


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
    after = urgency_after_escalation(card.urgency)
    template = ESCALATE_KEEPS if after is card.urgency else ESCALATE_RAISES
    change = template.format(before=card.urgency.value, after=after.value)
    intro = ESCALATE_INTRO.format(summary=_summary(card), change=change)
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
        "label": plain(ASSIGNEE_LABEL, LABEL_MAX),
        "element": {
            "type": "users_select",
            "action_id": InputId.ASSIGNEE.value,
            "placeholder": plain(ASSIGNEE_PLACEHOLDER, PLACEHOLDER_MAX),
        },
    }
    note = {
        "type": "input",
        "block_id": BlockId.NOTE.value,
        "optional": True,
        "label": plain(NOTE_LABEL, LABEL_MAX),
        "element": {
            "type": "plain_text_input",
            "action_id": InputId.NOTE.value,
            "multiline": True,
            "max_length": REASON_MAX,
        },
    }
    blocks = [section(intro), assignee, note]
    return _modal(CallbackId.REASSIGN_MODAL, REASSIGN_TITLE, REASSIGN_SUBMIT, meta, card, blocks)


def approval_step(card: HandoffCard) -> str:
    """Exactly what the next approval of ``card`` does: 1 of 2, 2 of 2, or the only one."""
    then = _then(card)
    if card.two_person and not card.approvals:
        return FIRST_OF_TWO.format(then=then)
    if card.two_person:
        return SECOND_OF_TWO.format(first=who(card.approvals[0].user_id), then=then)
    return ONLY_ONE.format(then=then)


def approve_modal(card: HandoffCard, meta: ModalMetadata, *, followup: Email | None = None) -> JSON:
    """Confirm an approval: what this click does, an identity check when one is needed, and
    the customer emails the approver may choose (``followup``: a collections follow-up as its
    template wrote it, for the approver to read and edit)."""
    effect = APPROVE_EFFECT.format(effect=approval_step(card))  # its parts are escaped
    blocks = [section(_summary(card)), section(effect)]
    if card.identity_check_needed:
        identity = {
            "type": "input",
            "block_id": BlockId.IDENTITY.value,
            "label": plain(IDENTITY_LABEL, LABEL_MAX),
            "element": {
                "type": "checkboxes",
                "action_id": InputId.IDENTITY.value,
                "options": [
                    {"text": plain(IDENTITY_OPTION, OPTION_TEXT_MAX), "value": IDENTITY_CONFIRMED}
                ],
            },
        }
        blocks += [section(_identity_why(card)), identity]
    blocks += email_choice(card, followup)
    submit = APPROVE_FIRST_SUBMIT if card.two_person and not card.approvals else APPROVE_SUBMIT
    return _modal(CallbackId.APPROVE_MODAL, APPROVE_TITLE, submit, meta, card, blocks)


def email_choice(card: HandoffCard, followup: Email | None) -> list[JSON]:
    """The approve modal's customer-email choice: ticked by default when the address may be
    written to, or a line saying why no email can be sent."""
    offers = []
    if card.effect_moves_money:
        offers.append((EmailChoice.INVOICE, EMAIL_INVOICE_OPTION))
    if card.workflow is Workflow.COLLECTIONS and followup is not None:
        offers.append((EmailChoice.FOLLOWUP, EMAIL_FOLLOWUP_OPTION))
    if not offers:
        return []
    if card.two_person and not card.approvals:
        return [context(EMAIL_SECOND_CHOOSES)]
    email = card.customer_email
    if email is None:
        return [context(EMAIL_NONE)]
    shown = clip_mrkdwn(email, EMAIL_MAX)[0]
    if not (card.email_verified or card.identity_check_needed):
        return [context(EMAIL_UNVERIFIED.format(email=shown))]
    options = [
        {"text": plain(text, OPTION_TEXT_MAX), "value": value.value} for value, text in offers
    ]
    choice: JSON = {
        "type": "input",
        "block_id": BlockId.EMAIL.value,
        "optional": True,
        "label": plain(EMAIL_LABEL.format(email=email), LABEL_MAX),
        "element": {
            "type": "checkboxes",
            "action_id": InputId.EMAIL.value,
            "options": options,
            "initial_options": options,
        },
    }
    if not card.email_verified:
        choice["hint"] = plain(EMAIL_IDENTITY_HINT, LABEL_MAX)
    blocks = [choice]
    if followup is not None and card.workflow is Workflow.COLLECTIONS:
        blocks.append(
            {
                "type": "input",
                "block_id": BlockId.EMAIL_TEXT.value,
                "optional": True,
                "label": plain(FOLLOWUP_LABEL, LABEL_MAX),
                "hint": plain(FOLLOWUP_HINT.format(subject=followup.subject), LABEL_MAX),
                "element": {
                    "type": "plain_text_input",
                    "action_id": InputId.EMAIL_TEXT.value,
                    "multiline": True,
                    "max_length": MAX_EMAIL_TEXT,
                    "initial_value": followup.body[:MAX_EMAIL_TEXT],
                },
            }
        )
    return blocks


def _then(card: HandoffCard) -> str:
    email = card.customer_email
    if card.effect_moves_money:
        target = ""
        if email and card.email_verified:
            target = THEN_INVOICE_TARGET.format(email=clip_mrkdwn(email, EMAIL_MAX)[0])
        return THEN_INVOICE.format(amount=card_amount(card) or "", target=target)
    if card.workflow in {Workflow.RECEIPT_RESEND, Workflow.INVOICE_LOOKUP}:
        if email:
            return THEN_LOOKUP.format(email=clip_mrkdwn(email, EMAIL_MAX)[0])
        return THEN_LOOKUP_NO_EMAIL
    return THEN_RECORD.format(owner=owner_ref(card))


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
    return {"response_action": "errors", "errors": {block_id: truncate(message, LABEL_MAX)}}


def _summary(card: HandoffCard) -> str:
    customer = card.handoff.customer
    name = (customer.name or customer.account_id) if customer else None
    summary = SUMMARY.format(
        label=WORKFLOW_LABELS[card.workflow], name=clip_mrkdwn(name or UNKNOWN_CALLER, NAME_MAX)[0]
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
            UNVERIFIED_WHY.format(email=f" ({clip_mrkdwn(email, EMAIL_MAX)[0]})" if email else "")
        )
    return IDENTITY_WHY.format(reasons=" and ".join(reasons) or "the caller is not verified")


def _reason_input(label: str, placeholder: str) -> JSON:
    return {
        "type": "input",
        "block_id": BlockId.REASON.value,
        "label": plain(label, LABEL_MAX),
        "element": {
            "type": "plain_text_input",
            "action_id": InputId.REASON.value,
            "multiline": True,
            "max_length": REASON_MAX,
            "placeholder": plain(placeholder, PLACEHOLDER_MAX),
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
