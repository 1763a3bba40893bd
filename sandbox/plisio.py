"""A loopback fake of the Plisio API for tests and the local sandbox mode.

It serves the calls ``connectors.plisio.PlisioClient`` makes (under ``/api/v1``), keeps invoices in
memory, records every request (without the api key), can be told to fail, stall or go down, and
sends correctly signed status callbacks. Like real Plisio (as far as anyone has confirmed) it does
NOT de-duplicate invoices by ``order_number``, so callers' duplicate handling can be tested.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from aiohttp import web

from connectors.plisio.callbacks import sign_form_callback, sign_json_callback

__all__ = ["SETTLE_CHOICES", "FakeInvoice", "FakePlisio", "RecordedRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Sandbox choices: the Plisio status each sends, and the share of the invoice that arrived
# (None: all of it for paid statuses, nothing otherwise).
SETTLE_CHOICES: dict[str, tuple[str, Decimal | None]] = {
    "completed": ("completed", None),
    "underpaid": ("mismatch", Decimal("0.9")),  # pay short: 90 % arrives
    "overpaid": ("mismatch", Decimal("1.05")),
    "expired": ("expired", None),
    "cancelled": ("cancelled", None),
}
_FINAL_STATUSES = frozenset(
    {"completed", "mismatch", "expired", "cancelled", "cancelled duplicate", "error"}
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; ``params`` never holds the api key."""

    method: str
    path: str
    params: dict[str, str]
    authorized: bool


@dataclass
class FakeInvoice:
    """An invoice held by the fake (priced 1:1 in its crypto ``currency``)."""

    txn_id: str
    seq: int
    order_number: str
    order_name: str
    source_amount: Decimal
    source_currency: str
    currency: str
    amount: Decimal
    invoice_url: str
    created_at: int
    expire_at: int
    description: str | None = None
    email: str | None = None
    callback_url: str | None = None
    status: str = "new"
    received_amount: Decimal = Decimal("0")
    finished_at: int | None = None
    tx_urls: list[str] = field(default_factory=list)

    def operation_json(self) -> dict[str, object]:
        """Render the invoice as an item of ``GET /operations``."""
        return {
            "id": self.txn_id,
            "type": "invoice",
            "status": self.status,
            "currency": self.currency,
            "psys_cid": self.currency,
            "amount": str(self.amount),
            "source_currency": self.source_currency,
            "params": {
                "order_number": self.order_number,
                "order_name": self.order_name,
                "description": self.description,
                "email": self.email,
                "source_amount": str(self.source_amount),
                "source_currency": self.source_currency,
            },
            "created_at_utc": self.created_at,
            "expire_at_utc": self.expire_at,
            "finished_at_utc": self.finished_at,
            # Like Plisio's: no invoice_url here (it is https://plisio.net/invoice/{id}).
            "tx_url": list(self.tx_urls),
        }

    def invoice_json(self) -> dict[str, object]:
        """Render the invoice as ``data.invoice`` of ``GET /invoices/{id}``."""
        remaining = max(self.amount - self.received_amount, Decimal("0"))
        return {
            "txn_id": self.txn_id,
            "status": self.status,
            "amount": str(self.amount),
            "received_amount": str(self.received_amount),
            "remaining_amount": str(remaining),
            "currency": self.currency,
            "psys_cid": self.currency,
            "source_amount": str(self.source_amount),
            "source_currency": self.source_currency,
            "order_number": self.order_number,
            "order_name": self.order_name,
            "email": self.email,
            "invoice_url": self.invoice_url,
            "created_at_utc": self.created_at,
            "expire_at_utc": self.expire_at,
            "tx_url": list(self.tx_urls),
        }


@dataclass(frozen=True)
class _Failure:
    status: int
    after_commit: bool
    retry_after: float | None


def _plisio_error(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    try:
        name = HTTPStatus(status).phrase
    except ValueError:
        name = "Error"
    body = {"status": "error", "data": {"name": name, "message": message, "code": 0}}
    return web.json_response(body, status=status, headers=headers)


def _field_errors(errors: dict[str, str]) -> web.Response:
    return _plisio_error(422, json.dumps(errors))


class FakePlisio:
    """In-memory Plisio; ``app`` is the aiohttp application to serve."""

    def __init__(
        self,
        secret_key: str,
        *,
        public_url: str | None = None,
        api_prefix: str = "/api/v1",
        default_currency: str = "USDT",
        merchant: str = "Sandbox shop",
        clock: Callable[[], float] = time.time,
        callback_http: httpx.AsyncClient | None = None,
        invoice_url_base: str | None = None,
    ) -> None:
        self.secret_key = secret_key
        self.public_url = public_url.rstrip("/") if public_url else None
        # Where invoice links point (default: this fake's own page at {public_url}/invoice).
        self.invoice_url_base = invoice_url_base.rstrip("/") if invoice_url_base else None
        self.api_prefix = api_prefix.rstrip("/")
        self.default_currency = default_currency
        self.merchant = merchant
        self.merchant_id = secrets.token_hex(12)
        self.invoices: dict[str, FakeInvoice] = {}
        self.requests: list[RecordedRequest] = []
        self.delay_seconds = 0.0
        self.down = False
        self._clock = clock
        self._callback_http = callback_http
        self._failures: deque[_Failure] = deque()
        self._seq = 0
        self.on_change: list[Callable[[], None]] = []  # told when an invoice is added or changed
        self.app = web.Application()
        prefix = self.api_prefix
        self.app.router.add_get(f"{prefix}/invoices/new", self._api(self._create_invoice))
        self.app.router.add_get(f"{prefix}/operations", self._api(self._list_operations))
        self.app.router.add_get(f"{prefix}/operations/{{txn_id}}", self._api(self._get_operation))
        self.app.router.add_get(f"{prefix}/invoices/{{txn_id}}", self._api(self._get_invoice))
        self.app.router.add_get("/invoice/{txn_id}", self._invoice_page)

    @property
    def api_base_url(self) -> str:
        """The base URL to give ``PlisioClient`` (known once served or given ``public_url``)."""
        if self.public_url is None:
            raise RuntimeError("FakePlisio has no public_url yet: pass one or use running()")
        return f"{self.public_url}{self.api_prefix}"

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        after_commit: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next ``n`` API calls with ``status`` (``after_commit``: act, then fail)."""
        for _ in range(n):
            self._failures.append(_Failure(status, after_commit, retry_after))

    def invoices_for_order(self, order_number: str) -> list[FakeInvoice]:
        """Return every invoice created for ``order_number``, oldest first."""
        found = [inv for inv in self.invoices.values() if inv.order_number == order_number]
        return sorted(found, key=lambda inv: inv.seq)

    def add_invoice(
        self,
        *,
        order_number: str,
        order_name: str,
        source_amount: Decimal,
        source_currency: str = "USD",
        currency: str | None = None,
        email: str | None = None,
        description: str | None = None,
        callback_url: str | None = None,
        expire_min: int = 1440,
        created_at: int | None = None,
    ) -> FakeInvoice:
        """Store a new invoice directly (seeding state without an API call)."""
        self._seq += 1
        txn_id = secrets.token_hex(12)
        created = int(self._clock()) if created_at is None else created_at
        invoice = FakeInvoice(
            txn_id=txn_id,
            seq=self._seq,
            order_number=order_number,
            order_name=order_name,
            source_amount=source_amount,
            source_currency=source_currency,
            currency=currency or self.default_currency,
            amount=source_amount,
            invoice_url=f"{self.invoice_url_base or (self.public_url or '') + '/invoice'}/{txn_id}",
            created_at=created,
            expire_at=created + expire_min * 60,
            description=description,
            email=email,
            callback_url=callback_url,
        )
        self.invoices[txn_id] = invoice
        self._changed()
        return invoice

    def _changed(self) -> None:
        for listener in list(self.on_change):
            listener()

    async def set_status(
        self,
        txn_id: str,
        status: str,
        *,
        callback_json: bool | None = True,
        received_amount: Decimal | None = None,
        sign_with: str | None = None,
        extra_fields: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """Change an invoice's status and POST a signed callback to its ``callback_url``."""
        invoice = self.invoices[txn_id]
        invoice.status = status
        if received_amount is not None:
            invoice.received_amount = received_amount
        elif status in ("completed", "mismatch"):
            invoice.received_amount = invoice.amount
        if status in _FINAL_STATUSES:
            invoice.finished_at = int(self._clock())
        self._changed()
        if not invoice.callback_url:
            return None
        as_json = callback_json
        if as_json is None:
            query = parse_qs(urlsplit(invoice.callback_url).query)
            as_json = query.get("json", ["false"])[-1].lower() == "true"
        fields = self._callback_fields(invoice) | (extra_fields or {})
        key = self.secret_key if sign_with is None else sign_with
        fields["verify_hash"] = (
            sign_json_callback(fields, key) if as_json else sign_form_callback(fields, key)
        )
        if self._callback_http is not None:
            return await self._post_callback(
                self._callback_http, invoice.callback_url, fields, as_json
            )
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await self._post_callback(client, invoice.callback_url, fields, as_json)

    async def settle(self, txn_id: str, choice: str) -> httpx.Response | None:
        """What a sandbox visitor can make happen to an invoice (see ``SETTLE_CHOICES``)."""
        invoice = self.invoices[txn_id]
        if choice not in SETTLE_CHOICES:
            raise ValueError(f"choice must be one of {', '.join(SETTLE_CHOICES)}")
        status, share = SETTLE_CHOICES[choice]
        received = None if share is None else (invoice.amount * share).quantize(Decimal("0.01"))
        return await self.set_status(txn_id, status, received_amount=received)

    @staticmethod
    async def _post_callback(
        client: httpx.AsyncClient, url: str, fields: dict[str, str], as_json: bool
    ) -> httpx.Response:
        if as_json:
            return await client.post(url, json=fields)
        return await client.post(url, data=fields)

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the fake on ``host:port`` (0 picks a free port); yields the API base URL."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        own_url = self.public_url is None
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_port = runner.addresses[0][1]
            if own_url:
                self.public_url = f"http://{host}:{bound_port}"
            yield self.api_base_url
        finally:
            if own_url:
                self.public_url = None
            await runner.cleanup()

    def _callback_fields(self, invoice: FakeInvoice) -> dict[str, str]:
        return {
            "txn_id": invoice.txn_id,
            "ipn_type": "invoice",
            "merchant": self.merchant,
            "merchant_id": self.merchant_id,
            "order_number": invoice.order_number,
            "order_name": invoice.order_name,
            "amount": str(invoice.received_amount),
            "currency": invoice.currency,
            "psys_cid": invoice.currency,
            "source_amount": str(invoice.source_amount),
            "source_currency": invoice.source_currency,
            "source_rate": "1",
            "confirmations": "1" if invoice.status in ("completed", "mismatch") else "0",
            "status": invoice.status,
            "comment": f"Invoice details: {invoice.invoice_url}",
            "invoice_total_sum": str(invoice.amount),
            "expire_utc": str(invoice.expire_at),
        }

    def _api(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            params = {k: v for k, v in request.query.items() if k != "api_key"}
            authorized = secrets.compare_digest(
                request.query.get("api_key", "").encode(), self.secret_key.encode()
            )
            self.requests.append(RecordedRequest(request.method, request.path, params, authorized))
            if self.delay_seconds > 0:
                await asyncio.sleep(self.delay_seconds)
            if self.down:
                return web.Response(
                    status=503,
                    text="<html><body>503 Service Unavailable</body></html>",
                    content_type="text/html",
                )
            failure = self._failures.popleft() if self._failures else None
            if failure is not None and failure.after_commit and authorized:
                await handler(request)
            if failure is not None:
                headers = (
                    {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after else None
                )
                return _plisio_error(failure.status, "Injected failure", headers=headers)
            if not authorized:
                return _plisio_error(401, "Your request was made with invalid credentials.")
            return await handler(request)

        return wrapped

    async def _create_invoice(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        errors: dict[str, str] = {}
        for name, label in (("order_number", "Order Number"), ("order_name", "Order Name")):
            if not q.get(name, "").strip():
                errors[name] = f"{label} cannot be blank."
        amount: Decimal | None = None
        try:
            amount = Decimal(q.get("source_amount", ""))
        except InvalidOperation:
            errors["source_amount"] = "Source Amount must be a number."
        if amount is not None and (not amount.is_finite() or amount <= 0):
            errors["source_amount"] = "Source Amount must be greater than 0."
        if not q.get("source_currency", "").strip():
            errors["source_currency"] = "Source Currency cannot be blank."
        expire_min = q.get("expire_min", "1440")
        if not expire_min.isdigit():
            errors["expire_min"] = "Expire Min must be an integer."
        if errors or amount is None:
            return _field_errors(errors)
        allowed = [c for c in q.get("allowed_psys_cids", "").split(",") if c]
        if self.public_url is None:
            self.public_url = f"{request.scheme}://{request.host}"
        invoice = self.add_invoice(
            order_number=q["order_number"],
            order_name=q["order_name"],
            source_amount=amount,
            source_currency=q["source_currency"],
            currency=q.get("currency") or (allowed[0] if allowed else None),
            email=q.get("email") or None,
            description=q.get("description") or None,
            callback_url=q.get("callback_url") or None,
            expire_min=int(expire_min),
        )
        data = {
            "txn_id": invoice.txn_id,
            "invoice_url": invoice.invoice_url,
            "invoice_total_sum": str(invoice.amount),
        }
        return web.json_response({"status": "success", "data": data})

    async def _list_operations(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        page_text, limit_text = q.get("page", "1"), q.get("limit", "10")
        if not page_text.isdigit() or not limit_text.isdigit() or int(limit_text) < 1:
            return _field_errors({"page": "Page and limit must be positive integers."})
        page, limit = max(1, int(page_text)), min(100, int(limit_text))
        search = q.get("search", "").strip().lower()
        matches = [
            inv
            for inv in self.invoices.values()
            if (
                not search
                or any(
                    search in (v or "").lower() for v in (inv.txn_id, inv.order_number, inv.email)
                )
            )
            and q.get("type", "invoice") == "invoice"
            and q.get("status", inv.status) == inv.status
            and q.get("currency", inv.currency) == inv.currency
        ]
        matches.sort(key=lambda inv: (inv.created_at, inv.seq), reverse=True)
        total = len(matches)
        page_count = math.ceil(total / limit)
        items = matches[(page - 1) * limit : page * limit]
        base = self.public_url or f"{request.scheme}://{request.host}"
        link_params = {k: v for k, v in q.items() if k not in ("api_key", "page")}

        def href(n: int) -> dict[str, str]:
            query = urlencode({**link_params, "page": str(n)})
            return {"href": f"{base}{self.api_prefix}/operations?{query}"}

        links = {"self": href(page), "first": href(1), "last": href(max(page_count, 1))}
        if page < page_count:
            links["next"] = href(page + 1)
        if page > 1:
            links["prev"] = href(page - 1)
        meta = {"totalCount": total, "pageCount": page_count, "currentPage": page, "perPage": limit}
        data = {
            "operations": [inv.operation_json() for inv in items],
            "_links": links,
            "_meta": meta,
        }
        return web.json_response({"status": "success", "data": data})

    async def _get_operation(self, request: web.Request) -> web.StreamResponse:
        invoice = self.invoices.get(request.match_info["txn_id"])
        if invoice is None:
            return _plisio_error(404, "Operation not found.")
        return web.json_response({"status": "success", "data": invoice.operation_json()})

    async def _get_invoice(self, request: web.Request) -> web.StreamResponse:
        invoice = self.invoices.get(request.match_info["txn_id"])
        if invoice is None:
            return _plisio_error(404, "Invoice not found.")
        return web.json_response({"status": "success", "data": {"invoice": invoice.invoice_json()}})

    async def _invoice_page(self, request: web.Request) -> web.StreamResponse:
        invoice = self.invoices.get(request.match_info["txn_id"])
        if invoice is None:
            raise web.HTTPNotFound(text="Invoice not found")
        if self.invoice_url_base and invoice.invoice_url != str(request.url):
            raise web.HTTPFound(invoice.invoice_url)  # the sandbox's own invoice page
        body = (
            f"<!doctype html><html><head><title>Invoice {invoice.txn_id}</title></head><body>"
            f"<h1>{html.escape(invoice.order_name)}</h1>"
            f"<p>{invoice.amount} {html.escape(invoice.currency)}</p>"
            f'<p class="status">{html.escape(invoice.status)}</p></body></html>'
        )
        return web.Response(text=body, content_type="text/html")
