"""Thread notes for the audit trail, ephemeral refusals, and the escalation-channel notice."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from blocks.common import (
    JSON,
    NAME_MAX,
    URL_MAX,
    button,
    clip_mrkdwn,
    context,
    escape,
    link,
    section,
    slack_date,
    who,
)
from blocks.handoff_state import WORKFLOW_LABELS, card_amount, owner_ref
from blocks.ids import (
    APPROVED_PARTLY,
    ActionId,
    BlockId,
    encode_button_value,
    link_action_id,
)
from services.cards import HandoffCard
from services.events import EventType
from services.notes import APPROVED_FOR, APPROVED_PARTLY_FOR

__all__ = ["RefusalCode", "escalation_notice", "refusal", "thread_note"]

DETAIL_MAX = 1000
NO_REASON = "no reason given"
# event type (or APPROVED_PARTLY): (template, what {detail} is when given, the detail when not)
NOTES: dict[str, tuple[str, str, str]] = {
    EventType.APPROVED: (
        "✅ {actor} approved this handoff (final approval).{detail}",
        "text",
        "",
    ),
    APPROVED_PARTLY: (
        "👍 {actor} approved this handoff (1 of 2). A second, different approver must approve.",
        "none",
        "",
    ),
    APPROVED_FOR: (
        "✅ {actor}, approving for {detail} (away), approved this handoff (final approval).",
        "user",
        "an away approver",
    ),
    APPROVED_PARTLY_FOR: (
        "👍 {actor}, approving for {detail} (away), approved this handoff (1 of 2). "
        "A second, different approver must approve.",
        "user",
        "an away approver",
    ),
    EventType.DECLINED: ("⛔ {actor} declined this handoff: {detail}", "reason", NO_REASON),
    EventType.ESCALATED: ("🔺 {actor} escalated this handoff: {detail}", "reason", NO_REASON),
    EventType.REASSIGNED: (
        "↪️ {actor} reassigned this handoff to {detail}.",
        "user",
        "someone else",
    ),
    EventType.INVOICE_CREATED: (
        "🧾 Plisio invoice created: {detail}",
        "link",
        "no link returned",
    ),
    EventType.INVOICE_FAILED: (
        "⚠️ Plisio invoice failed: {detail}. Use *Retry* or *Decline* on the handoff message.",
        "reason",
        "no error message",
    ),
    EventType.PAID: ("💰 The Plisio invoice was paid.{detail}", "text", ""),
    EventType.EXPIRED: ("⌛ The Plisio invoice expired unpaid.{detail}", "text", ""),
    EventType.MISMATCH: (
        "⚠️ Plisio reports a payment mismatch: {detail}. Check the amount before closing.",
        "reason",
        "the amount paid differs from the invoice",
    ),
    EventType.CANCELLED: ("✖️ The Plisio invoice was cancelled.{detail}", "text", ""),
    EventType.RETRIED: ("🔁 {actor} retried creating the Plisio invoice.", "none", ""),
    EventType.REISSUED: (
        "🔁 {actor} reissued the Plisio invoice; the old one ({detail}) is kept as superseded.",
        "reason",
        "previous invoice",
    ),
    EventType.CONNECTOR_FAILED: (
        "⚠️ {detail} The Slack flow goes on; `/handoff` shows it too.",
        "sentence",
        "A connected system gave up.",
    ),
    EventType.EXTERNAL_LINKED: ("🔗 Linked: {detail}", "labelled_link", "a record"),
    EventType.DONE: ("☑️ {actor} marked this handoff done.{detail}", "text", ""),
    EventType.SNOOZED: (
        "💤 {actor} snoozed the follow-up reminders until {detail}.",
        "raw",
        "later",
    ),
    # Request info (services/info): the detail is "<user id>\n<the person's words>".
    EventType.INFO_REQUESTED: (
        "❓ {actor} asked {detail}",
        "asked",
        "for information before deciding.",
    ),
    EventType.INFO_ANSWERED: ("💬 {actor} answered {detail}", "answered", "the question."),
    EventType.PAYMENT_STATUS: (
        "ℹ️ Plisio reports the invoice status: {detail}",
        "reason",
        "unknown",
    ),
    # Refunds (services/refunds): the detail is the sentence or the amount services/notes built.
    EventType.REFUND_SCHEDULED: ("🤖 {detail}", "sentence", "Refund scheduled automatically."),
    EventType.REFUND_REVERSED: (
        "↩️ {actor} reversed the automatic refund of {detail}; it waits for an approver.",
        "reason",
        "the amount",
    ),
    EventType.REFUND_RELEASED: ("💸 Refund of {detail} sent to Stripe.", "reason", "the amount"),
    EventType.REFUND_SUCCEEDED: ("✅ Refunded {detail} in Stripe.", "reason", "the amount"),
    EventType.REFUND_FAILED: (
        "⚠️ The Stripe refund failed: {detail}. An approver decides what happens next.",
        "reason",
        "no error message",
    ),
    EventType.REFUND_REFUSED: ("⛔ Refund refused: {detail}.", "reason", NO_REASON),
    EventType.REFUND_MANUAL: (
        "📝 Refund of {detail} approved: send it by hand (the checklist is on the message), "
        "then press *Mark refunded*.",
        "reason",
        "the amount",
    ),
    EventType.REFUND_MARKED: (
        "☑️ {actor} marked the refund of {detail} as sent by hand.",
        "reason",
        "the amount",
    ),
}
OPEN_INVOICE = "Open invoice"
_BY_MENTION = re.compile(r" by <@([UW][A-Z0-9]{2,20})>$")


class RefusalCode(StrEnum):
    """Why a click was refused, each with its ephemeral message."""

    NOT_APPROVER = "not_approver"
    ALREADY_DECIDED = "already_decided"
    ALREADY_DECLINED = "already_declined"
    SAME_APPROVER = "same_approver"
    OWN_REQUEST = "own_request"
    CLOSED = "closed"
    NOT_FOUND = "not_found"
    ERROR = "error"
    NOT_FINANCE = "not_finance"
    NOT_OWNER_OR_FINANCE = "not_owner_or_finance"
    AWAITING_APPROVAL = "awaiting_approval"
    UNPAID = "unpaid"
    ALREADY_REISSUED = "already_reissued"
    NOT_REISSUABLE = "not_reissuable"
    REFUND_NOT_SCHEDULED = "refund_not_scheduled"  # Reverse after release (or twice)
    REFUND_NOT_MANUAL = "refund_not_manual"  # Mark refunded on a refund not sent by hand
    NOT_LEAD = "not_lead"  # export the audit trail
    NOT_ASKED = "not_asked"  # Answer on a question put to someone else
    TARGET_NOT_ASKABLE = "target_not_askable"  # ask someone outside finance
    INFO_ALREADY_OPEN = "info_already_open"  # ask while another question waits
    INFO_NOT_OPEN = "info_not_open"  # Answer after the question was answered
    FOR_OWN_REQUEST = "for_own_request"  # a delegate, for the away approver who requested it
    SAME_PERSON = "same_person"  # an approval already counts this person (by or for them)
    DELEGATE_NOT_FINANCE = "delegate_not_finance"
    DELEGATE_SELF = "delegate_self"


REFUSALS = {
    RefusalCode.NOT_APPROVER: (
        "Only finance approvers can {verb} handoffs. Ask someone in @finance-approvers."
    ),
    RefusalCode.ALREADY_DECIDED: "Already approved{by}{when}.",
    RefusalCode.ALREADY_DECLINED: "Already declined{by}{when}; there is nothing left to approve.",
    RefusalCode.SAME_APPROVER: (
        "You already approved this; a second, different approver must approve."
    ),
    RefusalCode.OWN_REQUEST: "You requested this invoice, so someone else must approve it.",
    RefusalCode.CLOSED: "This handoff was closed{by}{when}; there is nothing left to decide.",
    RefusalCode.NOT_FOUND: (
        "I can't find that handoff. It may have been removed; ask in the finance channel."
    ),
    RefusalCode.ERROR: "Something went wrong; it has been logged. Try again in a minute.",
    RefusalCode.NOT_FINANCE: (
        "Only finance members can {verb}. Ask in the finance channel if you need this."
    ),
    RefusalCode.NOT_OWNER_OR_FINANCE: (
        "Only this handoff's owner or a finance member can {verb}. "
        "Ask in the finance channel if you need this."
    ),
    RefusalCode.AWAITING_APPROVAL: (
        "Not marked done: this handoff still waits for approval{of}. "
        "An approver must approve it, or decline it to close it."
    ),
    RefusalCode.UNPAID: "Not marked done: {why}",
    RefusalCode.ALREADY_REISSUED: "Already reissued{by}{when}; the new invoice is on its way.",
    RefusalCode.NOT_REISSUABLE: (
        "This invoice is not expired, cancelled or underpaid, so there is nothing to reissue."
    ),
    RefusalCode.REFUND_NOT_SCHEDULED: (
        "Not reversed: only an automatic refund still in its grace window can be reversed, "
        "and this one is not (any more). The message shows where it stands."
    ),
    RefusalCode.NOT_ASKED: "Only the person the question was put to can {verb}.",
    RefusalCode.TARGET_NOT_ASKABLE: (
        "You can ask a finance member, or the person who requested this handoff."
    ),
    RefusalCode.INFO_ALREADY_OPEN: (
        "A question on this handoff still waits for its answer; the message shows whom it "
        "asks. Ask again once it is answered."
    ),
    RefusalCode.INFO_NOT_OPEN: "That question was already answered{by}{when}.",
    RefusalCode.REFUND_NOT_MANUAL: (
        "Nothing to mark: only a refund that waits to be sent by hand can be marked refunded."
    ),
    RefusalCode.NOT_LEAD: "Only the finance lead can {verb}. Ask them if you need it.",
    RefusalCode.FOR_OWN_REQUEST: (
        "You approve only for the approver who requested this, so someone else must approve it."
    ),
    RefusalCode.SAME_PERSON: (
        "An approval by or for this person already counts; a second, different approver must "
        "approve."
    ),
    RefusalCode.DELEGATE_NOT_FINANCE: (
        "That person is not a finance member, so they can't approve for you. "
        "Choose someone in finance."
    ),
    RefusalCode.DELEGATE_SELF: "Choose someone else to approve for you while you are away.",
}
# How each refusal names the action that was refused.
VERBS = {
    "approve": "approve",
    "decline": "decline",
    "retry": "retry invoices on",
    "reissue": "reissue invoices for",
    "escalate": "escalate handoffs",
    "view": "look up customers' invoices and handoffs",
    "request": "request invoices",
    "mark_done": "mark it done",
    "snooze": "snooze its reminders",
    "reassign": "reassign it",
    "refresh_context": "refresh its context from the connected systems",
    "reverse_refund": "reverse automatic refunds on",
    "mark_refunded": "mark refunds as sent on",
    "view_metrics": "see the finance team's metrics",
    "set_approval_dms": "choose where approval requests reach you",
    "export": "export the audit trail",
    "request_info": "ask for information on",
    "answer_info": "answer it",
    "delegate": "hand their approvals to someone while away from",
}
UNPAID_WHY = {
    "processing": "its Plisio invoice is still being created. It closes when the invoice is paid.",
    "action_failed": (
        "its Plisio invoice failed, so nothing has been paid. An approver can use *Retry*."
    ),
    "invoiced": (
        "its Plisio invoice is not paid yet. It closes by itself when Plisio reports the payment."
    ),
    "invoiced_review": (
        "its Plisio invoice was not paid as issued (underpaid, expired, cancelled or held for "
        "review). An approver can close it after review, or reissue the invoice."
    ),
}
UNPAID_DEFAULT = "its invoice is not paid yet."
DECLINE_OFFER = "You are an approver: you can decline it now."
DECLINE = "Decline"
ESCALATION_TEXT = "🔺 Escalated by {actor}: {label} ({urgency}) from {name}{amount}"
ESCALATION_LINE = "{lead}🔺 *Escalated by {actor}:* {reason}"
ESCALATION_SUMMARY = "*{label}* from {name}{amount}\n*Owner:* {owner}{deadline}"
ESCALATION_DEADLINE = " · *Deadline:* {when}"
ESCALATION_CONTEXT = "Call ID `{call_id}` · handoff `{handoff_id}`"
OPEN_HANDOFF = "Open the handoff"
UNKNOWN_CALLER = "unknown caller"
SANDBOX_PREFIX = "[SANDBOX] "


def thread_note(action: str, actor_id: str, at: datetime, *, detail: str | None = None) -> JSON:
    """A thread reply recording one action: who did what, when, and why."""
    try:
        template, kind, default = NOTES[action]
    except KeyError:
        raise ValueError(f"no thread note for action {action!r}") from None
    text = template.format(actor=who(actor_id), detail=_detail(kind, detail, default))
    return {"text": text, "blocks": [section(text), context(slack_date(at))]}


def _detail(kind: str, detail: str | None, default: str) -> str:
    if kind == "none":
        return ""
    if not detail:
        return default
    if kind in {"asked", "answered"}:
        person, _, words = detail.partition("\n")
        said = clip_mrkdwn(words.strip() or "…", DETAIL_MAX, inert=True)[0]
        if kind == "asked":
            return f"{_person_ref(person)} before deciding: “{said}”"
        return f"{_person_ref(person, possessive=True)} question: “{said}”"
    if kind == "user":
        # A user id, or the mention a caller built from one (<@U…>): shown as a mention.
        bare = detail.removeprefix("<@").removesuffix(">") if detail.startswith("<@") else detail
        return who(bare) if len(bare) <= 64 else clip_mrkdwn(detail, DETAIL_MAX, inert=True)[0]
    if kind == "raw" and detail.startswith("<!date^") and len(detail) <= 200:
        return detail  # a Slack date token the bot built itself if len(detail) <= 64 else clip_mrkdwn(detail, DETAIL_MAX)[0]
    if kind == "labelled_link":
        url, _, label = detail.partition(" ")
        if url.startswith(("https://", "http://")) and len(url) <= URL_MAX and label:
            # "… by <@U123>" (who sent an email): the mention after the link, where it renders.
            by = _BY_MENTION.search(label)
            after = f" by {who(by.group(1))}" if by else ""
            label = label[: by.start()] if by else label
            return link(url, clip_mrkdwn(label, DETAIL_MAX, inert=True)[0]) + after
        return clip_mrkdwn(detail, DETAIL_MAX, inert=True)[0]
    if kind == "sentence":
        clipped = clip_mrkdwn(detail, DETAIL_MAX, inert=True)[0]
        return clipped if clipped.endswith((".", "!", "?")) else clipped + "."
    if kind == "link" and detail.startswith(("https://", "http://")) and len(detail) <= URL_MAX:
        return link(detail, OPEN_INVOICE)
    clipped = clip_mrkdwn(detail, DETAIL_MAX, inert=True)[0]
    return f" {clipped}" if kind == "text" else clipped


def _person_ref(user: str, *, possessive: bool = False) -> str:
    """A user id as a mention (``<@U1>'s``), or "someone" / "the" when there is none."""
    if not user.strip() or len(user) > 64:
        return "the" if possessive else "someone"
    return f"{who(user)}'s" if possessive else who(user)


def refusal(
    reason_code: str,
    *,
    by: str | None = None,
    at: datetime | None = None,
    action: str | None = None,
    status: str | None = None,
    approvals: tuple[int, int] | None = None,
    offer_decline: str | None = None,
) -> JSON:
    """An ephemeral message saying why a click did nothing.

    ``action`` names what was refused (a ``services.permissions.Action`` value), ``status`` the
    handoff's status for the unpaid case, ``approvals`` (have, need) for the pending case, and
    ``offer_decline`` a handoff id whose Decline button an approver gets with the refusal.
    """
    try:
        template = REFUSALS[RefusalCode(reason_code)]
    except ValueError:
        raise ValueError(f"no refusal message for {reason_code!r}") from None
    of = ""
    if approvals is not None and approvals[1] > 1:
        of = f" ({approvals[0]} of {approvals[1]} approvals so far)"
    text = template.format(
        by=f" by {who(by)}" if by else "",
        when=f", {slack_date(at)}" if at is not None else "",
        verb=VERBS.get(action or "approve", "do that"),
        why=UNPAID_WHY.get(status or "", UNPAID_DEFAULT),
        of=of,
    )
    blocks: list[JSON] = [section(text)]
    if offer_decline is not None:
        blocks.append(context(DECLINE_OFFER))
        decline = button(
            DECLINE, ActionId.DECLINE, value=encode_button_value(offer_decline), style="danger"
        )
        blocks.append(
            {"type": "actions", "block_id": BlockId.DECISIONS.value, "elements": [decline]}
        )
    return {"text": text, "blocks": blocks}


def escalation_notice(
    card: HandoffCard,
    actor_id: str,
    reason: str,
    *,
    permalink: str | None,
    lead: str | None,
) -> JSON:
    """The repost in the escalation channel, mentioning the finance lead."""
    customer = card.handoff.customer
    raw_name = (customer.name or customer.account_id or "") if customer else ""
    name = clip_mrkdwn(raw_name, NAME_MAX)[0]
    amount = card_amount(card)
    names = {
        "actor": who(actor_id),
        "label": WORKFLOW_LABELS[card.workflow],
        "name": name or UNKNOWN_CALLER,
        "amount": f" — {amount}" if amount else "",
    }
    prefix = SANDBOX_PREFIX if card.sandbox else ""
    text = prefix + ESCALATION_TEXT.format(urgency=card.urgency.value, **names)
    line = ESCALATION_LINE.format(
        lead=f"{who(lead)} " if lead else "",
        actor=names["actor"],
        reason=clip_mrkdwn(reason or NO_REASON, DETAIL_MAX, inert=True)[0],
    )
    deadline = ESCALATION_DEADLINE.format(when=slack_date(card.deadline)) if card.deadline else ""
    summary = ESCALATION_SUMMARY.format(
        label=names["label"],
        name=clip_mrkdwn(raw_name, 1000, inert=True)[0] or UNKNOWN_CALLER,
        amount=names["amount"],
        owner=owner_ref(card),
        deadline=deadline,
    )
    blocks = [section(line), section(summary)]
    if permalink and permalink.startswith("https://") and len(permalink) <= URL_MAX:
        open_button = button(OPEN_HANDOFF, link_action_id("handoff"), url=permalink)
        blocks.append(
            {"type": "actions", "block_id": BlockId.LINKS.value, "elements": [open_button]}
        )
    ids = ESCALATION_CONTEXT.format(
        call_id=escape(card.call_id), handoff_id=escape(card.handoff_id)
    )
    blocks.append(context(ids))
    return {"text": text, "blocks": blocks}
