"""A thin async client for the Zendesk Support API endpoints the connector uses.

API token auth exactly as Zendesk documents it: HTTP Basic with ``{email}/token`` as the user
name and the API token as the password. Nothing is retried here: the connector answers
``RetryAfter`` and the outbox tries again, looking up what an earlier try wrote first.

Rate limits: Zendesk answers 429 with ``Retry-After``, and tells every answer how many requests
are left (``ratelimit-remaining``, older accounts ``x-rate-limit-remaining``). The client keeps
the last count: near 0 it pauses briefly before the next request, at 0 it does not send and
raises a 429-like error with the reset time, so the work waits in the outbox instead.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from connectors.retry_after import retry_after_seconds
from connectors.zendesk.errors import ZendeskAPIError, ZendeskTransportError
from connectors.zendesk.models import Comment, Ticket

__all__ = ["LOW_REMAINING", "ZendeskClient", "basic_auth", "retry_after_seconds"]

LOW_REMAINING = 5  # requests left in the window below which the client slows down
MAX_PAUSE = 2.0  # seconds: the longest the client waits in-line before a request
DEFAULT_RESET = 60.0  # seconds: a rate-limit window when Zendesk does not say
PAGES_MAX = 10  # comment pages read when looking for an earlier note (100 comments each)


def basic_auth(email: str, api_token: str) -> str:
    """The ``Authorization`` header value of Zendesk API token auth."""
    raw = f"{email}/token:{api_token}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class ZendeskClient:
    """Typed calls to ``{base_url}/api/v2``; one shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        *,
        http: httpx.AsyncClient,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (base_url and email and api_token):
            raise ValueError("Zendesk needs its URL, an agent's email and an API token")
        self.base_url = base_url.rstrip("/")
        self._auth = basic_auth(email, api_token)
        self._http = http
        self._sleep = sleep
        self._monotonic = monotonic
        self.remaining: int | None = None  # requests left in the window, as Zendesk last said
        self._reset_at: float | None = None

    def __repr__(self) -> str:
        return f"ZendeskClient(base_url={self.base_url!r}, token=***)"

    def agent_url(self, ticket_id: int) -> str:
        """The ticket's page in the agent interface."""
        return f"{self.base_url}/agent/tickets/{ticket_id}"

    # ---- endpoints -----------------------------------------------------------------------

    async def tickets_by_external_id(self, external_id: str) -> list[Ticket]:
        """``GET /api/v2/tickets.json?external_id=…``: the tickets carrying that external id."""
        body = await self._request("GET", "/tickets.json", params={"external_id": external_id})
        return [Ticket.model_validate(t) for t in body.get("tickets") or []]

    async def ticket(self, ticket_id: int) -> Ticket:
        body = await self._request("GET", f"/tickets/{ticket_id}.json")
        return Ticket.model_validate(body["ticket"])

    async def create_ticket(self, ticket: Mapping[str, Any], *, idempotency_key: str) -> Ticket:
        """``POST /api/v2/tickets.json`` with Zendesk's ``Idempotency-Key``."""
        body = await self._request(
            "POST",
            "/tickets.json",
            json={"ticket": dict(ticket)},
            headers={"Idempotency-Key": idempotency_key},
        )
        return Ticket.model_validate(body["ticket"])

    async def add_private_note(self, ticket_id: int, text: str) -> Ticket:
        """``PUT /api/v2/tickets/{id}.json`` with one private comment and nothing else."""
        body = await self._request(
            "PUT",
            f"/tickets/{ticket_id}.json",
            json={"ticket": {"comment": {"body": text, "public": False}}},
        )
        return Ticket.model_validate(body["ticket"])

    async def comments(self, ticket_id: int) -> list[Comment]:
        """``GET /api/v2/tickets/{id}/comments.json``, every page (up to ``PAGES_MAX``)."""
        found: list[Comment] = []
        url: str | None = f"/tickets/{ticket_id}/comments.json"
        params: dict[str, str] | None = {"per_page": "100"}
        for _ in range(PAGES_MAX):
            if url is None:
                break
            body = await self._request("GET", url, params=params)
            found += [Comment.model_validate(c) for c in body.get("comments") or []]
            next_page = body.get("next_page")
            url, params = (str(next_page), None) if next_page else (None, None)
        return found

    # ---- transport -----------------------------------------------------------------------

    async def _pace(self) -> None:
        """Slow down as the window runs out; at 0, wait in the outbox rather than here."""
        if self.remaining is None or self.remaining > LOW_REMAINING:
            return
        left = (self._reset_at or 0.0) - self._monotonic()
        if left <= 0:
            return
        if self.remaining <= 0:
            raise ZendeskAPIError(
                429, error="RateLimited", description="no requests left", retry_after=left
            )
        await self._sleep(min(MAX_PAUSE, left / (self.remaining + 1)))

    def _note_limits(self, headers: httpx.Headers) -> None:
        remaining = _int(
            headers.get("ratelimit-remaining") or headers.get("x-rate-limit-remaining")
        )
        if remaining is None:
            return
        self.remaining = remaining
        reset = _int(headers.get("ratelimit-reset"))
        self._reset_at = self._monotonic() + (reset if reset is not None else DEFAULT_RESET)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        await self._pace()
        # ``path`` is under /api/v2, or a next_page URL Zendesk gave (on this same host).
        url = path if path.startswith(("https://", "http://")) else f"{self.base_url}/api/v2{path}"
        try:
            response = await self._http.request(
                method,
                url,
                params=params,
                json=json,
                headers={
                    "Authorization": self._auth,
                    "Accept": "application/json",
                    **(headers or {}),
                },
            )
        except httpx.HTTPError as exc:
            raise ZendeskTransportError(f"{exc.__class__.__name__} talking to Zendesk") from None
        self._note_limits(response.headers)
        if response.status_code >= 400:
            raise _api_error(response)
        try:
            body = response.json()
        except ValueError:
            raise ZendeskAPIError(
                response.status_code, description="an answer that is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise ZendeskAPIError(response.status_code, description="an unexpected answer")
        return body


def _api_error(response: httpx.Response) -> ZendeskAPIError:
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ZendeskAPIError(response.status_code, retry_after=retry_after)
    error = body.get("error")
    description = body.get("description")
    if isinstance(error, Mapping):  # some endpoints nest it: {"error": {"title", "message"}}
        description = description or error.get("message")
        error = error.get("title")
    details = body.get("details")
    return ZendeskAPIError(
        response.status_code,
        error=str(error) if error else None,
        description=str(description) if description else None,
        details=details if isinstance(details, Mapping) else None,
        retry_after=retry_after,
    )
