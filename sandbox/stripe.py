"""A loopback double of the Stripe API's reads, for tests and the local sandbox mode.

It serves what ``connectors.stripe`` reads (customers by email, subscriptions ``status=all``,
payment intents, charges, invoices, each also by id) in Stripe's own shapes: list objects
``{"object": "list", "data": [...], "has_more": false, "url": ...}`` and errors
``{"error": {"type", "code", "message"}}``. Auth is a Bearer secret key like Stripe's; a wrong
key gets Stripe's 401, a restricted key without a permission (``deny``) Stripe's 403 naming it.
It can be told to fail (``fail_next``: 429 with ``Retry-After``, 5xx) and to answer slowly
(``delay``). ``demo()`` holds the sandbox's customers, matching the demo handoffs' emails.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["PERMISSIONS", "FakeStripe", "StripeRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSONDict = dict[str, Any]
DAY = 86400

# The restricted-key permission each resource needs (Stripe's names).
PERMISSIONS = {
    "customers": "rak_customer_read",
    "subscriptions": "rak_subscription_read",
    "payment_intents": "rak_payment_intent_read",
    "charges": "rak_charge_read",
    "invoices": "rak_invoice_read",
}
_SINGULAR = {
    "customers": "customer",
    "subscriptions": "subscription",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "invoices": "invoice",
}


@dataclass(frozen=True)
class StripeRequest:
    """One request the double received (never the key)."""

    method: str
    path: str
    params: dict[str, str]
    authorized: bool


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None


def _error(
    status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None
) -> web.Response:
    body: JSONDict = {"error": {"type": type_, "message": message}}
    if code is not None:
        body["error"]["code"] = code
    headers = {"Request-Id": "req_" + secrets.token_hex(7)}
    return web.json_response(body, status=status, headers=headers)


def _redacted_key(key: str) -> str:
    return key[:8] + "*" * 8 + key[-4:] if len(key) > 12 else "****"


@dataclass
class FakeStripe:
    """In-memory Stripe; ``app`` is the aiohttp application to serve (mount or ``running()``)."""

    api_key: str
    account: str = "acct_1SandboxAcme"
    delay: float = 0.0  # seconds before each answer (a slow Stripe)
    objects: dict[str, dict[str, JSONDict]] = field(
        default_factory=lambda: {name: {} for name in PERMISSIONS}
    )
    denied: set[str] = field(default_factory=set)  # permissions the key lacks
    requests: list[StripeRequest] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self.app = web.Application(middlewares=[self._middleware])
        for resource in PERMISSIONS:
            self.app.router.add_get(f"/v1/{resource}", self._lister(resource))
            self.app.router.add_get(f"/v1/{resource}/{{id}}", self._getter(resource))

    # --- test and sandbox controls -------------------------------------------------------

    def add(self, resource: str, obj: JSONDict) -> JSONDict:
        """Keep ``obj`` (it has its ``id``) under ``resource`` ("customers", ...)."""
        obj.setdefault("object", _SINGULAR[resource])
        obj.setdefault("livemode", False)
        obj.setdefault("created", int(time.time()))
        self.objects[resource][obj["id"]] = obj
        return obj

    def deny(self, permission: str) -> None:
        """Answer requests needing ``permission`` as for a restricted key without it."""
        self.denied.add(permission)

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (a 429 carries ``Retry-After``)."""
        self._failures.extend(_Failure(status, retry_after) for _ in range(times))

    def reads(self, resource: str = "") -> list[StripeRequest]:
        """The authorized requests (for one resource, e.g. "customers", when given)."""
        return [r for r in self.requests if f"/v1/{resource}" in r.path and r.authorized]

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on ``host:port`` (0 picks a free port); yields the base URL (STRIPE_API_BASE)."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            yield f"http://{host}:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()

    # --- the API --------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        ok = bool(token) and secrets.compare_digest(token.encode(), self.api_key.encode())
        self.requests.append(StripeRequest(request.method, request.path, dict(request.query), ok))
        if self.delay:
            await asyncio.sleep(self.delay)
        if not token:
            return _error(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if not ok:
            return _error(401, f"Invalid API Key provided: {_redacted_key(token)}")
        if self._failures:
            failure = self._failures.pop(0)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            if failure.status == 429:
                body = {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": "Too many requests hit the API too quickly.",
                    }
                }
            else:
                body = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
            return web.json_response(body, status=failure.status, headers=headers)
        # Mounted under a prefix in sandbox mode: the resource follows "/v1/".
        resource = request.path.partition("/v1/")[2].split("/")[0]
        permission = PERMISSIONS.get(resource)
        if permission in self.denied:
            return _error(
                403,
                f"The provided key '{_redacted_key(self.api_key)}' does not have the required "
                f"permissions for this endpoint on account '{self.account}'. Having the "
                f"'{permission}' permission would allow this request to continue.",
            )
        return await handler(request)

    def _lister(self, resource: str) -> Handler:
        async def list_(request: web.Request) -> web.StreamResponse:
            query = request.query
            found = list(self.objects[resource].values())
            if "email" in query:
                # Case-sensitive, like Stripe's own filter.
                found = [o for o in found if o.get("email") == query["email"]]
            if "customer" in query:
                found = [o for o in found if o.get("customer") == query["customer"]]
            status = query.get("status")
            if resource == "subscriptions" and status != "all":
                wanted = {status} if status else None
                found = [
                    o
                    for o in found
                    if (o["status"] in wanted if wanted else o["status"] != "canceled")
                ]
            found.sort(key=lambda o: (o.get("created", 0), o["id"]), reverse=True)
            try:
                limit = max(1, min(100, int(query.get("limit", "10"))))
            except ValueError:
                return _error(400, "Invalid integer: limit", code="parameter_invalid_integer")
            return web.json_response(
                {
                    "object": "list",
                    "data": found[:limit],
                    "has_more": len(found) > limit,
                    "url": f"/v1/{resource}",
                }
            )

        return list_

    def _getter(self, resource: str) -> Handler:
        async def get(request: web.Request) -> web.StreamResponse:
            object_id = request.match_info["id"]
            obj = self.objects[resource].get(object_id)
            if obj is None:
                return _error(
                    404, f"No such {_SINGULAR[resource]}: '{object_id}'", code="resource_missing"
                )
            return web.json_response(obj)

        return get

    # --- the sandbox's customers ------------------------------------------------------------

    @classmethod
    def demo(cls, api_key: str, *, now: float | None = None) -> FakeStripe:
        """Alder Street Health past due with a failed latest payment, Harbor & Finch active and
        paid, Quill Analytics active with two charges; any other email is unknown."""
        fake = cls(api_key)
        at = int(now if now is not None else time.time())
        fake.add(
            "customers",
            {"id": "cus_SbxAlder0077", "name": "Alder Street Health",
             "email": "treasury@alderstreet.example", "created": at - 400 * DAY},
        )  # fmt: skip
        fake.add(
            "subscriptions",
            _subscription("sub_SbxAlder", "cus_SbxAlder0077", "past_due", "Enterprise",
                          2400000, "gbp", "year", at - 360 * DAY, at + 5 * DAY),
        )  # fmt: skip
        fake.add(
            "payment_intents",
            {"id": "pi_SbxAlderFailed", "customer": "cus_SbxAlder0077", "amount": 2400000,
             "currency": "gbp", "status": "requires_payment_method", "created": at - 2 * DAY,
             "last_payment_error": {"type": "card_error", "code": "card_declined",
                                    "decline_code": "insufficient_funds",
                                    "message": "Your card has insufficient funds."}},
        )  # fmt: skip
        fake.add(
            "customers",
            {"id": "cus_SbxHarbor2217", "name": "Harbor & Finch LLC",
             "email": "ap@harborfinch.example", "created": at - 200 * DAY},
        )  # fmt: skip
        fake.add(
            "subscriptions",
            _subscription("sub_SbxHarbor", "cus_SbxHarbor2217", "active", "Pro", 4900, "usd",
                          "month", at - 20 * DAY, at + 10 * DAY),
        )  # fmt: skip
        fake.add(
            "payment_intents",
            {"id": "pi_SbxHarborPaid", "customer": "cus_SbxHarbor2217", "amount": 4900,
             "currency": "usd", "status": "succeeded", "created": at - 20 * DAY,
             "last_payment_error": None},
        )  # fmt: skip
        fake.add(
            "customers",
            {"id": "cus_SbxQuill4402", "name": "Quill Analytics", "email": "finance@quill.example",
             "created": at - 500 * DAY},
        )  # fmt: skip
        fake.add(
            "subscriptions",
            _subscription("sub_SbxQuill", "cus_SbxQuill4402", "active", "Team", 118000, "usd",
                          "month", at - 3 * DAY, at + 27 * DAY),
        )  # fmt: skip
        for n, ago in enumerate((3 * DAY, 3 * DAY - 600)):
            fake.add(
                "charges",
                {"id": f"ch_SbxQuill{n}", "customer": "cus_SbxQuill4402", "amount": 118000,
                 "currency": "usd", "status": "succeeded", "paid": True, "created": at - ago,
                 "failure_message": None, "failure_code": None},
            )  # fmt: skip
        return fake


def _subscription(
    sub_id: str,
    customer: str,
    status: str,
    plan: str,
    unit_amount: int,
    currency: str,
    interval: str,
    start: int,
    end: int,
) -> JSONDict:
    """A subscription in the shape of API version 2025-03-31 and later (the period on its
    items)."""
    price = {
        "id": f"price_{sub_id[4:]}",
        "object": "price",
        "nickname": plan,
        "product": f"prod_{sub_id[4:]}",
        "unit_amount": unit_amount,
        "currency": currency,
        "recurring": {"interval": interval, "interval_count": 1},
    }
    item = {
        "id": f"si_{sub_id[4:]}",
        "object": "subscription_item",
        "price": price,
        "quantity": 1,
        "current_period_start": start,
        "current_period_end": end,
    }
    return {
        "id": sub_id,
        "customer": customer,
        "status": status,
        "currency": currency,
        "created": start,
        "items": {
            "object": "list",
            "data": [item],
            "has_more": False,
            "url": "/v1/subscription_items",
        },
    }
