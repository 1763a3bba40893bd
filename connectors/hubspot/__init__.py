"""HubSpot (read): the account owner, company, lifecycle stage and open renewal of a customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.hubspot.client import WINDOW_SECONDS, HubSpotClient
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.errors import HubSpotError, HubSpotRefused, HubSpotUnavailable
from connectors.pacing import RateLimiter

if TYPE_CHECKING:
    from connectors.registry import ConnectorDeps

__all__ = [
    "HubSpotClient",
    "HubSpotConnector",
    "HubSpotError",
    "HubSpotRefused",
    "HubSpotUnavailable",
    "build",
]


def build(deps: ConnectorDeps) -> HubSpotConnector:
    """The connector from the settings (``HUBSPOT_ACCESS_TOKEN``, ``HUBSPOT_API_BASE``)."""
    settings = deps.settings
    token = settings.hubspot_access_token
    if token is None:
        raise ValueError("HUBSPOT_ACCESS_TOKEN is not set")
    client = HubSpotClient(
        token.get_secret_value(),
        http=deps.http,
        base_url=settings.hubspot_api_base,
        limiter=RateLimiter(settings.hubspot_requests_per_10_seconds, WINDOW_SECONDS),
    )
    return HubSpotConnector(
        client=client,
        db=deps.db,
        clock=deps.clock,
        cache_seconds=settings.context_cache_seconds,
        slack_user_for_email=deps.slack_user_for_email,
    )
