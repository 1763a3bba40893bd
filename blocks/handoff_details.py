"""The details of a handoff message, below the decision: owner, customer, billing, record, links.

Also ``long_text``, which fits caller text into a block with a *Full details* link when cut.
"""

from __future__ import annotations

from blocks.common import (
    ESCALATION_REASON_MAX,
    FIELD_TEXT_MAX,
    JSON,
    NEXT_STEP_MAX,
    URL_MAX,
    button,
    clip_mrkdwn,
    link,
    section,
    who,
)
from blocks.handoff_state import card_amount, owner_ref
from blocks.ids import BlockId, link_action_id
from blocks.payment_words import payment_word
from services.cards import HandoffCard

__all__ = [
    "billing_block",
    "customer_block",
    "links_block",
    "long_text",
    "owner_block",
    "record_block",
]

FULL_DETAILS = "Full details"
RECORD_TITLE = "*Affected record*"
RECORD_LINK = "Open record"
OWNER_LINE = "*Owner:* {owner}"
NEXT_STEP_LINE = "*Next step:* {step}"
ESCALATION_LINE = "*Escalation reason:* {reason}"
CUSTOMER_TITLE = "*Customer*"
BILLING_TITLE = "*Billing*"
PAYMENT_STATUS_NOW = "Payment status (Plisio)"
PAYMENT_ON_CALL = "Payment status on the call"
VERIFIED, UNVERIFIED, VIP = "✓ verified", "unverified", "⭐ VIP"
TYPED_BY = "typed by {who}"  # a staff-typed email is what they typed, not a verified one
LINK_LABELS = {
    "transcript": "Transcript",
    "recording": "Recording",
    "crm": "CRM record",
    "support_ticket": "Support ticket",
    "payment_platform": "Payment platform",
    "invoice": "Plisio invoice",
}


def long_text(title: str, raw: str, more: str | None, *, limit: int, quote: bool = False) -> str:
    """Title, then the caller's text (escaped, formatting inert) fitted to ``limit``, with a
    Full details link when cut."""
    tail = f" {link(more, FULL_DETAILS)}" if more else ""
    if len(tail) > limit // 2:  # a URL too long to leave room for the text: no link
        tail = ""
    budget = limit - len(title) - 1 - len(tail)
    if quote:  # every line gains "> "
        budget -= 2 * (raw.count("\n") + 1)
    text, cut = clip_mrkdwn(raw, budget, inert=True)
    if quote:
        text = "\n".join(f"> {line}" for line in text.split("\n"))
    return f"{title}\n{text}{tail if cut else ''}"


def _field(label: str, raw: str | None, more: str | None = None, *, badge: str = "") -> str | None:
    if not raw:
        return None
    return long_text(f"*{label}*", raw, more, limit=FIELD_TEXT_MAX - len(badge)) + badge


def _fields_section(title: str, fields: list[str | None]) -> JSON | None:
    present = [f for f in fields if f]
    return section(title, fields=present) if present else None


def record_block(card: HandoffCard) -> JSON | None:
    record = card.handoff.affected_record
    if record is None or not (record.id or record.url):  # a system name alone says nothing
        return None
    url = str(record.url) if record.url else None
    ident = _field("ID", record.id)
    if url:
        linked = (
            f"*ID*\n{link(url, record.id)}" if record.id else f"*Link*\n{link(url, RECORD_LINK)}"
        )
        ident = linked if len(linked) <= FIELD_TEXT_MAX else ident  # else the id without its link
    return _fields_section(
        RECORD_TITLE, [_field("System", record.system), _field("Object", record.object), ident]
    )


def owner_block(card: HandoffCard) -> JSON:
    follow_up = card.handoff.follow_up
    lines = [OWNER_LINE.format(owner=owner_ref(card))]
    if follow_up and follow_up.next_step:
        step = clip_mrkdwn(follow_up.next_step, NEXT_STEP_MAX, inert=True)[0]
        lines.append(NEXT_STEP_LINE.format(step=step))
    if follow_up and follow_up.escalation_reason:
        why = follow_up.escalation_reason
        reason = clip_mrkdwn(why, ESCALATION_REASON_MAX, inert=True)[0]
        lines.append(ESCALATION_LINE.format(reason=reason))
    return section("\n".join(lines))


def customer_block(card: HandoffCard, more: str | None) -> JSON | None:
    customer = card.handoff.customer
    if customer is None:
        return None
    if card.kind == "request" and card.requested_by:
        email_badge = " · " + TYPED_BY.format(who=who(card.requested_by))
    else:
        email_badge = f" {VERIFIED}" if customer.email_verified else f" · {UNVERIFIED}"
    return _fields_section(
        CUSTOMER_TITLE,
        [
            _field("Name", customer.name, more, badge=f" {VIP}" if customer.vip else ""),
            _field("Account", customer.account_id),
            _field("Email", str(customer.email) if customer.email else None, badge=email_badge),
            _field("Tax region", customer.tax_region),
            _field("Phone", customer.phone),
            _field(
                "Billing address",
                customer.billing_address.one_line() if customer.billing_address else None,
            ),
        ],
    )


def billing_block(card: HandoffCard, more: str | None) -> JSON | None:
    billing = card.handoff.billing
    amount = card_amount(card)
    if billing is None:
        now_status = payment_word(card)
        return _fields_section(
            BILLING_TITLE,
            [
                f"*Amount*\n{amount}" if amount else None,
                f"*{PAYMENT_STATUS_NOW}*\n{now_status}" if now_status else None,
            ],
        )
    status = (
        billing.payment_status.value.replace("_", " ").capitalize()
        if billing.payment_status
        else None
    )
    # Once Plisio has reported on the invoice, what was said on the call is history.
    now_status = payment_word(card)
    status_field = (
        f"*{PAYMENT_STATUS_NOW}*\n{now_status}"
        if now_status
        else None
        if card.kind == "request"  # nothing was said on a call
        else _field(PAYMENT_ON_CALL, status)
    )
    return _fields_section(
        BILLING_TITLE,
        [
            _field("Invoice", billing.invoice_number),
            _field("Payment", billing.payment_id),
            _field("Subscription", billing.subscription_id),
            f"*Amount*\n{amount}" if amount else None,
            _field("Due date", billing.due_date.isoformat() if billing.due_date else None),
            status_field,
            _field("Refund reason", billing.refund_reason, more),
            _field("Dispute reason", billing.dispute_reason, more),
            _field("Credit request", billing.credit_request, more),
        ],
    )


def links_block(card: HandoffCard) -> JSON | None:
    links = card.handoff.links
    urls = {
        "transcript": links.transcript_url if links else None,
        "recording": links.recording_url if links else None,
        "crm": links.crm_url if links else None,
        "support_ticket": links.support_ticket_url if links else None,
        "payment_platform": links.payment_platform_url if links else None,
        "invoice": card.invoice.url if card.invoice else None,
    }
    elements = [
        button(LINK_LABELS[kind], link_action_id(kind), url=str(url))
        for kind, url in urls.items()
        if url is not None and len(str(url)) <= URL_MAX
    ]
    return (
        {"type": "actions", "block_id": BlockId.LINKS.value, "elements": elements}
        if elements
        else None
    )
