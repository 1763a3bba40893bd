"""The Stripe section: what it says, that vendor text stays inert, the failure line, the Refresh
context button and the Home tab showing the same section."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from blocks.common import validate_view
from blocks.context_stripe import stripe_section
from blocks.handoff_context import context_texts, refresh_block
from blocks.home import home_view
from blocks.ids import ActionId
from connectors.stripe.mapping import amount, subscription
from services.home import HomeSnapshot
from tests.blocks.cards import NOW, example_card
from tests.blocks.test_home import DISPUTE

PAST_DUE: dict[str, Any] = {
    "found": True,
    "customer": {
        "id": "cus_1",
        "name": "Alder Street Health",
        "email": "treasury@alderstreet.example",
        "url": "https://dashboard.stripe.com/customers/cus_1",
    },
    "subscriptions": [
        {
            "id": "sub_1",
            "status": "past_due",
            "status_label": "Past due",
            "plan": "Enterprise",
            "amount": "24000.00",
            "currency": "GBP",
            "interval": "year",
            "current_period_end": "2026-12-07T00:00:00+00:00",
        }
    ],
    "latest_payment": {
        "id": "pi_1",
        "object": "payment_intent",
        "status": "requires_payment_method",
        "status_label": "Failed",
        "amount": "24000.00",
        "currency": "GBP",
        "failure_reason": "Your card was declined.",
        "created": "2026-11-28T10:00:00+00:00",
    },
    "flags": ["past_due", "payment_failed"],
    "looked_up_at": "2026-11-30T10:00:00+00:00",
}


def test_past_due_with_a_failed_payment_in_two_lines() -> None:
    drawn = stripe_section(PAST_DUE)
    assert drawn is not None
    assert drawn.url == "https://dashboard.stripe.com/customers/cus_1"
    assert drawn.url_label == "Alder Street Health"
    sub, pay = drawn.lines
    assert sub.startswith("Subscription *Past due* · Enterprise · 24,000.00 GBP / year")
    assert "period ends <!date^" in sub
    assert pay.startswith("Latest payment *Failed* · 24,000.00 GBP · <!date^")
    assert pay.endswith("Your card was declined.")


def test_no_customer_is_said_plainly() -> None:
    drawn = stripe_section({"found": False, "message": "No Stripe customer for this email"})
    assert drawn is not None and drawn.lines == ("No Stripe customer for this email",)


def test_a_failed_lookup_is_one_line_before_what_was_known() -> None:
    drawn = stripe_section({**PAST_DUE, "error": "Stripe gave up: Stripe refused the API key"})
    assert drawn is not None
    assert drawn.lines[0] == "⚠️ Stripe lookup failed: Stripe refused the API key"
    assert len(drawn.lines) == 3


def test_vendor_text_stays_inert() -> None:
    hostile = {
        **PAST_DUE,
        "latest_payment": {**PAST_DUE["latest_payment"], "failure_reason": "<!channel> *pay*"},
    }
    drawn = stripe_section(hostile)
    assert drawn is not None
    assert "<!channel>" not in drawn.lines[1] and "&lt;!channel&gt;" in drawn.lines[1]


def test_refresh_button_only_when_a_lookup_failed() -> None:
    card = example_card("vip_renewal_blocker")
    assert refresh_block(replace(card, context={"stripe": PAST_DUE})) is None
    failed = replace(card, context={"stripe": {**PAST_DUE, "error": "Stripe gave up: x"}})
    block = refresh_block(failed)
    assert block is not None
    assert block["elements"][0]["action_id"] == ActionId.REFRESH_CONTEXT.value


def test_the_home_tab_shows_the_same_section() -> None:
    item = replace(DISPUTE, context={"stripe": PAST_DUE})
    snap = HomeSnapshot(
        user_id="U0APPROVER1",
        mine=(item,),
        mine_total=1,
        overdue=0,
        counts={"open": 1},
        approver=False,
        awaiting=(),
        awaiting_total=0,
        recent=(),
    )
    view = home_view(snap, now=NOW, links={})
    validate_view(view)
    text = json.dumps(view, ensure_ascii=False)
    for drawn in context_texts({"stripe": PAST_DUE}):
        assert json.dumps(drawn, ensure_ascii=False)[1:-1] in text


def test_amounts_in_major_units_and_legacy_period_end() -> None:
    assert amount(4900, "usd") == "49.00"
    assert amount(5000, "jpy") == "5000"
    assert amount(12345, "kwd") == "12.345"
    legacy = {
        "id": "sub_x",
        "status": "canceled",
        "current_period_end": 1796601600,
        "items": {"data": [{"price": {"unit_amount": 1000, "currency": "eur"}, "quantity": 3}]},
    }
    mapped = subscription(legacy)
    assert (mapped["status_label"], mapped["amount"], mapped["currency"]) == (
        "Canceled",
        "30.00",
        "EUR",
    )
    assert mapped["current_period_end"] == "2026-12-07T00:00:00+00:00"
