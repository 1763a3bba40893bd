"""Stripe: the customer's subscriptions and latest payment as context on each handoff (``stripe``),
and released refunds executed exactly once (``stripe_refunds``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.stripe.client import StripeReader, StripeRefunder
from connectors.stripe.connector import StripeConnector
from connectors.stripe.refunds import StripeRefundConnector

if TYPE_CHECKING:
    from connectors.registry import ConnectorDeps

__all__ = [
    "StripeConnector",
    "StripeReader",
    "StripeRefundConnector",
    "StripeRefunder",
    "build",
    "build_refunds",
]


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


def build_refunds(deps: ConnectorDeps) -> StripeRefundConnector:
    """The refund connector's factory: on with the same settings as the read connector."""
    settings = deps.settings
    key = settings.stripe_api_key
    if key is None:
        raise ValueError("STRIPE_API_KEY is not set")
    secret = key.get_secret_value()
    client = StripeRefunder(secret, http=deps.http, api_base=settings.stripe_api_base)
    livemode = "_test_" not in secret  # sk_test_…, rk_test_…: links go to the test dashboard
    return StripeRefundConnector(client, deps.refunds, deps.clock, livemode=livemode)
