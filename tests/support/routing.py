"""The routing configuration the tests run with (the repo's example file is tested separately)."""

from __future__ import annotations

from typing import Any

from services.routing import RoutingConfig, parse_routing

__all__ = ["TEST_ROUTING", "make_routing"]

TEST_ROUTING: dict[str, Any] = {
    "channels": {
        "default": "C0FINANCE",
        "escalation": "C0FINESCALATE",
        "dispute": "C0FINDISPUTES",
        "refund": "C0FINDISPUTES",
        "collections": "C0FINCOLLECT",
    },
    "mentions": {"finance_group": "S0FINANCE", "finance_lead": "U0FINLEAD"},
    "approvers": {"users": ["U0APPROVER1"], "usergroups": ["S0APPROVERS"]},
    "finance": {"users": [], "usergroups": ["S0FINANCE"]},
    "approvals": {"two_person_at": {"USD": "10000", "EUR": "10000", "GBP": "8000"}},
    "urgency": {"high_amount_at": {"USD": "5000", "EUR": "5000"}, "deadline_within_hours": 24},
    "review": {"low_confidence_below": 0.8, "high_value_at": {"USD": "10000", "EUR": "10000"}},
}


def make_routing(**overrides: Any) -> RoutingConfig:
    data = {**TEST_ROUTING, **overrides}
    return parse_routing(data, source="tests")
