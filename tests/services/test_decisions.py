"""Outcome mapping: what a decision's result means for the person who asked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.cards import ActionMark, ApprovalMark, HandoffCard, InvoiceInfo
from services.decisions import (
    ERROR,
    REFUSALS,
    Decided,
    decided_by,
    not_decidable,
    refusal_code,
    refused_status,
    reissue_refusal_code,
)
from services.handoffs import DecisionResult, Outcome
from services.states import HandoffStatus
from tests.blocks.cards import example_card

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)


def card(status: HandoffStatus = HandoffStatus.OPEN, **changes: object) -> HandoffCard:
    return example_card("create_invoice", status, **changes)


def invoice(payment_state: str | None, *, superseded: bool = False) -> InvoiceInfo:
    return InvoiceInfo(
        order_number="h_1-1",
        status="expired",
        amount=Decimal("10.00"),
        currency="USD",
        payment_state=payment_state,
        superseded=superseded,
    )


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome.NOT_FOUND, "not_found"),
        (Outcome.NOT_APPROVER, "not_approver"),
        (Outcome.SAME_APPROVER, "same_approver"),
        (Outcome.OWN_REQUEST, "own_request"),
        (Outcome.ALREADY_DECIDED, "already_decided"),
        (Outcome.CLOSED, "closed"),
        (Outcome.NOT_APPLICABLE, "closed"),
        (Outcome.AWAITING_APPROVAL, "awaiting_approval"),
        (Outcome.UNPAID, "unpaid"),
        (Outcome.IDENTITY_REQUIRED, ERROR),
    ],
)
def test_refusal_code(outcome: Outcome, code: str) -> None:
    assert refusal_code(DecisionResult(outcome)) == code


def test_every_refusing_outcome_but_identity_has_a_code() -> None:
    refusing = {o for o in Outcome if not DecisionResult(o).ok}
    assert refusing - set(REFUSALS) == {Outcome.IDENTITY_REQUIRED}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (HandoffStatus.DECLINED, "already_declined"),
        (HandoffStatus.APPROVED, "already_decided"),
        (HandoffStatus.PAID, "already_decided"),
    ],
)
def test_already_decided_says_declined_when_it_was(status: HandoffStatus, code: str) -> None:
    result = DecisionResult(Outcome.ALREADY_DECIDED, card=card(status))
    assert refusal_code(result) == code


def test_a_declined_card_does_not_change_other_codes() -> None:
    result = DecisionResult(Outcome.CLOSED, card=card(HandoffStatus.DECLINED))
    assert refusal_code(result) == "closed"


@pytest.mark.parametrize(
    ("the_card", "status"),
    [
        (None, None),
        (card(HandoffStatus.OPEN), "open"),
        (card(HandoffStatus.PAID), "paid"),
        (card(HandoffStatus.INVOICED), "invoiced"),
        (card(HandoffStatus.INVOICED, invoice=invoice(None)), "invoiced"),
        (card(HandoffStatus.INVOICED, invoice=invoice("expired")), "invoiced_review"),
        (card(HandoffStatus.INVOICED, invoice=invoice("underpaid")), "invoiced_review"),
        (
            card(HandoffStatus.INVOICED, invoice=invoice("expired", superseded=True)),
            "invoiced",
        ),
        (card(HandoffStatus.PAID, invoice=invoice("expired")), "paid"),
    ],
)
def test_refused_status(the_card: HandoffCard | None, status: str | None) -> None:
    assert refused_status(the_card) == status


ONE = (ApprovalMark("U0APPROVER1", AT),)


@pytest.mark.parametrize(
    ("the_card", "user", "why"),
    [
        (card(), "U0APPROVER1", None),
        (card(HandoffStatus.PARTLY_APPROVED, approvals=ONE), "U0APPROVER2", None),
        (card(HandoffStatus.PARTLY_APPROVED, approvals=ONE), "U0APPROVER1", "same_approver"),
        (card(HandoffStatus.DECLINED), "U0APPROVER1", "already_declined"),
        (card(HandoffStatus.APPROVED, approvals=ONE), "U0APPROVER2", "already_decided"),
        (card(HandoffStatus.PROCESSING, approvals=ONE), "U0APPROVER2", "already_decided"),
        (card(HandoffStatus.DONE), "U0APPROVER1", "closed"),
        (card(HandoffStatus.ACTION_FAILED), "U0APPROVER1", "closed"),
    ],
)
def test_not_decidable(the_card: HandoffCard, user: str, why: str | None) -> None:
    assert not_decidable(the_card, user) == why


def test_decided_by_names_the_last_decliner() -> None:
    declined = card(
        HandoffStatus.DECLINED,
        actions=(
            ActionMark("escalated", "U0FINLEAD", AT),
            ActionMark("declined", "U0APPROVER1", AT),
            ActionMark("declined", "U0APPROVER2", LATER),
        ),
    )
    assert decided_by("already_declined", declined) == Decided("U0APPROVER2", LATER)


def test_decided_by_names_the_last_approver() -> None:
    two = (*ONE, ApprovalMark("U0APPROVER2", LATER))
    approved = card(HandoffStatus.APPROVED, approvals=two)
    assert decided_by("already_decided", approved) == Decided("U0APPROVER2", LATER)


@pytest.mark.parametrize(
    ("code", "the_card"),
    [
        ("already_declined", card(HandoffStatus.DECLINED)),  # declined without a mark
        ("already_decided", card(HandoffStatus.APPROVED)),  # no approvals recorded
        ("closed", card(HandoffStatus.DONE, approvals=ONE)),
        ("same_approver", card(approvals=ONE)),
    ],
)
def test_decided_by_is_empty_otherwise(code: str, the_card: HandoffCard) -> None:
    assert decided_by(code, the_card) == Decided()


@pytest.mark.parametrize(
    ("by", "code"), [("U0APPROVER2", "already_reissued"), (None, "not_reissuable")]
)
def test_reissue_refusal_code(by: str | None, code: str) -> None:
    assert reissue_refusal_code(DecisionResult(Outcome.NOT_APPLICABLE, by=by)) == code
