"""A loopback double of the HubSpot CRM API, for tests, the benchmark and the sandbox.

It serves the calls ``connectors.hubspot.HubSpotClient`` makes, in HubSpot's public shapes:

- ``POST /crm/v3/objects/contacts/search``: ``{"total", "results": [{"id", "properties",
  "createdAt", "updatedAt", "archived"}]}`` (filters ``EQ`` only, which is all the bot uses);
- ``GET /crm/v4/objects/contacts/{id}/associations/{companies|deals}``:
  ``{"results": [{"toObjectId", "associationTypes": [...]}]}``;
- ``GET /crm/v3/objects/companies/{id}``, ``POST /crm/v3/objects/deals/batch/read``
  (``{"status": "COMPLETE", "results": [...], "startedAt", "completedAt"}``),
  ``GET /crm/v3/owners/{id}``, ``GET /account-info/v3/details``;
- errors as ``{"status": "error", "message", "correlationId", "category"}``: a wrong token gets
  the 401 ``INVALID_AUTHENTICATION``, a token without a scope the 403 ``MISSING_SCOPES`` naming
  it, more than 4 searches in a second or ``general_limit`` other calls in ten seconds (when
  ``enforce_search_limit``) the 429 ``RATE_LIMITS``.

``delay_seconds`` makes every answer slow (the benchmark's 300 ms); ``fail_next`` injects errors.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

__all__ = ["ALL_SCOPES", "FakeHubSpot", "HubSpotRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALL_SCOPES = frozenset(
    {
        "crm.objects.contacts.read",
        "crm.objects.companies.read",
        "crm.objects.deals.read",
        "crm.objects.owners.read",
    }
)
PORTAL_ID = 24681357
SEARCH_PER_SECOND = 4
# Association type ids HubSpot defines (contact -> company primary 1, contact -> deal 4).
_TYPES = {
    "companies": [
        {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
        {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None},
    ],
    "deals": [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}],
}
_SCOPE_OF = {
    "contacts": "crm.objects.contacts.read",
    "companies": "crm.objects.companies.read",
    "deals": "crm.objects.deals.read",
    "owners": "crm.objects.owners.read",
}


@dataclass(frozen=True)
class HubSpotRequest:
    method: str
    path: str
    authorized: bool
    at: float  # time.monotonic() when it arrived


@dataclass
class _Object:
    id: str
    properties: dict[str, str | None]
    associations: dict[str, list[str]] = field(default_factory=dict)
    created: str = "2024-03-01T09:00:00.000Z"

    def json(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        wanted = list(names) if names else list(self.properties)
        props = {n: self.properties.get(n) for n in wanted}
        props.setdefault("hs_object_id", self.id)
        return {
            "id": self.id,
            "properties": props,
            "createdAt": self.created,
            "updatedAt": self.created,
            "archived": False,
        }


def _error(status: int, message: str, category: str, **extra: Any) -> web.Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return web.json_response(body, status=status)


def _ms(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeHubSpot:
    """In-memory HubSpot; ``app`` is the aiohttp application to serve."""

    def __init__(
        self,
        access_token: str,
        *,
        scopes: Iterable[str] = ALL_SCOPES,
        delay_seconds: float = 0.0,
        enforce_search_limit: bool = False,
        general_limit: int = 100,
    ) -> None:
        self.access_token = access_token
        self.scopes = set(scopes)
        self.delay_seconds = delay_seconds
        self.enforce_search_limit = enforce_search_limit
        self.contacts: dict[str, _Object] = {}
        self.companies: dict[str, _Object] = {}
        self.deals: dict[str, _Object] = {}
        self.owners: dict[str, dict[str, Any]] = {}
        self.requests: list[HubSpotRequest] = []
        self.rate_limited = 0  # 429s answered for the search limit
        self.public_url: str | None = None
        self._failures: deque[tuple[int, float | None]] = deque()
        self._searches: deque[float] = deque()
        self._general: deque[float] = deque()
        self.general_limit = general_limit  # per 10 s, with ``enforce_search_limit`` (0: none)
        self._ids = 1000
        self.app = web.Application()
        r = self.app.router
        r.add_post("/crm/v3/objects/contacts/search", self._api("contacts", self._search))
        r.add_get(
            "/crm/v4/objects/contacts/{id}/associations/{to}",
            self._api("contacts", self._associations),
        )
        r.add_get("/crm/v3/objects/companies/{id}", self._api("companies", self._company))
        r.add_post("/crm/v3/objects/deals/batch/read", self._api("deals", self._deals))
        r.add_get("/crm/v3/owners/{id}", self._api("owners", self._owner))
        r.add_get("/account-info/v3/details", self._api(None, self._account))

    # ---- seeding ----------------------------------------------------------------------------

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def add_owner(self, first: str, last: str, email: str) -> str:
        owner_id = str(70000000 + len(self.owners) + 1)
        self.owners[owner_id] = {
            "id": owner_id,
            "email": email,
            "type": "PERSON",
            "firstName": first,
            "lastName": last,
            "userId": 9000000 + len(self.owners),
            "createdAt": "2023-01-10T08:00:00.000Z",
            "updatedAt": "2023-01-10T08:00:00.000Z",
            "archived": False,
        }
        return owner_id

    def add_company(self, name: str, *, owner_id: str | None = None) -> str:
        company_id = self._next_id()
        self.companies[company_id] = _Object(
            company_id,
            {
                "name": name,
                "domain": None,
                "lifecyclestage": "customer",
                "hubspot_owner_id": owner_id,
            },
        )
        return company_id

    def add_contact(
        self,
        email: str,
        *,
        first: str = "",
        last: str = "",
        company_id: str | None = None,
        owner_id: str | None = None,
        lifecycle: str = "customer",
    ) -> str:
        contact_id = self._next_id()
        company = self.companies.get(company_id or "")
        self.contacts[contact_id] = _Object(
            contact_id,
            {
                "email": email.lower(),
                "firstname": first or None,
                "lastname": last or None,
                "company": company.properties.get("name") if company else None,
                "lifecyclestage": lifecycle,
                "hubspot_owner_id": owner_id,
                "associatedcompanyid": company_id,
            },
            {"companies": [company_id] if company_id else [], "deals": []},
        )
        return contact_id

    def add_deal(
        self,
        contact_id: str,
        name: str,
        *,
        close: date,
        amount: str,
        currency: str = "USD",
        closed: bool = False,
        dealtype: str = "existingbusiness",
    ) -> str:
        deal_id = self._next_id()
        self.deals[deal_id] = _Object(
            deal_id,
            {
                "dealname": name,
                "dealtype": dealtype,
                "closedate": f"{close.isoformat()}T00:00:00Z",
                "amount": amount,
                "dealstage": "closedwon" if closed else "contractsent",
                "pipeline": "default",
                "hs_is_closed": "true" if closed else "false",
                "deal_currency_code": currency,
            },
        )
        self.contacts[contact_id].associations.setdefault("deals", []).append(deal_id)
        return deal_id

    def seed_demo(self, today: date) -> None:
        """The sandbox's accounts (the sandbox examples' customers): Alder Street Health renews
        next week, Harbor & Finch has no open renewal; every other email is unknown."""
        ana = self.add_owner("Ana", "Lopez", "ana@acme.example")
        ben = self.add_owner("Ben", "Okoro", "ben@acme.example")
        alder = self.add_company("Alder Street Health", owner_id=ana)
        contact = self.add_contact(
            "treasury@alderstreet.example",
            first="Dana",
            last="Whitfield",
            company_id=alder,
            owner_id=ana,
        )
        self.add_deal(
            contact,
            "Alder Street Health renewal",
            close=today + timedelta(days=7),
            amount="24000",
            dealtype="renewal",
        )
        self.add_deal(
            contact,
            "Alder Street Health 2025",
            close=today - timedelta(days=358),
            amount="21500",
            closed=True,
            dealtype="newbusiness",
        )
        harbor = self.add_company("Harbor & Finch LLC", owner_id=ben)
        contact = self.add_contact(
            "ap@harborfinch.example",
            first="Priya",
            last="Shah",
            company_id=harbor,
            owner_id=ben,
            lifecycle="customer",
        )
        self.add_deal(
            contact,
            "Harbor & Finch onboarding",
            close=today - timedelta(days=90),
            amount="3000",
            closed=True,
            dealtype="newbusiness",
        )

    def fail_next(self, status: int = 500, *, n: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``n`` authorized requests with ``status`` (and a Retry-After)."""
        self._failures.extend([(status, retry_after)] * n)

    # ---- serving ----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the double on ``host:port`` (0 picks a free port); yields its base URL."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            self.public_url = f"http://{host}:{runner.addresses[0][1]}"
            yield self.public_url
        finally:
            self.public_url = None
            await runner.cleanup()

    def searches(self) -> list[float]:
        """When each authorized search arrived (monotonic seconds)."""
        return [r.at for r in self.requests if r.authorized and r.path.endswith("/contacts/search")]

    def _api(self, scope_of: str | None, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            authorized = secrets.compare_digest(token.encode(), self.access_token.encode())
            now = time.monotonic()
            self.requests.append(HubSpotRequest(request.method, request.path, authorized, now))
            if self.delay_seconds > 0:
                await asyncio.sleep(self.delay_seconds)
            if not authorized:
                return _error(
                    401,
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                )
            if self._failures:
                status, retry_after = self._failures.popleft()
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                response = _error(status, "Injected failure", "INTERNAL_ERROR")
                response.headers.update(headers)
                return response
            scope = _SCOPE_OF.get(scope_of or "")
            if scope is not None and scope not in self.scopes:
                return _error(
                    403,
                    "This app hasn't been granted all required scopes to make this call. "
                    "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                    "MISSING_SCOPES",
                    errors=[
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": [scope]},
                        }
                    ],
                    links={"scopes": "https://developers.hubspot.com/scopes"},
                )
            if self.enforce_search_limit and request.path.endswith("/search"):
                while self._searches and now - self._searches[0] >= 1.0:
                    self._searches.popleft()
                if len(self._searches) >= SEARCH_PER_SECOND:
                    self.rate_limited += 1
                    response = _error(
                        429,
                        "You have reached your secondly limit.",
                        "RATE_LIMITS",
                        errorType="RATE_LIMIT",
                        policyName="SECONDLY",
                    )
                    response.headers["Retry-After"] = "1"
                    return response
                self._searches.append(now)
            elif self.enforce_search_limit and self.general_limit:
                # Every other call: ``general_limit`` per 10 seconds (100 on Free and Starter).
                while self._general and now - self._general[0] >= 10.0:
                    self._general.popleft()
                if len(self._general) >= self.general_limit:
                    self.rate_limited += 1
                    response = _error(
                        429,
                        "You have reached your ten_secondly_rolling limit.",
                        "RATE_LIMITS",
                        errorType="RATE_LIMIT",
                        policyName="TEN_SECONDLY_ROLLING",
                    )
                    response.headers["Retry-After"] = "1"
                    return response
                self._general.append(now)
            return await handler(request)

        return wrapped

    async def _search(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        filters = [
            f for group in body.get("filterGroups") or () for f in group.get("filters") or ()
        ]
        found = [
            c
            for c in self.contacts.values()
            if all(
                f.get("operator") == "EQ"
                and str(c.properties.get(f.get("propertyName", "")) or "").lower()
                == str(f.get("value", "")).lower()
                for f in filters
            )
        ]
        limit = int(body.get("limit") or 10)
        names = body.get("properties") or ["email", "firstname", "lastname"]
        return web.json_response(
            {"total": len(found), "results": [c.json(names) for c in found[:limit]]}
        )

    async def _associations(self, request: web.Request) -> web.StreamResponse:
        contact = self.contacts.get(request.match_info["id"])
        to = request.match_info["to"]
        if contact is None:
            return _error(404, "Object not found", "OBJECT_NOT_FOUND")
        if to not in _TYPES:
            return _error(400, f"Unable to infer object type from: {to}", "VALIDATION_ERROR")
        results = [
            {"toObjectId": int(i), "associationTypes": _TYPES[to]}
            for i in contact.associations.get(to, [])
        ]
        return web.json_response({"results": results})

    async def _company(self, request: web.Request) -> web.StreamResponse:
        company = self.companies.get(request.match_info["id"])
        if company is None:
            return _error(
                404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND"
            )
        names = [n for n in request.query.get("properties", "").split(",") if n]
        return web.json_response(company.json(names or ["name", "domain"]))

    async def _deals(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        names = body.get("properties") or ["dealname", "amount", "closedate"]
        started = _ms(datetime.now(UTC))
        results = [
            self.deals[str(i.get("id"))].json(names)
            for i in body.get("inputs") or ()
            if str(i.get("id")) in self.deals
        ]
        return web.json_response(
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": _ms(datetime.now(UTC)),
            }
        )

    async def _owner(self, request: web.Request) -> web.StreamResponse:
        owner = self.owners.get(request.match_info["id"])
        if owner is None:
            return _error(404, "Owner not found", "OBJECT_NOT_FOUND")
        return web.json_response(owner)

    async def _account(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "portalId": PORTAL_ID,
                "accountType": "STANDARD",
                "timeZone": "UTC",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "+00:00",
                "utcOffsetMilliseconds": 0,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            }
        )
