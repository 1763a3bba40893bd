from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.handoff_model import Handoff, Urgency, Workflow
from services.routing import (
    ReviewFlag,
    RoutingConfigError,
    decide,
    is_approver,
    load_routing,
    needs_two_approvers,
    parse_routing,
)
from tests.support.examples import example
from tests.support.routing import TEST_ROUTING, make_routing

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def handoff(**fields: Any) -> Handoff:
    base: dict[str, Any] = {
        "schema_version": "1",
        "call_id": "dnx_t",
        "occurred_at": "2026-11-26T10:00:00Z",
        "caller_request": "Question about a bill",
    }
    base.update(fields)
    return Handoff.model_validate(base)


@pytest.mark.parametrize(
    ("fields", "channel"),
    [
        ({"workflow": "dispute"}, "C0FINDISPUTES"),
        ({"billing": {"dispute_reason": "charged twice"}}, "C0FINDISPUTES"),
        ({"billing": {"refund_reason": "cancelled"}}, "C0FINDISPUTES"),
        ({"workflow": "collections"}, "C0FINCOLLECT"),
        ({"workflow": "receipt_resend"}, "C0FINANCE"),
        ({}, "C0FINANCE"),
    ],
    ids=["dispute", "inferred-dispute", "inferred-refund", "collections", "unrouted", "other"],
)
def test_channel_per_workflow_with_default(fields: dict[str, Any], channel: str) -> None:
    assert decide(handoff(**fields), make_routing(), now=NOW).channel == channel


@pytest.mark.parametrize(
    ("fields", "urgency", "reason"),
    [
        ({"urgency": "low"}, Urgency.LOW, None),
        ({}, Urgency.NORMAL, None),
        ({"urgency": "urgent"}, Urgency.URGENT, None),
        ({"urgency": "low", "customer": {"vip": True}}, Urgency.HIGH, "VIP customer"),
        ({"billing": {"amount": "5000.00", "currency": "USD"}}, Urgency.HIGH, "high amount"),
        ({"billing": {"amount": "4999.99", "currency": "USD"}}, Urgency.NORMAL, None),
        ({"billing": {"amount": "-6000", "currency": "EUR"}}, Urgency.HIGH, "high amount"),
        ({"billing": {"amount": "900000", "currency": "JPY"}}, Urgency.NORMAL, None),
        ({"workflow": "dispute", "urgency": "low"}, Urgency.HIGH, "dispute"),
        ({"follow_up": {"deadline": "2026-11-27T11:00:00Z"}}, Urgency.HIGH, "deadline within 24 h"),
        ({"follow_up": {"deadline": "2026-11-27T13:00:00Z"}}, Urgency.NORMAL, None),
        ({"follow_up": {"deadline": "2026-11-25T13:00:00Z"}}, Urgency.HIGH, "deadline passed"),
        ({"urgency": "urgent", "customer": {"vip": True}}, Urgency.URGENT, "VIP customer"),
    ],
    ids=[
        "low",
        "default-normal",
        "urgent-kept",
        "vip",
        "amount-at-limit",
        "amount-below",
        "negative-amount",
        "unlisted-currency",
        "dispute",
        "deadline-23h",
        "deadline-25h",
        "deadline-passed",
        "never-lowered",
    ],
)
def test_urgency_is_raised_never_lowered(
    fields: dict[str, Any], urgency: Urgency, reason: str | None
) -> None:
    decision = decide(handoff(**fields), make_routing(), now=NOW)
    assert decision.urgency is urgency
    assert decision.urgent is (urgency.rank >= Urgency.HIGH.rank)
    if reason:
        assert reason in decision.urgent_reasons
    else:
        assert decision.urgent_reasons == ()


@pytest.mark.parametrize(
    ("fields", "flag", "expected"),
    [
        ({"match_confidence": 0.79}, ReviewFlag.LOW_CONFIDENCE, True),
        ({"match_confidence": 0.8}, ReviewFlag.LOW_CONFIDENCE, False),
        ({"sensitive": {"suppress": True}}, ReviewFlag.SENSITIVE_DATA, True),
        ({}, ReviewFlag.SENSITIVE_DATA, False),
        ({"customer": {"vip": True}}, ReviewFlag.HIGH_VALUE_CUSTOMER, True),
        ({"billing": {"amount": "10000", "currency": "EUR"}}, ReviewFlag.HIGH_VALUE_CUSTOMER, True),
        ({"workflow": "refund"}, ReviewFlag.CHANGES_MONEY, True),
        ({"workflow": "create_invoice"}, ReviewFlag.CHANGES_MONEY, True),
        ({"workflow": "receipt_resend"}, ReviewFlag.CHANGES_MONEY, False),
        ({"workflow": "subscription_change"}, ReviewFlag.CHANGES_ACCESS, True),
        ({"workflow": "dispute"}, ReviewFlag.LEGAL_TERMS, True),
        ({"workflow": "tax_or_billing_address_correction"}, ReviewFlag.LEGAL_TERMS, True),
        ({"follow_up": {"next_step": "Call back"}}, ReviewFlag.CUSTOMER_COMMITMENT, True),
        ({"follow_up": {"finance_owner": "U0X1"}}, ReviewFlag.CUSTOMER_COMMITMENT, False),
        (
            {"customer": {"email": "a@b.example", "email_verified": False}},
            ReviewFlag.UNVERIFIED_EMAIL,
            True,
        ),
        (
            {"customer": {"email": "a@b.example", "email_verified": True}},
            ReviewFlag.UNVERIFIED_EMAIL,
            False,
        ),
    ],
)
def test_review_flags(fields: dict[str, Any], flag: ReviewFlag, expected: bool) -> None:
    assert (flag in decide(handoff(**fields), make_routing(), now=NOW).review_flags) is expected


def test_a_request_typed_in_slack_is_not_a_customer_commitment() -> None:
    fields = {"follow_up": {"next_step": "Send the approved invoice to the customer"}}
    typed = decide(handoff(**fields), make_routing(), now=NOW, from_slack=True)
    called = decide(handoff(**fields), make_routing(), now=NOW)
    assert ReviewFlag.CUSTOMER_COMMITMENT not in typed.review_flags
    assert ReviewFlag.CUSTOMER_COMMITMENT in called.review_flags


def test_redaction_found_raises_sensitive_flag() -> None:
    decision = decide(handoff(), make_routing(), now=NOW, sensitive_found=True)
    assert ReviewFlag.SENSITIVE_DATA in decision.review_flags


def test_missing_fields_are_named_and_flag_needs_mapping() -> None:
    bare = decide(handoff(), make_routing(), now=NOW)
    assert bare.missing_fields == (
        "destination object",
        "owner",
        "status",
        "urgency",
        "next step",
        "record URL",
    )
    assert bare.needs_mapping
    partial = decide(
        Handoff.model_validate(example("collections_promise")), make_routing(), now=NOW
    )
    assert partial.missing_fields == ("record URL",)
    assert partial.needs_mapping


def test_complete_handoff_is_mapped() -> None:
    data = example("refund_with_bank_details")
    decision = decide(Handoff.model_validate(data), make_routing(), now=NOW)
    assert decision.missing_fields == ()
    assert not decision.needs_mapping


@pytest.mark.parametrize(
    ("amount", "currency", "threshold", "expected"),
    [
        ("9999.99", "EUR", None, False),
        ("10000", "EUR", None, True),
        ("8000", "GBP", None, True),
        ("50000", "JPY", None, False),
        ("500", "USD", "400", True),
        ("300", "USD", "400", False),
        (None, None, "1", False),
    ],
)
def test_two_person_threshold(
    amount: str | None, currency: str | None, threshold: str | None, expected: bool
) -> None:
    assert (
        needs_two_approvers(
            Decimal(amount) if amount else None,
            currency,
            make_routing(),
            handoff_threshold=Decimal(threshold) if threshold else None,
        )
        is expected
    )


def test_workflow_inference_when_absent() -> None:
    assert handoff(billing={"dispute_reason": "x"}).effective_workflow is Workflow.DISPUTE
    assert handoff(billing={"refund_reason": "x"}).effective_workflow is Workflow.REFUND
    assert handoff(billing={"credit_request": "x"}).effective_workflow is Workflow.CREDIT_REQUEST
    assert handoff(billing={"payment_status": "overdue"}).effective_workflow is Workflow.COLLECTIONS
    assert (
        handoff(customer={"vip": True}, billing={"payment_status": "overdue"}).effective_workflow
        is Workflow.VIP_PAYMENT_BLOCKER
    )
    assert (
        handoff(billing={"invoice_number": "INV-1", "payment_status": "paid"}).effective_workflow
        is Workflow.RECEIPT_RESEND
    )
    assert (
        handoff(billing={"amount": "10", "currency": "USD"}).effective_workflow
        is Workflow.CREATE_INVOICE
    )
    assert handoff().effective_workflow is Workflow.OTHER
    assert (
        handoff(workflow="refund", billing={"dispute_reason": "x"}).effective_workflow
        is Workflow.REFUND
    )


def test_approvers_are_named_users_or_group_members() -> None:
    config = make_routing()
    assert is_approver("U0APPROVER1", config)
    assert not is_approver("U0OUTSIDER", config)
    assert is_approver("U0GROUPMEMBER", config, group_members=["U0GROUPMEMBER"])


def test_example_routing_file_parses() -> None:
    config = load_routing(ROOT / "routing.example.toml")
    assert config.channels.default == "#finance"
    assert config.approvals.two_person_at["EUR"] == Decimal("10000")
    assert [s.notify for s in config.reminders.ladder] == ["owner", "lead", "channel"]
    assert config.finance.usergroups == ["S0FINANCE"]


def test_finance_section_is_optional_and_checked() -> None:
    bare = parse_routing({"channels": {"default": "C0FIN"}})
    assert (bare.finance.users, bare.finance.usergroups) == ([], [])
    with pytest.raises(RoutingConfigError, match=r"finance\.members"):
        parse_routing({**TEST_ROUTING, "finance": {"members": ["U1"]}})
    with pytest.raises(RoutingConfigError, match=r"finance\.users"):
        parse_routing({**TEST_ROUTING, "finance": {"users": "U1"}})


def test_bad_routing_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError, match=r"approvals\.two_person_at\.EUR"):
        parse_routing({**TEST_ROUTING, "approvals": {"two_person_at": {"EUR": "ten"}}})
    with pytest.raises(RoutingConfigError, match="channels"):
        parse_routing({})
    with pytest.raises(RoutingConfigError, match=r"routing\.example\.toml"):
        load_routing(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[channels\n")
    with pytest.raises(RoutingConfigError, match="not valid TOML"):
        load_routing(tmp_path / "bad.toml")
