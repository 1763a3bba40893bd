"""Thread notes for the audit trail, ephemeral refusals, and the escalation-channel notice."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from blocks.common import (
    JSON,
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
from blocks.ids import AuditAction, BlockId, link_action_id
from services.cards import HandoffCard

__all__ = ["RefusalCode", "escalation_notice", "refusal", "thread_note"]

DETAIL_MAX = 1000
NO_REASON = "no reason given"
# action: (template, what {detail} is when given, the detail when it is not)
NOTES: dict[AuditAction, tuple[str, str, str]] = {
    AuditAction.APPROVED: (
        "✅ {actor} approved this handoff (final approval).{detail}",
        "text",
        "",
    ),
    AuditAction.APPROVED_PARTLY: (
        "👍 {actor} approved this handoff (1 of 2). A second, different approver must approve.",
        "none",
        "",
    ),
    AuditAction.DECLINED: ("⛔ {actor} declined this handoff: {detail}", "reason", NO_REASON),
    AuditAction.ESCALATED: ("🔺 {actor} escalated this handoff: {detail}", "reason", NO_REASON),
    AuditAction.REASSIGNED: (
        "↪️ {actor} reassigned this handoff to {detail}.",
        "user",
        "someone else",
    ),
    AuditAction.INVOICE_CREATED: (
        "🧾 Plisio invoice created: {detail}",
        "link",
        "no link returned",
    ),
    AuditAction.INVOICE_FAILED: (
        "⚠️ Plisio invoice failed: {detail}. Use *Retry* on the handoff message.",
        "reason",
        "no error message",
    ),
    AuditAction.PAID: ("💰 The Plisio invoice was paid.{detail}", "text", ""),
    AuditAction.EXPIRED: ("⌛ The Plisio invoice expired unpaid.{detail}", "text", ""),
    AuditAction.MISMATCH: (
        "⚠️ Plisio reports a payment mismatch: {detail}. Check the amount before closing.",
        "reason",
        "the amount paid differs from the invoice",
    ),
    AuditAction.CANCELLED: ("✖️ The Plisio invoice was cancelled.{detail}", "text", ""),
    AuditAction.RETRIED: ("🔁 {actor} retried creating the Plisio invoice.", "none", ""),
    AuditAction.DONE: ("☑️ {actor} marked this handoff done.{detail}", "text", ""),
    AuditAction.SNOOZED: (
        "💤 {actor} snoozed the follow-up reminders until {detail}.",
        "raw",
        "later",
    ),
    AuditAction.PAYMENT_STATUS: (
        "ℹ️ Plisio reports the invoice status: {detail}",
        "reason",
        "unknown",
    ),
}
OPEN_INVOICE = "Open invoice"


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


REFUSALS = {
    RefusalCode.NOT_APPROVER: (
        "Only finance approvers can approve handoffs. Ask someone in @finance-approvers."
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
}
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
        template, kind, default = NOTES[AuditAction(action)]
    except ValueError:
        raise ValueError(f"no thread note for action {action!r}") from None
    text = template.format(actor=who(actor_id), detail=_detail(kind, detail, default))
    return {"text": text, "blocks": [section(text), context(slack_date(at))]}


def _detail(kind: str, detail: str | None, default: str) -> str:
    if kind == "none":
        return ""
    if not detail:
        return default
    if kind == "user":
        return who(detail) if len(detail) <= 64 else clip_mrkdwn(detail, DETAIL_MAX)[0]
    if kind == "raw" and detail.startswith("<!date^") and len(detail) <= 200:
        return detail  # a Slack date token the bot built itself if len(detail) <= 64 else clip_mrkdwn(detail, DETAIL_MAX)[0]
    if kind == "link" and detail.startswith(("https://", "http://")) and len(detail) <= URL_MAX:
        return link(detail, OPEN_INVOICE)
    clipped = clip_mrkdwn(detail, DETAIL_MAX)[0]
    return f" {clipped}" if kind == "text" else clipped


def refusal(reason_code: str, *, by: str | None = None, at: datetime | None = None) -> JSON:
    """An ephemeral message saying why a click did nothing."""
    try:
        template = REFUSALS[RefusalCode(reason_code)]
    except ValueError:
        raise ValueError(f"no refusal message for {reason_code!r}") from None
    text = template.format(
        by=f" by {who(by)}" if by else "",
        when=f", {slack_date(at)}" if at is not None else "",
    )
    return {"text": text, "blocks": [section(text)]}


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
    name = clip_mrkdwn((customer.name or customer.account_id or "") if customer else "", 200)[0]
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
        reason=clip_mrkdwn(reason or NO_REASON, DETAIL_MAX)[0],
    )
    deadline = ESCALATION_DEADLINE.format(when=slack_date(card.deadline)) if card.deadline else ""
    summary = ESCALATION_SUMMARY.format(
        label=names["label"],
        name=names["name"],
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
