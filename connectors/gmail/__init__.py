"""Gmail: approved customer email from the finance mailbox (``GMAIL_SENDER``)."""

from __future__ import annotations

from connectors.gmail.client import GmailClient, SentMessage
from connectors.gmail.connector import GmailConnector, gmail_connector

__all__ = ["GmailClient", "GmailConnector", "SentMessage", "gmail_connector"]
