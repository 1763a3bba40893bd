"""The Account section drawn from HubSpot's context."""

from __future__ import annotations

from typing import Any

from blocks.context_hubspot import hubspot_section
from blocks.handoff_context import RENDERERS

FOUND: dict[str, Any] = {
    "found": True,
    "contact": {"id": "101", "url": "https://app.hubspot.com/contacts/1/record/0-1/101"},
    "owner": {"name": "Ana Ruiz", "email": "ana@acme.example", "slack_id": "U0ANA"},
    "company": {"id": "5", "name": "Harbor & Finch LLC", "url": "https://app.hubspot.com/c/5"},
    "lifecycle_stage": "customer",
    "renewal": {
        "id": "9",
        "name": "Harbor & Finch renewal 2027",
        "close_date": "2026-12-07",
        "amount": "12000.00",
        "currency": "USD",
        "url": "https://app.hubspot.com/d/9",
    },
    "looked_up_at": "2026-11-30T07:00:00+00:00",
}


def test_it_is_registered() -> None:
    assert RENDERERS["hubspot"] is hubspot_section


def test_owner_mention_company_stage_and_renewal() -> None:
    drawn = hubspot_section(FOUND)
    assert drawn is not None and drawn.title == "Account"
    assert drawn.url == FOUND["contact"]["url"]
    first, second = drawn.lines
    assert first == (
        "*Owner:* <@U0ANA> · <https://app.hubspot.com/c/5|Harbor &amp; Finch LLC> · Customer"
    )
    assert second == (
        "*Renewal:* <https://app.hubspot.com/d/9|Harbor &amp; Finch renewal 2027> · "
        "closes 7 Dec 2026 · 12,000.00 USD"
    )


def test_owner_without_slack_user_is_a_name_and_no_renewal_is_said() -> None:
    ctx = {**FOUND, "owner": {"name": "Ana Ruiz", "slack_id": None}, "renewal": None}
    drawn = hubspot_section(ctx)
    assert drawn is not None
    assert drawn.lines[0].startswith("*Owner:* Ana Ruiz · ")
    assert drawn.lines[1] == "No open renewal"


def test_not_found_is_said_plainly_and_an_error_leads() -> None:
    drawn = hubspot_section({"found": False, "message": "No HubSpot contact for this email"})
    assert drawn is not None and drawn.lines == ("No HubSpot contact for this email",)
    assert drawn.url is None
    failed = hubspot_section(
        {**FOUND, "error": "HubSpot gave up: HubSpot refused the access token"}
    )
    assert failed is not None and failed.lines[0].startswith("⚠️ HubSpot gave up")
    assert hubspot_section({}) is None


def test_vendor_text_is_inert() -> None:
    ctx = {
        **FOUND,
        "owner": {"name": "<!channel> *bold*", "slack_id": "<!here>"},
        "company": {"name": "<https://evil.example|click>", "url": "javascript:alert(1)"},
    }
    drawn = hubspot_section(ctx)
    assert drawn is not None
    assert "<!channel>" not in drawn.lines[0] and "<!here>" not in drawn.lines[0]
    assert "<https://evil.example" not in drawn.lines[0] and "javascript:" not in drawn.lines[0]
