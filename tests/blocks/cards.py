"""Build ``HandoffCard`` values from the example handoffs, in any state, for the builder tests."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.cards import ActionMark, ApprovalMark, HandoffCard, InvoiceInfo
from services.handoff_model import Handoff
from services.routing import decide
from services.states import HandoffStatus
from tests.support.examples import example
from tests.support.routing import make_routing

__all__ = ["NOW", "card_from", "example_card", "state_card"]

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
APPROVER_1, APPROVER_2, LEAD = "U0APPROVER1", "U0APPROVER2", "U0FINLEAD"
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")

# A stand-in for services.redaction so the goldens never hold the raw numbers in the examples
# (the real redaction has its own tests; these only need redacted-looking text).
_STAND_IN_REDACTIONS = [
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){4,7}(?: ?[A-Z0-9]{1,3})?\b"), "[bank details]"),
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[card number]"),
    (re.compile(r"\b[A-Z]{2}\d{9,12}\b"), "[tax identifier]"),
]


def _scrub(text: str | None) -> str | None:
    if text is None:
        return None
    for pattern, label in _STAND_IN_REDACTIONS:
        text = pattern.sub(label, text)
    return text


def card_from(
    data: dict[str, Any], status: HandoffStatus = HandoffStatus.OPEN, **changes: Any
) -> HandoffCard:
    """A card for one handoff body as the services would build it right after intake."""
    raw = Handoff.model_validate(data)
    handoff = raw.model_copy(
        update={
            "findings": _scrub(raw.findings),
            "transcript_excerpt": _scrub(raw.transcript_excerpt),
            "caller_request": _scrub(raw.caller_request) or raw.caller_request,
        }
    )
    decision = decide(handoff, make_routing(), now=NOW)
    follow_up, billing = handoff.follow_up, handoff.billing
    owner = follow_up.finance_owner if follow_up else None
    card = HandoffCard(
        handoff_id="h_" + handoff.call_id.removeprefix("dnx_call_").lower(),
        call_id=handoff.call_id,
        kind="handoff",
        handoff=handoff,
        workflow=handoff.effective_workflow,
        urgency=decision.urgency,
        urgent=decision.urgent,
        status=status,
        channel=decision.channel,
        urgent_reasons=decision.urgent_reasons,
        review_flags=decision.review_flags,
        missing_fields=decision.missing_fields,
        redacted=tuple(c.value for c in handoff.sensitive.categories) if handoff.sensitive else (),
        owner=owner,
        owner_slack_id=owner if owner and _SLACK_USER.match(owner) else None,
        deadline=follow_up.deadline if follow_up else None,
        amount=billing.amount_decimal if billing else None,
        currency=billing.currency if billing else None,
        two_person=decision.two_person,
        mention_group="S0FINANCE",
    )
    return replace(card, **changes)


def example_card(
    name: str, status: HandoffStatus = HandoffStatus.OPEN, **changes: Any
) -> HandoffCard:
    """A card for one of the repo's example handoffs."""
    return card_from(example(name), status, **changes)


def _at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def _invoice(status: str, **changes: Any) -> InvoiceInfo:
    info = InvoiceInfo(
        order_number="h_inv2041-1",
        status=status,
        amount=Decimal("4200.00"),
        currency="USD",
        txn_id="6431f0a5e7c3b2d19a8f0e41",
        url="https://plisio.example/invoice/6431f0a5e7c3b2d19a8f0e41",
    )
    return replace(info, **changes)


def state_card(state: str) -> tuple[HandoffCard, datetime]:
    """The create_invoice example in one named state, with the ``now`` to render it at."""
    one = (ApprovalMark(APPROVER_1, _at(-20)),)
    base = example_card("create_invoice")
    s = HandoffStatus
    cards: dict[str, HandoffCard] = {
        "open": base,
        "two_person_open": replace(base, two_person=True),
        "partly_approved": replace(base, status=s.PARTLY_APPROVED, two_person=True, approvals=one),
        "processing": replace(base, status=s.PROCESSING, approvals=one),
        "action_failed": replace(
            base,
            status=s.ACTION_FAILED,
            approvals=one,
            invoice=_invoice(
                "failed", txn_id=None, url=None, error="Plisio API: rate limit exceeded"
            ),
            actions=(ActionMark("escalated", LEAD, _at(-5), "Customer is waiting on the phone"),),
        ),
        "approved": replace(base, status=s.APPROVED, approvals=one),
        "invoiced": replace(base, status=s.INVOICED, approvals=one, invoice=_invoice("new")),
        "paid": replace(
            base, status=s.PAID, approvals=one, invoice=_invoice("completed", paid=True)
        ),
        "underpaid": replace(
            base,
            status=s.INVOICED,
            approvals=one,
            invoice=_invoice(
                "mismatch",
                payment_state="underpaid",
                expected=Decimal("4200.00"),
                expected_currency="USDT",
                received=Decimal("3900.5"),
                received_currency="USDT",
            ),
        ),
        "overpaid": replace(
            base,
            status=s.PAID,
            approvals=one,
            invoice=_invoice(
                "mismatch",
                paid=True,
                payment_state="overpaid",
                expected=Decimal("4200.00"),
                expected_currency="USDT",
                received=Decimal("4250"),
                received_currency="USDT",
            ),
        ),
        "expired": replace(
            base,
            status=s.INVOICED,
            approvals=one,
            invoice=_invoice("expired", payment_state="expired"),
        ),
        "payment_review": replace(
            base,
            status=s.INVOICED,
            approvals=one,
            invoice=_invoice(
                "completed",
                payment_state="review",
                review_reason="Plisio reports the invoice in EUR, but it was issued in USD",
            ),
        ),
        "reissued": replace(
            base,
            status=s.PROCESSING,
            approvals=one,
            invoice=_invoice("creating", order_number="dnx_call_INV2041-r2", txn_id=None, url=None),
            superseded_invoices=(_invoice("expired", payment_state="expired", superseded=True),),
            actions=(ActionMark("reissued", APPROVER_1, _at(-1)),),
        ),
        "declined": replace(
            base,
            status=s.DECLINED,
            decline_reason="Quote Q-7710 expired; ask sales for a new one",
            actions=(
                ActionMark(
                    "declined",
                    APPROVER_2,
                    _at(-10),
                    "Quote Q-7710 expired; ask sales for a new one",
                ),
            ),
        ),
        "done": replace(
            base,
            status=s.DONE,
            approvals=one,
            actions=(ActionMark("done", "U0BILLINGOPS", _at(-3)),),
        ),
        "overdue": base,
        "sandbox": replace(base, sandbox=True),
        "identity_check": card_from(example("create_invoice", match_confidence=0.6)),
    }
    now = datetime(2026, 11, 27, 19, 5, tzinfo=UTC) if state == "overdue" else NOW
    return cards[state], now
