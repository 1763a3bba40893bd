"""A loopback double of the Zendesk Support API (the part the bot uses), for tests and sandbox mode.

It follows Zendesk's public shapes: the ticket object (``id``, ``url``, ``external_id``,
``subject``, ``status``, ``requester_id``, ``tags``, ``created_at`` ...) in ``{"ticket": …}`` and
``{"tickets": […], "next_page", "previous_page", "count"}``; comments with ``public``, ``body`` and
``author_id``; API token auth (Basic ``{email}/token:{token}``, else 401
``{"error": "Couldn't authenticate you"}``); 422 ``{"error": "RecordInvalid", "description",
"details"}``; ``Idempotency-Key`` on ticket creation (same key and body: the same ticket, with
``x-idempotency-lookup: hit``; same key, other body: 400); rate-limit headers on every answer.
It records every request (without the Authorization header), can be told to fail (before or
after doing the work, with ``Retry-After``), and serves an agent page per ticket so the links the
bot posts open something in the sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

__all__ = ["FakeComment", "FakeTicket", "FakeZendesk", "ZendeskRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RATE_LIMIT = 700  # requests a minute (Zendesk Suite Professional)
PER_PAGE_MAX = 100


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ZendeskRequest:
    """One request the double received; never the Authorization header."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    idempotency_key: str | None
    authorized: bool


@dataclass
class FakeComment:
    id: int
    author_id: int
    body: str
    public: bool
    created_at: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "Comment",
            "author_id": self.author_id,
            "body": self.body,
            "html_body": f'<div class="zd-comment"><p>{html.escape(self.body)}</p></div>',
            "plain_body": self.body,
            "public": self.public,
            "attachments": [],
            "audit_id": self.id + 1,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": self.created_at,
            "metadata": {"system": {}, "custom": {}},
        }


@dataclass
class FakeTicket:
    id: int
    api_url: str
    subject: str
    requester_id: int
    submitter_id: int
    external_id: str | None
    tags: list[str]
    created_at: str
    status: str = "new"
    updated_at: str = ""
    comments: list[FakeComment] = field(default_factory=list)
    status_changes: list[str] = field(default_factory=list)  # the bot must never cause one

    def json(self) -> dict[str, Any]:
        first = self.comments[0] if self.comments else None
        return {
            "id": self.id,
            "url": self.api_url,
            "external_id": self.external_id,
            "via": {"channel": "api"},
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "type": None,
            "subject": self.subject,
            "raw_subject": self.subject,
            "description": first.body if first else "",
            "priority": None,
            "status": self.status,
            "recipient": None,
            "requester_id": self.requester_id,
            "submitter_id": self.submitter_id,
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "has_incidents": False,
            "is_public": bool(first and first.public),
            "due_at": None,
            "tags": list(self.tags),
            "custom_fields": [],
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "brand_id": 1,
            "allow_channelback": False,
            "allow_attachments": True,
        }


@dataclass(frozen=True)
class _Failure:
    status: int
    after_commit: bool
    retry_after: float | None
    body: dict[str, Any]
    method: str | None  # only requests of this method fail (None: any)


def _error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _tag(value: str) -> str:
    # Zendesk keeps tags lower-case, with no spaces.
    return value.strip().lower().replace(" ", "_")


class FakeZendesk:
    """In-memory Zendesk; ``app`` is the aiohttp application to serve."""

    def __init__(self, email: str, api_token: str, *, public_url: str | None = None) -> None:
        self.email = email
        self.api_token = api_token
        self.public_url = public_url.rstrip("/") if public_url else None
        self.tickets: dict[int, FakeTicket] = {}
        self.users: dict[str, dict[str, Any]] = {}  # by email
        self.requests: list[ZendeskRequest] = []
        self.agent_id = 900000000001  # the API user the token belongs to
        self.rate_remaining: int | None = None  # None: plenty; else sent and counted down
        self.rate_reset = 60
        self._idempotency: dict[str, tuple[str, int]] = {}  # key -> (body digest, ticket id)
        self._failures: deque[_Failure] = deque()
        self._ids = 35436
        self.on_change: list[Callable[[], None]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/v2/tickets.json", self._api(self._list))
        self.app.router.add_post("/api/v2/tickets.json", self._api(self._create))
        self.app.router.add_get("/api/v2/tickets/{id:[0-9]+}.json", self._api(self._show))
        self.app.router.add_put("/api/v2/tickets/{id:[0-9]+}.json", self._api(self._update))
        self.app.router.add_get(
            "/api/v2/tickets/{id:[0-9]+}/comments.json", self._api(self._comments)
        )
        self.app.router.add_get("/agent/tickets/{id:[0-9]+}", self._agent_page)

    @property
    def url(self) -> str:
        """The ``ZENDESK_URL`` to give the bot (known once served or given ``public_url``)."""
        if self.public_url is None:
            raise RuntimeError("FakeZendesk has no public_url yet: pass one or use running()")
        return self.public_url

    # ---- what tests and the page use --------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        after_commit: bool = False,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` API requests (of ``method``, when given) with ``status``;
        ``after_commit`` does the work first (the answer is lost, the write is not)."""
        default = (
            {
                "error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded",
            }
            if status == 429
            else {"error": "InternalServerError", "description": "Something went wrong"}
        )
        for _ in range(n):
            self._failures.append(
                _Failure(status, after_commit, retry_after, body or default, method)
            )

    def by_external_id(self, external_id: str) -> list[FakeTicket]:
        return [t for t in self.tickets.values() if t.external_id == external_id]

    def add_ticket(self, subject: str, requester_email: str, body: str = "Hello") -> FakeTicket:
        """A ticket the customer opened themselves (with a public first comment)."""
        requester = self._user(requester_email, None)
        ticket = self._new_ticket(subject, requester["id"], requester["id"], None, [])
        self._comment(ticket, requester["id"], body, public=True)
        self._changed()
        return ticket

    def snapshot(self) -> list[dict[str, Any]]:
        """Every ticket with its comments, newest first (the sandbox page)."""
        users = {u["id"]: u for u in self.users.values()}
        return [
            {
                "id": t.id,
                "url": f"{self.public_url or ''}/agent/tickets/{t.id}",
                "subject": t.subject,
                "status": t.status,
                "external_id": t.external_id,
                "tags": t.tags,
                "requester": users.get(t.requester_id, {}).get("email"),
                "comments": [
                    {"public": c.public, "body": c.body, "created_at": c.created_at}
                    for c in t.comments
                ],
            }
            for t in sorted(self.tickets.values(), key=lambda t: t.id, reverse=True)
        ]

    def reset(self) -> None:
        self.tickets.clear()
        self.users.clear()
        self._idempotency.clear()
        self._changed()

    def dump(self) -> dict[str, Any]:
        """Tickets, comments, users, idempotency keys and the id counter as JSON values (the
        sandbox keeps them across a restart); not the request log or injected failures."""
        return {
            "ids": self._ids,
            "users": [dict(u) for u in self.users.values()],
            "tickets": [asdict(t) for t in self.tickets.values()],
            "idempotency": {k: [digest, tid] for k, (digest, tid) in self._idempotency.items()},
        }

    def load(self, data: dict[str, Any]) -> None:
        """Replace the state with ``data`` (from ``dump``); changes nothing if it cannot be read."""
        tickets: dict[int, FakeTicket] = {}
        for raw in data["tickets"]:
            comments = [FakeComment(**c) for c in raw["comments"]]
            ticket = FakeTicket(**{**raw, "comments": comments})
            tickets[int(ticket.id)] = ticket
        users = {str(u["email"]): dict(u) for u in data["users"]}
        keys = {str(k): (str(v[0]), int(v[1])) for k, v in data["idempotency"].items()}
        ids = int(data["ids"])
        self.tickets, self.users, self._idempotency, self._ids = tickets, users, keys, ids

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the double on ``host:port``; yields its ``ZENDESK_URL``."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        own_url = self.public_url is None
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            if own_url:
                self.public_url = f"http://{host}:{runner.addresses[0][1]}"
            yield self.url
        finally:
            if own_url:
                self.public_url = None
            await runner.cleanup()

    # ---- plumbing ------------------------------------------------------------------------

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.email}/token:{self.api_token}".encode()).decode()
        return secrets.compare_digest(header.encode(), f"Basic {expected}".encode())

    def _limits(self) -> dict[str, str]:
        if self.rate_remaining is None:
            remaining = RATE_LIMIT - 1
        else:
            self.rate_remaining = max(0, self.rate_remaining - 1)
            remaining = self.rate_remaining
        return {
            "ratelimit-limit": str(RATE_LIMIT),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(self.rate_reset),
            "x-rate-limit": str(RATE_LIMIT),
            "x-rate-limit-remaining": str(remaining),
        }

    def _api(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            body: dict[str, Any] | None = None
            if request.can_read_body:
                try:
                    loaded = await request.json()
                except ValueError:
                    return _error(400, {"error": "Unprocessable Entity", "description": "Bad JSON"})
                body = loaded if isinstance(loaded, dict) else None
            authorized = self._authorized(request)
            self.requests.append(
                ZendeskRequest(
                    request.method,
                    request.path,
                    dict(request.query),
                    body,
                    request.headers.get("Idempotency-Key"),
                    authorized,
                )
            )
            limits = self._limits()
            failure = None
            if self._failures and self._failures[0].method in {None, request.method}:
                failure = self._failures.popleft()
            if failure is not None and failure.after_commit and authorized:
                await handler(request)
            if failure is not None:
                headers = dict(limits)
                if failure.retry_after is not None:
                    headers["Retry-After"] = f"{failure.retry_after:g}"
                return _error(failure.status, failure.body, headers)
            if not authorized:
                return _error(401, {"error": "Couldn't authenticate you"}, limits)
            response = await handler(request)
            response.headers.update(limits)
            return response

        return wrapped

    def _ticket_or_404(self, request: web.Request) -> FakeTicket | None:
        return self.tickets.get(int(request.match_info["id"]))

    @staticmethod
    def _not_found() -> web.Response:
        return _error(404, {"error": "RecordNotFound", "description": "Not found"})

    def _user(self, email: str, name: str | None) -> dict[str, Any]:
        key = email.lower()
        if key not in self.users:
            self._ids += 1
            self.users[key] = {"id": self._ids, "email": key, "name": name or key.split("@")[0]}
        return self.users[key]

    def _new_ticket(
        self,
        subject: str,
        requester_id: int,
        submitter_id: int,
        external_id: str | None,
        tags: list[str],
    ) -> FakeTicket:
        self._ids += 1
        ticket = FakeTicket(
            id=self._ids,
            api_url=f"{self.public_url or ''}/api/v2/tickets/{self._ids}.json",
            subject=subject,
            requester_id=requester_id,
            submitter_id=submitter_id,
            external_id=external_id,
            tags=sorted({_tag(t) for t in tags if t.strip()}),
            created_at=_now(),
        )
        self.tickets[ticket.id] = ticket
        return ticket

    def _comment(self, ticket: FakeTicket, author_id: int, body: str, *, public: bool) -> None:
        self._ids += 1
        ticket.comments.append(FakeComment(self._ids, author_id, body, public, _now()))
        ticket.updated_at = _now()

    # ---- endpoints -----------------------------------------------------------------------

    async def _list(self, request: web.Request) -> web.StreamResponse:
        external_id = request.query.get("external_id")
        tickets = [
            t
            for t in sorted(self.tickets.values(), key=lambda t: t.id)
            if external_id is None or t.external_id == external_id
        ]
        return web.json_response(
            {
                "tickets": [t.json() for t in tickets],
                "next_page": None,
                "previous_page": None,
                "count": len(tickets),
            }
        )

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if key and key in self._idempotency:
            seen_digest, ticket_id = self._idempotency[key]
            if seen_digest != digest:
                return _error(
                    400,
                    {
                        "error": "IdempotentRequestError",
                        "description": "The idempotency key was used with a different request.",
                    },
                )
            ticket = self.tickets[ticket_id]
            return web.json_response(
                {"ticket": ticket.json()}, status=201, headers={"x-idempotency-lookup": "hit"}
            )
        data = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return _error(400, {"error": "InvalidValue", "description": "ticket is required"})
        details: dict[str, list[dict[str, str]]] = {}
        requester = data.get("requester") or {}
        email = str(requester.get("email") or "") if isinstance(requester, dict) else ""
        if "@" not in email or " " in email.strip():
            details["requester"] = [
                {"description": "Requester: Email is invalid", "error": "InvalidValue"}
            ]
        comment = data.get("comment") or {}
        text = str(comment.get("body") or "") if isinstance(comment, dict) else ""
        if not text.strip():
            details["base"] = [
                {"description": "Description: cannot be blank", "error": "BlankValue"}
            ]
        if details:
            return _error(
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": details,
                },
            )
        user = self._user(email, requester.get("name"))
        ticket = self._new_ticket(
            str(data.get("subject") or text.splitlines()[0][:80]),
            user["id"],
            self.agent_id,
            str(data["external_id"]) if data.get("external_id") is not None else None,
            [str(t) for t in data.get("tags") or []],
        )
        self._comment(ticket, self.agent_id, text, public=comment.get("public", True) is not False)
        if key:
            self._idempotency[key] = (digest, ticket.id)
        self._changed()
        headers = {"x-idempotency-lookup": "miss"} if key else None
        return web.json_response(
            {"ticket": ticket.json(), "audit": {"id": ticket.id + 1, "ticket_id": ticket.id}},
            status=201,
            headers=headers,
        )

    async def _show(self, request: web.Request) -> web.StreamResponse:
        ticket = self._ticket_or_404(request)
        if ticket is None:
            return self._not_found()
        return web.json_response({"ticket": ticket.json()})

    async def _update(self, request: web.Request) -> web.StreamResponse:
        ticket = self._ticket_or_404(request)
        if ticket is None:
            return self._not_found()
        body = await request.json()
        data = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return _error(400, {"error": "InvalidValue", "description": "ticket is required"})
        comment = data.get("comment")
        if isinstance(comment, dict) and str(comment.get("body") or "").strip():
            public = comment.get("public", True) is not False
            self._comment(ticket, self.agent_id, str(comment["body"]), public=public)
        status = data.get("status")
        if isinstance(status, str) and status != ticket.status:
            ticket.status_changes.append(status)
            ticket.status = status
        if ticket.status == "new":
            ticket.status = "open"  # an agent's update opens a new ticket, as in Zendesk
        self._changed()
        return web.json_response(
            {"ticket": ticket.json(), "audit": {"id": ticket.id + 1, "ticket_id": ticket.id}}
        )

    async def _comments(self, request: web.Request) -> web.StreamResponse:
        ticket = self._ticket_or_404(request)
        if ticket is None:
            return self._not_found()
        try:
            per_page = max(1, min(PER_PAGE_MAX, int(request.query.get("per_page", "100"))))
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            return _error(400, {"error": "InvalidValue", "description": "page is not a number"})
        start = (page - 1) * per_page
        shown = ticket.comments[start : start + per_page]
        base = f"{self.public_url or ''}/api/v2/tickets/{ticket.id}/comments.json"
        more = start + per_page < len(ticket.comments)
        return web.json_response(
            {
                "comments": [c.json() for c in shown],
                "next_page": f"{base}?page={page + 1}&per_page={per_page}" if more else None,
                "previous_page": f"{base}?page={page - 1}&per_page={per_page}"
                if page > 1
                else None,
                "count": len(ticket.comments),
            }
        )

    async def _agent_page(self, request: web.Request) -> web.StreamResponse:
        """The ticket as an agent sees it (sandbox only; the real one is Zendesk's app)."""
        ticket = self._ticket_or_404(request)
        if ticket is None:
            return web.Response(status=404, text="No such ticket in the sandbox Zendesk")
        items = "".join(
            f'<li class="{"public" if c.public else "private"}"><b>'
            f"{'Public reply' if c.public else 'Internal note'}</b> · {html.escape(c.created_at)}"
            f"<pre>{html.escape(c.body)}</pre></li>"
            for c in ticket.comments
        )
        page = (
            "<!doctype html><meta charset=utf-8>"
            f"<title>Ticket #{ticket.id}</title>"
            "<style>body{font:14px system-ui;margin:2em;max-width:60em}"
            "li{list-style:none;margin:1em 0;padding:.5em 1em;border-radius:6px}"
            ".private{background:#fff6d9}.public{background:#eef}pre{white-space:pre-wrap}</style>"
            f"<h1>#{ticket.id} {html.escape(ticket.subject)}</h1>"
            f"<p>Status: {html.escape(ticket.status)} · tags: {html.escape(', '.join(ticket.tags))}"
            f" · external id: {html.escape(ticket.external_id or '-')}</p>"
            f"<ul>{items}</ul>"
        )
        return web.Response(text=page, content_type="text/html")
