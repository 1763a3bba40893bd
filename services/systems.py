"""The connected systems' names as people read them ("google_sheets" is "Google Sheets")."""

from __future__ import annotations

__all__ = ["SYSTEM_NAMES", "system_name"]

SYSTEM_NAMES: dict[str, str] = {
    "plisio": "Plisio",
    "stripe": "Stripe",
    "stripe_refunds": "Stripe refunds",
    "hubspot": "HubSpot",
    "zendesk": "Zendesk",
    "google_sheets": "Google Sheets",
    "google_drive": "Google Drive",
    "gmail": "Gmail",
    "quickbooks": "QuickBooks",
}


def system_name(connector: str) -> str:
    """How a connector's system is named in Slack; anything else as it is."""
    return SYSTEM_NAMES.get(connector, connector)
