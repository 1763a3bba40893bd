"""A thin Gmail v1 client on the bot's shared ``httpx.AsyncClient``: send one RFC 2822 message
(``messages.send`` with ``raw``) and find a sent one by its ``Message-ID``.

Google's ``google-api-python-client`` is synchronous and discovery-built; two documented REST
calls are plainer as httpx requests with the token from ``connectors.google.auth``. The token is
for ``GMAIL_SENDER`` (domain-wide delegation: ``sub`` = the sender), so the mail is really sent
by that mailbox.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import httpx

from bot.settings import Settings
from connectors.google import GoogleAuth, google_url
from connectors.google.errors import DEFAULT_RETRY, GoogleAPIError, GoogleError, api_error

__all__ = ["GMAIL_ROOT", "GMAIL_SCOPES", "GmailClient", "SentMessage"]

GMAIL_ROOT = "https://gmail.googleapis.com"
# gmail.send sends; gmail.readonly searches the sent mail before a retry sends again.
GMAIL_SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
)


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: str
    thread_id: str


class GmailClient:
    """Gmail as ``sender``."""

    def __init__(
        self, settings: Settings, auth: GoogleAuth, sender: str, *, http: httpx.AsyncClient
    ) -> None:
        self._settings = settings
        self._auth = auth
        self.sender = sender
        self._http = http

    def _url(self, path: str) -> str:
        user = quote(self.sender, safe="@")
        return google_url(self._settings, GMAIL_ROOT, f"/gmail/v1/users/{user}{path}")

    async def _send(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        token = await self._auth.token(GMAIL_SCOPES, subject=self.sender)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._http.request(method, self._url(path), headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise GoogleError(
                f"{what}: Gmail could not be reached ({exc.__class__.__name__})",
                retry_after=DEFAULT_RETRY,
            ) from None
        if response.status_code == 401:
            self._auth.forget(GMAIL_SCOPES, subject=self.sender)
        if response.is_error:
            raise api_error(response, what)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise GoogleAPIError(
                f"{what}: Gmail answered {response.status_code} without JSON",
                http_status=response.status_code,
                retry_after=DEFAULT_RETRY,
            )
        return data

    async def send(self, message: EmailMessage, thread_id: str | None = None) -> SentMessage:
        """``POST …/messages/send`` with the message as base64url ``raw``."""
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
        body: dict[str, Any] = {"raw": raw}
        if thread_id:
            body["threadId"] = thread_id
        data = await self._send("Gmail refused the email", "POST", "/messages/send", json=body)
        return SentMessage(str(data["id"]), str(data.get("threadId") or data["id"]))

    async def find_sent(self, message_id: str) -> SentMessage | None:
        """The sent message whose ``Message-ID`` is ``message_id`` (``q=rfc822msgid:``), if any."""
        data = await self._send(
            "Gmail refused the search of sent mail",
            "GET",
            "/messages",
            params={"q": f"rfc822msgid:{message_id.strip('<>')}", "includeSpamTrash": "true"},
        )
        found = data.get("messages") or []
        if not found:
            return None
        first = found[0]
        return SentMessage(str(first["id"]), str(first.get("threadId") or first["id"]))
