"""Stripe (read): the customer's subscriptions and latest payment as context on each handoff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.stripe.client import StripeReader
from connectors.stripe.connector import StripeConnector

if TYPE_CHECKING:
    from connectors.registry import ConnectorDeps

__all__ = ["StripeConnector", "StripeReader", "build"]


def build(deps: ConnectorDeps) -> StripeConnector:
    """The connector's factory (``connectors.registry.SPECS``)."""
    settings = deps.settings
    key = settings.stripe_api_key
    if key is None:
        raise ValueError("STRIPE_API_KEY is not set")
    reader = StripeReader(key.get_secret_value(), http=deps.http, api_base=settings.stripe_api_base)
    return StripeConnector(
        reader, deps.db, deps.clock, cache_seconds=settings.context_cache_seconds
    )
