"""Async client for the Plisio API (every call is a GET with ``api_key`` in the query).

Only the idempotent look-ups are retried (5xx, 429 and transport failures, with exponential
backoff and full jitter, honouring a capped ``Retry-After``). Creating an invoice is never
retried here: after an ambiguous failure the caller looks the order up before trying again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from connectors.plisio.errors import (
    PlisioAPIError,
    PlisioError,
    PlisioTimeout,
    PlisioTransportError,
    parse_field_errors,
    redact,
)
from connectors.plisio.models import Invoice, InvoiceDetails, Operation, OperationsPage
from connectors.retry_after import retry_after_seconds

__all__ = ["DEFAULT_BASE_URL", "PlisioClient", "build_http_client", "invoice_page_base"]

DEFAULT_BASE_URL = "https://api.plisio.net/api/v1"
logger = logging.getLogger(__name__)
_ModelT = TypeVar("_ModelT", bound=BaseModel)
_BODY_SNIPPET = 120


class _RedactQueryKeyFilter(logging.Filter):
    """Redacts ``api_key=`` from records of the ``httpx`` logger (it logs every request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message.lower():
            record.msg = redact(message)
            record.args = None
        return True


def _install_httpx_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQueryKeyFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactQueryKeyFilter())


def build_http_client(timeout: float = 10.0) -> httpx.AsyncClient:
    """Build the ``httpx.AsyncClient`` for ``PlisioClient`` (connect 5 s, read ``timeout``)."""
    _install_httpx_log_redaction()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        headers={"Accept": "application/json", "User-Agent": "finance-handoff-bot"},
        follow_redirects=False,
    )


def invoice_page_base(api_base_url: str) -> str:
    """Where invoice pages live for an API base URL: ``https://plisio.net/invoice`` for Plisio.

    ``/operations`` answers carry no ``invoice_url``; Plisio's invoice page is
    ``https://plisio.net/invoice/{txn_id}``. A double of the API (the sandbox) serves the same
    path next to its ``/api/v1``.
    """
    parts = urlsplit(api_base_url.rstrip("/"))
    host = (parts.hostname or "").lower()
    if host == "plisio.net" or host.endswith(".plisio.net"):
        return "https://plisio.net/invoice"
    path = parts.path[: -len("/api/v1")] if parts.path.endswith("/api/v1") else parts.path
    return f"{parts.scheme}://{parts.netloc}{path}/invoice"


def _format_amount(amount: Decimal) -> str:
    if not amount.is_finite() or amount <= 0:
        raise ValueError("source_amount must be a positive, finite Decimal")
    return format(amount, "f")


class PlisioClient:
    """Typed, retrying client for the Plisio endpoints this project uses."""

    def __init__(
        self,
        api_key: str,
        *,
        http: httpx.AsyncClient,
        base_url: str = DEFAULT_BASE_URL,
        max_retries: int = 3,
        backoff_base: float = 0.2,
        max_backoff: float = 5.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        if not api_key:
            raise ValueError("a Plisio api_key is required")
        self._api_key = api_key
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._max_retries = max(0, max_retries)
        self._backoff_base = backoff_base
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._random = random_fraction
        self._invoice_pages = invoice_page_base(self._base_url)
        _install_httpx_log_redaction()

    def __repr__(self) -> str:
        return f"PlisioClient(base_url={self._base_url!r}, api_key=***)"

    async def create_invoice(
        self,
        *,
        order_number: str,
        order_name: str,
        source_amount: Decimal,
        source_currency: str,
        description: str | None = None,
        email: str | None = None,
        callback_url: str | None = None,
        currency: str | None = None,
        allowed_psys_cids: list[str] | None = None,
        expire_min: int | None = None,
    ) -> Invoice:
        """Create an invoice priced in fiat; never retried (the outcome of a failure is unknown)."""
        params: dict[str, str | None] = {
            "order_number": order_number,
            "order_name": order_name,
            "source_amount": _format_amount(source_amount),
            "source_currency": source_currency,
            "description": description,
            "email": email,
            "callback_url": callback_url,
            "currency": currency,
            "allowed_psys_cids": ",".join(allowed_psys_cids) if allowed_psys_cids else None,
            "expire_min": str(expire_min) if expire_min is not None else None,
        }
        data, status = await self._get("/invoices/new", params, retry=False)
        return self._model(Invoice, data, "/invoices/new", status)

    async def list_operations(
        self,
        *,
        search: str | None = None,
        page: int = 1,
        limit: int = 50,
        type: str | None = None,  # Plisio's parameter name
        status: str | None = None,
        currency: str | None = None,
    ) -> OperationsPage:
        """Return one page of ``GET /operations`` filtered by the given parameters."""
        params: dict[str, str | None] = {
            "page": str(page),
            "limit": str(limit),
            "search": search,
            "type": type,
            "status": status,
            "currency": currency,
        }
        data, http_status = await self._get("/operations", params, retry=True)
        found = self._model(OperationsPage, data, "/operations", http_status)
        operations = [self._with_link(op) for op in found.operations]
        return found.model_copy(update={"operations": operations})

    async def get_operation(self, operation_id: str) -> Operation:
        """Return one operation by its id (``GET /operations/{id}``)."""
        path = f"/operations/{self._segment(operation_id)}"
        data, status = await self._get(path, {}, retry=True)
        return self._with_link(self._model(Operation, data, "/operations/{id}", status))

    def invoice_link(self, txn_id: str) -> str:
        """The invoice's page, built from its id (``https://plisio.net/invoice/{txn_id}``)."""
        return f"{self._invoice_pages}/{quote(txn_id, safe='')}"

    def _with_link(self, operation: Operation) -> Operation:
        if operation.invoice_url or operation.type not in (None, "invoice"):
            return operation
        return operation.model_copy(update={"invoice_url": self.invoice_link(operation.id)})

    async def get_invoice(self, invoice_id: str) -> InvoiceDetails:
        """Return an invoice's details (``GET /invoices/{id}``, ``data.invoice``)."""
        path = f"/invoices/{self._segment(invoice_id)}"
        data, status = await self._get(path, {}, retry=True)
        invoice = data.get("invoice")
        return self._model(
            InvoiceDetails, invoice if isinstance(invoice, dict) else data, "/invoices/{id}", status
        )

    async def find_by_order_number(
        self, order_number: str, *, max_pages: int = 5
    ) -> list[Operation]:
        """Return operations whose ``params.order_number`` equals ``order_number``, newest first."""
        if not order_number:
            raise ValueError("order_number must not be empty")
        found: dict[str, Operation] = {}
        page_number = 1
        while True:
            page = await self.list_operations(search=order_number, page=page_number)
            for operation in page.operations:
                if operation.params.order_number == order_number:
                    found.setdefault(operation.id, operation)
            if not page.has_next or not page.operations or page_number >= max_pages:
                break
            page_number += 1
        return sorted(found.values(), key=_newest_first_key, reverse=True)

    @staticmethod
    def _segment(value: str) -> str:
        if not value:
            raise ValueError("an id must not be empty")
        return quote(value, safe="")

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def _model(self, model: type[_ModelT], data: object, what: str, status: int) -> _ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "<root>"
            raise PlisioAPIError(
                f"Plisio {what} answered an unexpected shape: {where}: {first['msg']}",
                http_status=status,
            ) from None

    async def _get(
        self, path: str, params: Mapping[str, str | None], *, retry: bool
    ) -> tuple[dict[str, Any], int]:
        query = {key: value for key, value in params.items() if value is not None}
        query["api_key"] = self._api_key
        url = f"{self._base_url}{path}"
        attempt = 0
        while True:
            error: PlisioError
            try:
                response = await self._http.get(url, params=query)
            except httpx.TimeoutException as exc:
                error = PlisioTimeout(f"Plisio GET {path} timed out ({type(exc).__name__})")
            except httpx.RequestError as exc:
                error = PlisioTransportError(
                    f"Plisio GET {path} failed: {type(exc).__name__}: {self._redact(str(exc))}"
                )
            else:
                try:
                    return self._unwrap(response, path), response.status_code
                except PlisioAPIError as exc:
                    error = exc
            if not retry or not error.retryable or attempt >= self._max_retries:
                logger.warning(
                    "Plisio GET %s failed (attempt %d, not retrying): %s", path, attempt + 1, error
                )
                raise error
            delay = self._delay(attempt, error)
            logger.warning(
                "Plisio GET %s failed (attempt %d of %d), retrying in %.2fs: %s",
                path,
                attempt + 1,
                self._max_retries + 1,
                delay,
                error,
            )
            await self._sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, error: PlisioError) -> float:
        if isinstance(error, PlisioAPIError) and error.retry_after is not None:
            return min(error.retry_after, self._max_retry_after)
        ceiling = min(self._max_backoff, self._backoff_base * (2.0**attempt))
        return ceiling * self._random()

    def _unwrap(self, response: httpx.Response, path: str) -> dict[str, Any]:
        status = response.status_code
        retry_after = (
            retry_after_seconds(response.headers.get("Retry-After"))
            if status in (429, 503)
            else None
        )
        try:
            body = response.json()
        except ValueError:
            snippet = self._redact(response.text[:_BODY_SNIPPET].strip())
            raise PlisioAPIError(
                f"Plisio GET {path} answered a non-JSON body "
                f"({response.headers.get('content-type', 'no content-type')}): {snippet!r}",
                http_status=status,
                retry_after=retry_after,
            ) from None
        if not isinstance(body, dict):
            raise PlisioAPIError(
                f"Plisio GET {path} answered JSON that is not an object", http_status=status
            )
        data = body.get("data")
        if body.get("status") == "success" and status < 400 and isinstance(data, dict):
            return data
        error_data: dict[str, Any] = data if isinstance(data, dict) else {}
        raw_message = error_data.get("message")
        field_errors = parse_field_errors(raw_message)
        if field_errors:
            text = "; ".join(f"{field}: {msg}" for field, msg in field_errors.items())
        elif isinstance(raw_message, str) and raw_message.strip():
            text = raw_message.strip()
        elif body.get("status") == "success":
            text = f"unexpected answer with HTTP {status}"
        else:
            text = "error without a message"
        name = error_data.get("name")
        code = error_data.get("code")
        raise PlisioAPIError(
            f"Plisio GET {path}: {self._redact(text)}",
            http_status=status,
            name=self._redact(name) if isinstance(name, str) else None,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            field_errors={k: self._redact(v) for k, v in field_errors.items()},
            retry_after=retry_after,
        )


def _newest_first_key(operation: Operation) -> float:
    return operation.created_at.timestamp() if operation.created_at else float("-inf")
