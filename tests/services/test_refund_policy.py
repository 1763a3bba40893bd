"""The refund policy: one case failing each condition, the all-pass case, and the guardrails."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from services.refunds.policy import (
    Condition,
    RefundCase,
    StripePayment,
    StripeRefundFacts,
    evaluate,
    format_amount,
    guard,
    policy_version,
    round_amount,
    stripe_refund_facts,
)
from services.routing import RefundRules, RoutingConfigError
from tests.support.routing import make_routing

RULES = RefundRules(enabled=True, version="2026-11-a", limits={"USD": Decimal("100")})
PAYMENT = StripePayment(
    id="ch_1",
    kind="charge",
    amount=Decimal("49.00"),
    currency="USD",
    amount_refunded=Decimal("0.00"),
    status="succeeded",
    disputed=False,
)
FACTS = StripeRefundFacts(payment=PAYMENT, open_disputes=0)
PASSING = RefundCase(
    amount=Decimal("49.00"),
    currency="USD",
    system="stripe",
    match_confidence=0.95,
    email_verified=True,
    vip=False,
    high_value=False,
    stripe=FACTS,
)


def case(**changes: Any) -> RefundCase:
    return dataclasses.replace(PASSING, **changes)


def payment(**changes: Any) -> StripeRefundFacts:
    return StripeRefundFacts(dataclasses.replace(PAYMENT, **changes), open_disputes=0)


# (the case, the rules, the one condition it fails, words its reason must hold)
TABLE: dict[str, tuple[RefundCase, RefundRules, Condition, str]] = {
    "policy off": (PASSING, RefundRules(limits={"USD": Decimal("100")}), Condition.ENABLED, "off"),
    "over the limit": (
        case(amount=Decimal("100.01"), stripe=payment(amount=Decimal("200"))),
        RULES,
        Condition.LIMIT,
        "100.01 USD is above the 100.00 USD limit",
    ),
    "no limit for the currency": (
        case(currency="EUR", stripe=payment(currency="EUR")),
        RULES,
        Condition.LIMIT,
        "no automatic refund limit is set for EUR",
    ),
    "low confidence": (
        case(match_confidence=0.89),
        RULES,
        Condition.CONFIDENCE,
        "0.89 is below 0.90",
    ),
    "unknown confidence": (case(match_confidence=None), RULES, Condition.CONFIDENCE, "unknown"),
    "unverified email": (case(email_verified=False), RULES, Condition.EMAIL, "not verified"),
    "stripe facts unknown": (case(stripe=None), RULES, Condition.NO_DISPUTE, "not said yet"),
    "payment disputed": (
        case(stripe=payment(disputed=True)),
        RULES,
        Condition.NO_DISPUTE,
        "the payment is disputed",
    ),
    "customer has an open dispute": (
        case(stripe=StripeRefundFacts(PAYMENT, open_disputes=2)),
        RULES,
        Condition.NO_DISPUTE,
        "2 open disputes",
    ),
    "refunded before here": (
        case(refunded_before=Decimal("10")),
        RULES,
        Condition.FIRST_REFUND,
        "already refunded or on its way",
    ),
    "refunded before in stripe": (
        case(stripe=payment(amount=Decimal("99"), amount_refunded=Decimal("5.00"))),
        RULES,
        Condition.FIRST_REFUND,
        "Stripe already refunded 5.00 USD",
    ),
    "vip": (case(vip=True), RULES, Condition.NOT_VIP, "VIP"),
    "high value": (case(high_value=True), RULES, Condition.NOT_VIP, "high-value"),
    "too many for the customer": (
        case(recent_automatic=1),
        RULES,
        Condition.PER_CUSTOMER,
        "already had 1 automatic refund in the last 30 days (at most 1)",
    ),
    "crypto": (
        case(system="manual"),
        RefundRules(enabled=True, limits={"USD": Decimal("100")}),
        Condition.STRIPE_PAYMENT,
        "crypto is never automatic",
    ),
    "not a charge": (
        case(stripe=payment(kind="invoice")),
        RULES,
        Condition.STRIPE_PAYMENT,
        "not a Stripe charge",
    ),
    "more than was paid": (
        case(stripe=payment(amount=Decimal("20"))),
        RULES,
        Condition.STRIPE_PAYMENT,
        "more than the 20.00 USD paid",
    ),
}


def test_every_condition_has_a_failing_case() -> None:
    assert {condition for _, _, condition, _ in TABLE.values()} == set(Condition)


def test_all_conditions_hold_the_refund_is_automatic_with_its_rule() -> None:
    verdict = evaluate(PASSING, RULES)
    assert verdict.automatic
    assert verdict.failed == ()
    assert verdict.version == "2026-11-a"
    assert verdict.rule == (
        "refunds up to 100.00 USD, match confidence ≥ 0.90, verified email, no dispute, first "
        "refund of this payment, not a VIP or high-value case, at most 1 per customer in 30 "
        "days (policy 2026-11-a)"
    )


@pytest.mark.parametrize("name", list(TABLE))
def test_each_failed_condition_keeps_it_for_an_approver_and_says_why(name: str) -> None:
    refund, rules, condition, words = TABLE[name]
    verdict = evaluate(refund, rules)
    assert not verdict.automatic
    assert [f.condition for f in verdict.failed] == [condition], verdict.failed
    assert words in verdict.failed[0].reason


def test_the_limit_is_inclusive() -> None:
    at_limit = case(amount=Decimal("100.00"), stripe=payment(amount=Decimal("100.00")))
    assert evaluate(at_limit, RULES).automatic


def test_the_version_is_a_digest_of_the_section_when_not_named() -> None:
    unnamed = RefundRules(enabled=True, limits={"USD": Decimal("100")})
    assert policy_version(unnamed) == policy_version(unnamed.model_copy())
    assert len(policy_version(unnamed)) == 12
    changed = unnamed.model_copy(update={"grace_minutes": 5})
    assert policy_version(changed) != policy_version(unnamed)
    assert "(policy " + policy_version(unnamed) + ")" in evaluate(PASSING, unnamed).rule


def test_refunds_section_is_off_by_default_and_validated() -> None:
    assert make_routing().refunds.enabled is False
    parsed = make_routing(refunds={"enabled": True, "limits": {"usd": "100"}}).refunds
    assert parsed.limits == {"USD": Decimal("100")}
    with pytest.raises(RoutingConfigError, match="refunds"):
        make_routing(refunds={"limits": {"USD": "0"}})
    with pytest.raises(RoutingConfigError, match="refunds"):
        make_routing(refunds={"min_confidence": 2})


# ---- guardrails ------------------------------------------------------------------------------


def test_guard_refuses_a_disputed_charge() -> None:
    assert guard(Decimal("10"), "USD", payment(disputed=True)) == "the charge is disputed"


def test_guard_refuses_more_than_is_left_of_the_payment() -> None:
    facts = payment(amount=Decimal("49.00"), amount_refunded=Decimal("20.00"))
    assert guard(Decimal("29.00"), "USD", facts) is None
    reason = guard(Decimal("29.01"), "USD", facts)
    assert reason is not None and "more than the 29.00 USD left" in reason
    # Refunds of this bot that Stripe cannot show yet count too.
    assert guard(Decimal("19.00"), "USD", facts, Decimal("10.00")) is None
    reason = guard(Decimal("19.01"), "USD", facts, Decimal("10.00"))
    assert reason is not None and "more than the 19.00 USD left" in reason


def test_guard_partial_refunds_add_up_in_the_smallest_unit() -> None:
    facts = payment(amount=Decimal("0.30"))
    # Three refunds of 0.10 fill the payment exactly; Decimal keeps 0.1 + 0.1 + 0.1 exact.
    assert guard(Decimal("0.10"), "USD", facts, Decimal("0.1") + Decimal("0.1")) is None
    assert guard(Decimal("0.10"), "USD", facts, Decimal("0.21")) is not None
    jpy = StripeRefundFacts(dataclasses.replace(PAYMENT, amount=Decimal("500"), currency="JPY"), 0)
    assert guard(Decimal("500"), "JPY", jpy) is None
    assert guard(Decimal("501"), "JPY", jpy) is not None


def test_guard_refuses_another_currency_and_lets_unknown_payments_through() -> None:
    assert guard(Decimal("10"), "EUR", FACTS) == "the payment is in USD, the refund in EUR"
    assert guard(Decimal("10"), "USD", None) is None
    assert guard(Decimal("10"), "USD", StripeRefundFacts(None, 0)) is None


def test_amounts_round_down_to_the_currency_unit() -> None:
    assert round_amount(Decimal("49.999"), "USD") == Decimal("49.99")
    assert round_amount(Decimal("1000.9"), "JPY") == Decimal("1000")
    assert round_amount(Decimal("1.2345"), "KWD") == Decimal("1.234")
    assert round_amount(Decimal("0.123456789"), "BTC") == Decimal("0.12345678")
    assert format_amount(Decimal("1000"), "JPY") == "1,000 JPY"
    assert format_amount(Decimal("49"), "USD") == "49.00 USD"


# ---- the Stripe read connector's shape -------------------------------------------------------


def test_stripe_refund_facts_are_read_from_the_agreed_shape() -> None:
    context = {
        "stripe": {
            "refund_facts": {
                "payment": {
                    "id": "pi_9",
                    "kind": "payment_intent",
                    "amount": "49.00",
                    "currency": "usd",
                    "amount_refunded": "0.00",
                    "status": "succeeded",
                    "disputed": False,
                },
                "open_disputes": 0,
                "looked_up_at": "2026-11-30T10:00:00+00:00",
            }
        }
    }
    facts = stripe_refund_facts(context)
    assert facts is not None and facts.payment is not None
    assert (facts.payment.id, facts.payment.currency) == ("pi_9", "USD")
    assert facts.payment.amount == Decimal("49.00")
    none_found = {"stripe": {"refund_facts": {"payment": None, "open_disputes": 1}}}
    assert stripe_refund_facts(none_found) == StripeRefundFacts(None, 1)


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"stripe": {"found": True}},
        {"stripe": {"refund_facts": {"payment": None}}},
        {
            "stripe": {
                "refund_facts": {"payment": {"id": "ch_1", "amount": "x"}, "open_disputes": 0}
            }
        },
        {"stripe": {"refund_facts": {"payment": "ch_1", "open_disputes": 0}}},
    ],
)
def test_facts_not_in_the_shape_are_unknown(context: dict[str, Any]) -> None:
    assert stripe_refund_facts(context) is None
