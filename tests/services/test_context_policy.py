"""What the connected systems' context adds to a handoff: review reasons and urgency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from services.context_policy import (
    FAILED_PAYMENT,
    PAST_DUE,
    ContextFindings,
    PolicyState,
    apply,
    assess,
    row_policy,
)
from services.routing import ContextRules, ReviewFlag, parse_routing

TODAY = date(2026, 11, 30)


def stripe(*, flags: list[str] | None = None, status: str = "active", paid: bool = True) -> Any:
    return {
        "found": True,
        "subscriptions": [{"id": "sub_1", "status": status}],
        "latest_payment": {
            "status": "succeeded" if paid else "requires_payment_method",
            "status_label": "Succeeded" if paid else "Failed",
        },
        "flags": flags or [],
    }


def hubspot(close: str | None) -> Any:
    return {"found": True, "renewal": {"close_date": close} if close else None}


def test_past_due_and_failed_payment_are_reasons_and_urgent() -> None:
    found = assess({"stripe": stripe(status="past_due", paid=False)}, ContextRules(), today=TODAY)
    assert found.review_flags == (ReviewFlag.PAST_DUE, ReviewFlag.PAYMENT_FAILED)
    assert found.urgent_reasons == (PAST_DUE, FAILED_PAYMENT)
    by_flags = assess({"stripe": stripe(flags=["past_due"])}, ContextRules(), today=TODAY)
    assert by_flags.review_flags == (ReviewFlag.PAST_DUE,)
    assert assess({"stripe": stripe()}, ContextRules(), today=TODAY) == ContextFindings()
    assert assess({"stripe": {"found": False}}, ContextRules(), today=TODAY) == ContextFindings()


def test_each_rule_can_be_turned_off() -> None:
    ctx = {"stripe": stripe(status="past_due", paid=False), "hubspot": hubspot("2026-12-01")}
    rules = ContextRules(
        past_due_review=False,
        failed_payment_review=False,
        past_due_urgent=False,
        failed_payment_urgent=False,
        renewal_within_days=0,
    )
    assert assess(ctx, rules, today=TODAY) == ContextFindings()
    only_review = ContextRules(past_due_urgent=False, failed_payment_urgent=False)
    found = assess(ctx, only_review, today=TODAY)
    assert found.urgent_reasons == () and ReviewFlag.PAST_DUE in found.review_flags


def test_a_renewal_within_the_days_is_a_reason_not_urgency() -> None:
    rules = ContextRules(renewal_within_days=14)
    assert assess({"hubspot": hubspot("2026-12-14")}, rules, today=TODAY) == ContextFindings(
        (ReviewFlag.RENEWAL_SOON,), ()
    )
    assert assess({"hubspot": hubspot("2026-12-15")}, rules, today=TODAY) == ContextFindings()
    assert assess({"hubspot": hubspot(None)}, rules, today=TODAY) == ContextFindings()
    assert assess({"hubspot": {"found": False}}, rules, today=TODAY) == ContextFindings()


def test_apply_adds_to_intakes_flags_and_raises_urgency_like_intake() -> None:
    state = PolicyState(("changes_money",), "normal", False, {"urgent_reasons": ["VIP customer"]})
    found = ContextFindings((ReviewFlag.PAST_DUE,), (PAST_DUE,))
    after = apply(state, found)
    assert after.review_flags == ("changes_money", "past_due")
    assert (after.urgency, after.urgent) == ("high", True)
    assert after.resolution["urgent_reasons"] == ["VIP customer", PAST_DUE]
    assert apply(after, found) == after  # stable when nothing changed
    # A refresh that finds it paid again gives back what the context alone added.
    cleared = apply(after, ContextFindings())
    assert cleared.review_flags == ("changes_money",)
    assert (cleared.urgency, cleared.urgent) == ("normal", False)
    assert cleared.resolution == {"urgent_reasons": ["VIP customer"]}


def test_apply_leaves_a_higher_urgency_alone() -> None:
    state = PolicyState((), "urgent", True, {"urgent_reasons": ["dispute"]})
    after = apply(state, ContextFindings((), (FAILED_PAYMENT,)))
    assert (after.urgency, after.urgent) == ("urgent", True)
    assert apply(after, ContextFindings()) == PolicyState(
        (), "urgent", True, {"urgent_reasons": ["dispute"]}
    )


def test_row_policy_updates_a_row_and_says_so() -> None:
    row = SimpleNamespace(
        review_flags=[],
        urgency="normal",
        urgent=False,
        resolution={"urgent_reasons": []},
        context={"stripe": stripe(flags=["payment_failed"])},
    )
    run = row_policy(ContextRules)
    assert run(row, datetime(2026, 11, 30, tzinfo=UTC)) is True
    assert row.review_flags == ["payment_failed"] and row.urgent is True
    assert row.resolution["urgent_reasons"] == [FAILED_PAYMENT]
    assert run(row, datetime(2026, 11, 30, tzinfo=UTC)) is False


def test_routing_toml_context_section() -> None:
    config = parse_routing(
        {
            "channels": {"default": "C1"},
            "context": {"renewal_within_days": 30, "past_due_urgent": False},
        }
    )
    assert config.context.renewal_within_days == 30 and not config.context.past_due_urgent
    assert parse_routing({"channels": {"default": "C1"}}).context == ContextRules()
