"""Zendesk: customer-facing billing tickets with private notes as finance decides."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.zendesk.client import ZendeskClient, basic_auth
from connectors.zendesk.connector import ZendeskConnector, idempotency_key, own_ticket_id
from connectors.zendesk.errors import ZendeskAPIError, ZendeskError, ZendeskTransportError

if TYPE_CHECKING:
    from connectors.registry import ConnectorDeps

__all__ = [
    "ZendeskAPIError",
    "ZendeskClient",
    "ZendeskConnector",
    "ZendeskError",
    "ZendeskTransportError",
    "basic_auth",
    "build",
    "idempotency_key",
    "own_ticket_id",
]


def build(deps: ConnectorDeps) -> ZendeskConnector:
    """The connector from the settings (``ZENDESK_URL``, ``ZENDESK_EMAIL``, ``ZENDESK_API_TOKEN``)."""
    settings = deps.settings
    token = settings.zendesk_api_token
    client = ZendeskClient(
        settings.zendesk_url or "",
        settings.zendesk_email or "",
        token.get_secret_value() if token is not None else "",
        http=deps.http,
    )
    return ZendeskConnector(client, deps.db, permalink=deps.permalink)
