"""A loopback double of the Stripe API the bot uses, for tests and the local sandbox mode.

It serves what ``connectors.stripe`` reads (customers by email, subscriptions ``status=all``,
payment intents, charges, invoices, disputes and refunds, each also by id; ``charge`` /
``payment_intent`` filters on disputes and refunds) in Stripe's own shapes: list objects
``{"object": "list", "data": [...], "has_more": false, "url": ...}`` and errors
``{"error": {"type", "code", "message"}}``. Auth is a Bearer secret key like Stripe's; a wrong
key gets Stripe's 401, a restricted key without a permission (``deny``, e.g. ``rak_refund_write``)
Stripe's 403 naming it. It can be told to fail (``fail_next``: 429 with ``Retry-After``, 5xx) and
to answer slowly (``delay``).

``POST /v1/refunds`` refunds a charge or a payment intent (its latest charge) with Stripe's
``Idempotency-Key`` semantics: the same key with the same parameters replays the first refund,
with other parameters it is a 400 ``idempotency_error``. A refund may be made to stay ``pending``
for some reads (``pending_refunds``), to fail (``fail_refunds``), or to be stored while its answer
is lost (``lose_next_answer``). Charges carry ``amount_refunded`` / ``refunded`` / ``disputed``.

``demo()`` holds the sandbox's customers, matching the demo handoffs' emails.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["PERMISSIONS", "WRITE_PERMISSIONS", "FakeStripe", "StripeRequest"]

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
    "disputes": "rak_dispute_read",
    "refunds": "rak_refund_read",
}
WRITE_PERMISSIONS = {"refunds": "rak_refund_write"}
_SINGULAR = {
    "customers": "customer",
    "subscriptions": "subscription",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "invoices": "invoice",
    "disputes": "dispute",
    "refunds": "refund",
}
_FILTERS = ("customer", "charge", "payment_intent")


@dataclass(frozen=True)
class StripeRequest:
    """One request the double received (never the key)."""

    method: str
    path: str
    params: dict[str, str]
    authorized: bool
    form: dict[str, str] = field(default_factory=dict)  # a POST's form body
    idempotency_key: str | None = None


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
    # Called with each refund right after it is stored, before it is answered (a test may kill
    # the caller there).
    on_refund: Callable[[JSONDict], object] | None = None
    _failures: list[_Failure] = field(default_factory=list)
    _idempotent: dict[str, tuple[str, JSONDict]] = field(default_factory=dict)
    _pending: list[int | None] = field(default_factory=list)  # reads before success
    _failing: list[str] = field(default_factory=list)  # failure reasons of the next refunds
    _settle: dict[str, int | None] = field(default_factory=dict)  # refund id -> reads left
    _lose_answers: int = 0
    app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self.app = web.Application(middlewares=[self._middleware])
        for resource in PERMISSIONS:
            self.app.router.add_get(f"/v1/{resource}", self._lister(resource))
            self.app.router.add_get(f"/v1/{resource}/{{id}}", self._getter(resource))
        self.app.router.add_post("/v1/refunds", self._create_refund)

    # --- test and sandbox controls -------------------------------------------------------

    def add(self, resource: str, obj: JSONDict) -> JSONDict:
        """Keep ``obj`` (it has its ``id``) under ``resource`` ("customers", ...)."""
        obj.setdefault("object", _SINGULAR[resource])
        obj.setdefault("livemode", False)
        obj.setdefault("created", int(time.time()))
        if resource == "charges":
            obj.setdefault("amount_refunded", 0)
            obj.setdefault("refunded", False)
            obj.setdefault("disputed", False)
        self.objects[resource][obj["id"]] = obj
        return obj

    def deny(self, permission: str) -> None:
        """Answer requests needing ``permission`` as for a restricted key without it."""
        self.denied.add(permission)

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (a 429 carries ``Retry-After``)."""
        self._failures.extend(_Failure(status, retry_after) for _ in range(times))

    def pending_refunds(self, *, reads: int | None = 1, times: int = 1) -> None:
        """The next ``times`` refunds start ``pending`` and succeed after ``reads`` reads of
        them (``None``: they stay pending)."""
        self._pending.extend(reads for _ in range(times))

    def fail_refunds(self, reason: str = "expired_or_canceled_card", *, times: int = 1) -> None:
        """The next ``times`` refunds fail with Stripe's ``failure_reason``."""
        self._failing.extend(reason for _ in range(times))

    def lose_next_answer(self) -> None:
        """The next refund is made, but its answer is lost on the way back (a 502)."""
        self._lose_answers += 1

    def refunds(self) -> list[JSONDict]:
        """Every refund made, oldest first."""
        return list(self.objects["refunds"].values())

    def writes(self) -> list[StripeRequest]:
        """The authorized requests to refund (``POST /v1/refunds``), each try counted."""
        return [r for r in self.requests if r.method == "POST" and r.authorized]

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
        form = (
            {k: str(v) for k, v in (await request.post()).items()} if request.can_read_body else {}
        )
        self.requests.append(
            StripeRequest(
                request.method,
                request.path,
                dict(request.query),
                ok,
                form,
                request.headers.get("Idempotency-Key"),
            )
        )
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
        writes = WRITE_PERMISSIONS if request.method == "POST" else PERMISSIONS
        permission = writes.get(resource)
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
            for name in _FILTERS:
                if name in query:
                    found = [o for o in found if o.get(name) == query[name]]
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
            if resource == "refunds":
                self._settle_on_read(obj)
            return web.json_response(obj)

        return get

    # --- refunds --------------------------------------------------------------------------

    def _settle_on_read(self, refund: JSONDict) -> None:
        """A pending refund is read: after its reads it has succeeded."""
        if refund["status"] != "pending" or refund["id"] not in self._settle:
            return
        left = self._settle[refund["id"]]
        if left is None:
            return
        left -= 1
        self._settle[refund["id"]] = left
        if left <= 0:
            refund["status"] = "succeeded"
            del self._settle[refund["id"]]

    async def _create_refund(self, request: web.Request) -> web.StreamResponse:
        params = _nested({k: str(v) for k, v in (await request.post()).items()})
        key = request.headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        if key is not None and key in self._idempotent:
            first, answer = self._idempotent[key]
            if first != fingerprint:
                return _error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type_="idempotency_error",
                )
            return web.json_response(answer, headers={"Idempotent-Replayed": "true"})
        charge, refused = self._refundable_charge(params)
        if refused is not None:
            return refused
        assert charge is not None
        remaining = int(charge["amount"]) - int(charge.get("amount_refunded") or 0)
        try:
            amount = int(params.get("amount", remaining))
        except ValueError:
            return _error(400, "Invalid integer: amount", code="parameter_invalid_integer")
        if amount <= 0 or amount > remaining:
            return _error(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                code="amount_too_large",
            )
        refund = self._refund(charge, amount, params)
        if key is not None:
            self._idempotent[key] = (fingerprint, json.loads(json.dumps(refund)))
        if self.on_refund is not None:
            self.on_refund(refund)
        if self._lose_answers:
            self._lose_answers -= 1
            return web.json_response(
                {"error": {"type": "api_error", "message": "Bad gateway"}}, status=502
            )
        return web.json_response(refund)

    def _refundable_charge(self, params: JSONDict) -> tuple[JSONDict | None, web.Response | None]:
        charge_id = params.get("charge")
        intent_id = params.get("payment_intent")
        if intent_id:
            intent = self.objects["payment_intents"].get(str(intent_id))
            if intent is None:
                msg = f"No such payment_intent: '{intent_id}'"
                return None, _error(400, msg, code="resource_missing")
            charge_id = intent.get("latest_charge")
            if not charge_id:
                msg = (
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                )
                return None, _error(400, msg, code="charge_not_refundable")
        if not charge_id:
            return None, _error(
                400, "One of the following params should be provided for this request: "
                "payment_intent or charge.", code="parameter_missing"
            )  # fmt: skip
        charge = self.objects["charges"].get(str(charge_id))
        if charge is None:
            return None, _error(400, f"No such charge: '{charge_id}'", code="resource_missing")
        if charge.get("disputed"):
            msg = f"Charge {charge_id} has been charged back; cannot issue a refund."
            return None, _error(400, msg, code="charge_disputed")
        if charge.get("refunded"):
            msg = f"Charge {charge_id} has already been refunded."
            return None, _error(400, msg, code="charge_already_refunded")
        return charge, None

    def _refund(self, charge: JSONDict, amount: int, params: JSONDict) -> JSONDict:
        refund_id = "re_" + secrets.token_hex(12)
        status = "succeeded"
        failure = None
        if self._failing:
            status, failure = "failed", self._failing.pop(0)
        elif self._pending:
            status = "pending"
            self._settle[refund_id] = self._pending.pop(0)
        refund: JSONDict = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge.get("payment_intent"),
            "status": status,
            "failure_reason": failure,
            "reason": params.get("reason"),
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
        }
        self.objects["refunds"][refund_id] = refund
        if status != "failed":
            refunded = int(charge.get("amount_refunded") or 0) + amount
            charge["amount_refunded"] = refunded
            charge["refunded"] = refunded >= int(charge["amount"])
        return refund

    # --- the sandbox's customers ------------------------------------------------------------

    @classmethod
    def demo(cls, api_key: str, *, now: float | None = None) -> FakeStripe:
        """Alder Street Health past due with a failed latest payment, Harbor & Finch active and
        paid, Quill Analytics active with two charges, Maple Row Bakery with a small paid charge
        to refund (``pi_SbxMaple19`` / ``ch_SbxMaple19``, 19.00 USD), Birch Lane Outfitters with
        a disputed charge (``pi_SbxBirchDisputed`` / ``ch_SbxBirchDisputed``, 120.00 USD, dispute
        ``du_SbxBirch`` needing a response); any other email is unknown."""
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
        fake.add(
            "customers",
            {"id": "cus_SbxMaple3105", "name": "Maple Row Bakery",
             "email": "accounts@maplerow.example", "created": at - 90 * DAY},
        )  # fmt: skip
        fake.add(
            "payment_intents",
            {"id": "pi_SbxMaple19", "customer": "cus_SbxMaple3105", "amount": 1900,
             "currency": "usd", "status": "succeeded", "created": at - 4 * DAY,
             "latest_charge": "ch_SbxMaple19", "last_payment_error": None},
        )  # fmt: skip
        fake.add(
            "charges",
            {"id": "ch_SbxMaple19", "customer": "cus_SbxMaple3105", "amount": 1900,
             "currency": "usd", "status": "succeeded", "paid": True, "created": at - 4 * DAY,
             "payment_intent": "pi_SbxMaple19", "failure_message": None, "failure_code": None},
        )  # fmt: skip
        fake.add(
            "customers",
            {"id": "cus_SbxBirch5521", "name": "Birch Lane Outfitters",
             "email": "billing@birchlane.example", "created": at - 300 * DAY},
        )  # fmt: skip
        fake.add(
            "payment_intents",
            {"id": "pi_SbxBirchDisputed", "customer": "cus_SbxBirch5521", "amount": 12000,
             "currency": "usd", "status": "succeeded", "created": at - 12 * DAY,
             "latest_charge": "ch_SbxBirchDisputed", "last_payment_error": None},
        )  # fmt: skip
        fake.add(
            "charges",
            {"id": "ch_SbxBirchDisputed", "customer": "cus_SbxBirch5521", "amount": 12000,
             "currency": "usd", "status": "succeeded", "paid": True, "disputed": True,
             "created": at - 12 * DAY, "payment_intent": "pi_SbxBirchDisputed",
             "failure_message": None, "failure_code": None},
        )  # fmt: skip
        fake.add(
            "disputes",
            {"id": "du_SbxBirch", "charge": "ch_SbxBirchDisputed",
             "payment_intent": "pi_SbxBirchDisputed", "amount": 12000, "currency": "usd",
             "status": "needs_response", "reason": "product_not_received",
             "created": at - 2 * DAY},
        )  # fmt: skip
        return fake


def _nested(form: Mapping[str, str]) -> JSONDict:
    """Stripe's form encoding (``metadata[call_id]=…``) as nested dicts."""
    out: JSONDict = {}
    for key, value in form.items():
        name, _, rest = key.partition("[")
        if rest:
            out.setdefault(name, {})[rest.rstrip("]")] = value
        else:
            out[name] = value
    return out


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
