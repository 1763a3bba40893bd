"""The refund line of a handoff message: what happens to the money, and its one button.

Pure: from ``HandoffCard.refund`` (``services.cards.RefundInfo``) to one section (and, while a
person can still act, an actions block with **Reverse** or **Mark refunded**).
"""

from __future__ import annotations

from blocks.common import (
    CONFIRM_BUTTON_MAX,
    CONFIRM_TEXT_MAX,
    CONFIRM_TITLE_MAX,
    JSON,
    button,
    clip_mrkdwn,
    escape,
    plain,
    section,
    slack_date,
    truncate,
)
from blocks.ids import ActionId, BlockId, encode_button_value
from services.cards import HandoffCard, RefundInfo
from services.refunds.policy import format_amount

__all__ = [
    "MANUAL_STEPS",
    "MARK_REFUNDED",
    "REVERSE",
    "refund_blocks",
    "refund_text",
]

REVERSE, MARK_REFUNDED = "Reverse", "Mark refunded"
REVERSE_CONFIRM = (
    "Stop the automatic refund?",
    "The refund is not sent, and the handoff waits for an approver again.",
    "Reverse",
)
MARK_CONFIRM = (
    "Mark the refund as sent?",
    "Only once the money left the wallet and the transaction hash is in the thread.",
    "Mark refunded",
)
CANCEL = "Cancel"
PENDING = "💸 *Refund of {amount}* {where} once an approver approves"
PENDING_STRIPE = "through Stripe (`{ref}`)"
PENDING_MANUAL = "by hand (no API can refund this payment)"
NOT_AUTOMATIC = "Not automatic: {reasons}"
SCHEDULED = (
    "🤖 *Refunded automatically under policy {version}:* {rule} · executes at {when} "
    "unless reversed"
)
REVERSED = "↩️ *Automatic refund of {amount} reversed* · it waits for an approver"
RELEASED = "⏳ Refund of {amount} sent to Stripe…"
PROCESSING = "⏳ Refund of {amount} processing in Stripe{ref}…"
SUCCEEDED = "✅ Refunded {amount} in Stripe{ref}"
FAILED = "⚠️ *Stripe refund failed:* {reason}"
REFUSED = "⛔ *Refund refused:* {reason}"
MANUAL = "📝 *Refund {amount} by hand* — no API can refund this payment:"
MANUAL_STEPS = (
    "1. Refund from the crypto wallet to the address the customer confirms in writing.",
    "2. Record the transaction hash in this thread.",
    "3. Press *Mark refunded*.",
)
MARKED = "☑️ *Refunded by hand:* {amount} · marked refunded by an approver"
NO_REASON = "no reason given"
REASON_MAX = 600
RULE_MAX = 1200
REF_MAX = 64


def _amount(refund: RefundInfo) -> str:
    return escape(format_amount(refund.amount, refund.currency))


def _ref(external_id: str | None) -> str:
    return f" (`{escape(truncate(external_id, REF_MAX))}`)" if external_id else ""


def _reason(text: str | None) -> str:
    return clip_mrkdwn(text or NO_REASON, REASON_MAX, inert=True)[0]


def refund_text(refund: RefundInfo) -> str:
    """The refund's line(s), by status (mrkdwn, under Slack's 3000 characters)."""
    amount = _amount(refund)
    match refund.status:
        case "pending":
            where = (
                PENDING_STRIPE.format(ref=escape(truncate(refund.payment_ref or "", REF_MAX)))
                if refund.system == "stripe"
                else PENDING_MANUAL
            )
            text = PENDING.format(amount=amount, where=where)
            if refund.not_automatic:
                reasons = _reason("; ".join(refund.not_automatic))
                text += "\n" + NOT_AUTOMATIC.format(reasons=reasons)
            return text
        case "scheduled":
            rule = clip_mrkdwn(refund.rule or "", RULE_MAX, inert=True)[0]
            version = escape(truncate(refund.policy_version or "?", REF_MAX))
            when = slack_date(refund.execute_after, "{time}") if refund.execute_after else "soon"
            return SCHEDULED.format(version=version, rule=rule, when=when)
        case "reversed":
            return REVERSED.format(amount=amount)
        case "released":
            return RELEASED.format(amount=amount)
        case "processing":
            return PROCESSING.format(amount=amount, ref=_ref(refund.external_id))
        case "succeeded":
            return SUCCEEDED.format(amount=amount, ref=_ref(refund.external_id))
        case "failed":
            return FAILED.format(reason=_reason(refund.error))
        case "refused":
            return REFUSED.format(reason=_reason(refund.error))
        case "manual":
            return "\n".join((MANUAL.format(amount=amount), *MANUAL_STEPS))
        case "marked":
            return MARKED.format(amount=amount)
    return f"💸 Refund of {amount}: {escape(refund.status)}"


def _confirmed(
    text: str, action_id: ActionId, value: str, words: tuple[str, str, str], style: str
) -> JSON:
    title, body, yes = words
    confirm = {
        "title": plain(title, CONFIRM_TITLE_MAX),
        "text": plain(body, CONFIRM_TEXT_MAX),
        "confirm": plain(yes, CONFIRM_BUTTON_MAX),
        "deny": plain(CANCEL, CONFIRM_BUTTON_MAX),
    }
    return button(text, action_id, value=value, style=style, confirm=confirm)


def refund_blocks(card: HandoffCard) -> list[JSON]:
    """The refund section, and the button a person may press now (none once it is out of
    their hands)."""
    refund = card.refund
    if refund is None:
        return []
    # Every piece is clipped on its own (rule 1200, reasons 600, ids 64 characters): the whole
    # stays below Slack's 3000 characters (a test holds the longest case).
    blocks: list[JSON] = [section(refund_text(refund))]
    value = encode_button_value(card.handoff_id)
    element: JSON | None = None
    if refund.status == "scheduled":
        element = _confirmed(REVERSE, ActionId.REVERSE_REFUND, value, REVERSE_CONFIRM, "danger")
    elif refund.status == "manual":
        element = _confirmed(MARK_REFUNDED, ActionId.MARK_REFUNDED, value, MARK_CONFIRM, "primary")
    if element is not None:
        blocks.append({"type": "actions", "block_id": BlockId.REFUND.value, "elements": [element]})
    return blocks
