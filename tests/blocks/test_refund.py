"""The refund line of a handoff message, in every state, and its buttons."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from blocks.audit import thread_note
from blocks.handoff import handoff_message
from blocks.ids import ActionId, BlockId
from blocks.refund import MANUAL_STEPS, refund_blocks
from blocks.trail import event_sentence
from services.cards import HandoffCard, RefundInfo
from services.events import BOT, Event, EventType
from services.handoff_model import Workflow
from services.notes import note_for
from tests.blocks.cards import NOW, example_card
from tests.blocks.checks import assert_within_limits

AT = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
RULE = (
    "refunds up to 100.00 USD, match confidence ≥ 0.90, verified email, no dispute, first "
    "refund of this payment, not a VIP or high-value case, at most 1 per customer in 30 days "
    "(policy 2026-11-a)"
)
STRIPE = RefundInfo(
    status="pending", system="stripe", amount=Decimal("49.00"), currency="USD", payment_ref="ch_1"
)


def refund_card(**changes: Any) -> HandoffCard:
    card = example_card("refund_with_bank_details")
    return replace(card, workflow=Workflow.REFUND, refund=replace(STRIPE, **changes))


def text_of(card: HandoffCard) -> str:
    return json.dumps(refund_blocks(card), ensure_ascii=False)


def buttons(card: HandoffCard) -> list[str]:
    return [
        element["action_id"]
        for block in refund_blocks(card)
        if block["type"] == "actions"
        for element in block["elements"]
    ]


SCHEDULED = {
    "status": "scheduled",
    "automatic": True,
    "policy_version": "2026-11-a",
    "rule": RULE,
    "decided_by": "policy",
    "execute_after": AT,
}


def test_scheduled_says_the_policy_rule_and_when_with_a_reverse_button() -> None:
    card = refund_card(**SCHEDULED)
    text = text_of(card)
    assert "Refunded automatically under policy 2026-11-a:" in text
    assert "refunds up to 100.00 USD, match confidence ≥ 0.90" in text
    assert f"<!date^{int(AT.timestamp())}^{{time}}|2026-11-30 14:05 UTC>" in text
    assert "unless reversed" in text
    assert buttons(card) == [ActionId.REVERSE_REFUND.value]
    [actions] = [b for b in refund_blocks(card) if b["type"] == "actions"]
    assert actions["block_id"] == BlockId.REFUND.value
    assert actions["elements"][0]["confirm"]  # a reversal is confirmed first


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"status": "released"}, "Refund of 49.00 USD sent to Stripe…"),
        ({"status": "processing", "external_id": "re_9"}, "processing in Stripe (`re_9`)"),
        (
            {"status": "succeeded", "external_id": "re_123"},
            "Refunded 49.00 USD in Stripe (`re_123`)",
        ),
        (
            {"status": "refused", "error": "the charge is disputed"},
            "Refund refused:* the charge is disputed",
        ),
        ({"status": "failed", "error": "card expired"}, "Stripe refund failed:* card expired"),
        ({"status": "reversed"}, "Automatic refund of 49.00 USD reversed"),
        ({"status": "marked", "system": "manual"}, "Refunded by hand:* 49.00 USD"),
    ],
)
def test_each_state_says_where_the_money_is_without_buttons(
    changes: dict[str, Any], words: str
) -> None:
    card = refund_card(**changes)
    assert words in text_of(card)
    assert buttons(card) == []


def test_pending_names_the_payment_and_why_it_is_not_automatic() -> None:
    card = refund_card(not_automatic=("150.00 USD is above the 100.00 USD limit",))
    text = text_of(card)
    assert "Refund of 49.00 USD* through Stripe (`ch_1`) once an approver approves" in text
    assert "Not automatic: 150.00 USD is above the 100.00 USD limit" in text


def test_manual_refund_shows_the_checklist_and_mark_refunded() -> None:
    card = refund_card(status="manual", system="manual", currency="USDT", payment_ref="txn_1")
    text = text_of(card)
    for step in MANUAL_STEPS:
        assert json.dumps(step, ensure_ascii=False)[1:-1] in text
    assert "crypto wallet" in text and "transaction hash" in text
    assert buttons(card) == [ActionId.MARK_REFUNDED.value]


def test_the_message_carries_the_refund_line_within_slack_limits() -> None:
    huge = "<!channel> *bold* " * 400
    for changes in (
        SCHEDULED | {"rule": huge},
        {"status": "refused", "error": huge},
        {"not_automatic": (huge, huge)},
        {"status": "manual", "system": "manual"},
    ):
        card = refund_card(**changes)
        message = handoff_message(card, now=NOW)
        assert_within_limits(message)
        assert "<!channel>" not in json.dumps(message)
    assert "Refunded automatically" in json.dumps(
        handoff_message(refund_card(**SCHEDULED), now=NOW), ensure_ascii=False
    )
    assert refund_blocks(replace(refund_card(), refund=None)) == []


# ---- thread notes and the audit trail ---------------------------------------------------------


def note_text(event_type: EventType, actor: str = BOT, **detail: Any) -> str:
    base = {"amount": "49.00", "currency": "USD", "system": "stripe", "payment_ref": "ch_1"}
    spec = note_for(Event(event_type, "h_1", actor, AT, {**base, **detail}))
    assert spec is not None
    note = thread_note(spec.action, spec.actor, spec.at, detail=spec.detail)
    assert_within_limits(note)
    return str(note["text"])


def test_every_refund_event_has_a_thread_note_and_a_trail_sentence() -> None:
    scheduled = note_text(
        EventType.REFUND_SCHEDULED,
        rule=RULE,
        policy_version="2026-11-a",
        execute_after=AT.isoformat(),
    )
    assert "scheduled automatically under policy 2026-11-a" in scheduled
    assert "executes at 14:05 UTC unless an approver reverses it" in scheduled
    assert "<@U0AP1> reversed the automatic refund of 49.00 USD" in note_text(
        EventType.REFUND_REVERSED, "U0AP1"
    )
    assert "Refund of 49.00 USD sent to Stripe." in note_text(EventType.REFUND_RELEASED)
    assert "Refunded 49.00 USD (re_1) in Stripe." in note_text(
        EventType.REFUND_SUCCEEDED, external_id="re_1"
    )
    assert "Refund refused: the charge is disputed." in note_text(
        EventType.REFUND_REFUSED, reason="the charge is disputed"
    )
    assert "card declined" in note_text(EventType.REFUND_FAILED, reason="card declined")
    assert "*Mark refunded*" in note_text(EventType.REFUND_MANUAL, "U0AP1")
    assert "<@U0AP1> marked the refund of 49.00 USD as sent by hand" in note_text(
        EventType.REFUND_MARKED, "U0AP1"
    )
    detail = {"amount": "49.00", "currency": "USD", "reason": "the charge is disputed"}
    for event_type in (t for t in EventType if t.value.startswith("refund_")):
        sentence = event_sentence(event_type.value, "U0AP1", detail, {})
        assert "refund" in sentence.lower(), event_type
    assert event_sentence("refund_released", BOT, detail, {}).endswith("(after the grace window)")
