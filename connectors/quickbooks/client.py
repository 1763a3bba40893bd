"""A thin typed client for the QuickBooks Online Accounting API, on the bot's shared httpx client.

Why not Intuit's SDK: the bot needs six calls, async, on its one shared ``httpx.AsyncClient``,
with its own token store; the official SDK is synchronous and keeps tokens in memory.

Every call carries ``minorversion``; writes carry a ``requestid`` (Intuit's idempotency key: the
same requestid answers with the entity the first call made). Failures become results the runtime
understands: a ``Fault`` (validation, business rule) -> ``GiveUp`` with QuickBooks' own message;
401 -> one refresh and one retry; 429 -> wait the documented 60 s; 5xx and dropped connections ->
``RetryAfter``. Requests are paced to Intuit's limits: 10 a second and 500 a minute per company.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from connectors.base import GiveUp, RetryAfter
from connectors.quickbooks.oauth import AuthFailed, QuickBooksAuth, Revoked, TokenUnavailable

__all__ = [
    "MINOR_VERSION",
    "QuickBooksClient",
    "QuickBooksFailure",
    "RateLimiter",
    "escape",
    "request_id",
]

MINOR_VERSION = "75"
THROTTLE_WAIT = 60.0  # Intuit: "wait 60 seconds" after a 429
SERVER_WAIT = 30.0


def request_id(call_id: str, step: str) -> str:
    """Intuit's ``requestid`` for one write of one call (sha-based, 40 characters <= 50)."""
    return hashlib.sha256(f"{call_id}\x1f{step}".encode()).hexdigest()[:40]


def escape(value: str) -> str:
    """A string literal's inside for a QuickBooks query (backslash before quotes)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


class QuickBooksFailure(Exception):
    """A call failed; ``result`` is what the connector answers the runtime."""

    def __init__(self, result: GiveUp | RetryAfter) -> None:
        super().__init__(result.reason)
        self.result = result


class RateLimiter:
    """Sliding windows: at most ``per_second`` calls in any second and ``per_minute`` in any
    minute (Intuit's limits per company). One per company per process, shared by its calls."""

    def __init__(
        self,
        per_second: int = 10,
        per_minute: int = 500,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._windows = ((1.0, per_second, deque[float]()), (60.0, per_minute, deque[float]()))
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for a slot, then take it."""
        async with self._lock:
            while True:
                now = self._clock()
                delay = 0.0
                for span, limit, calls in self._windows:
                    while calls and calls[0] <= now - span:
                        calls.popleft()
                    if len(calls) >= limit:
                        delay = max(delay, calls[0] + span - now)
                if delay <= 0:
                    for _, _, calls in self._windows:
                        calls.append(now)
                    return
                await self._sleep(delay)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(default, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


def _fault_text(body: Mapping[str, Any]) -> str | None:
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, Mapping):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    parts = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, Mapping):
            continue
        message = str(error.get("Message") or error.get("message") or "").strip()
        detail = str(error.get("Detail") or error.get("detail") or "").strip()
        code = error.get("code")
        text = message if not detail or detail == message else f"{message}: {detail}"
        parts.append(f"{text} (code {code})" if code else text)
    kind = fault.get("type")
    joined = "; ".join(p for p in parts if p) or "no message"
    return f"{kind}: {joined}" if kind else joined


class QuickBooksClient:
    """One company's API: ``{base}/v3/company/{realm}/...``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: QuickBooksAuth,
        *,
        base_url: str,
        realm: str,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._auth = auth
        self._root = f"{base_url.rstrip('/')}/v3/company/{realm}"
        self._limiter = limiter or RateLimiter()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        requestid: str | None = None,
    ) -> dict[str, Any]:
        query = {**(params or {}), "minorversion": MINOR_VERSION}
        if requestid is not None:
            query["requestid"] = requestid
        rejected: str | None = None
        for _ in range(2):
            try:
                token = await self._auth.access_token(rejected=rejected)
            except Revoked as exc:
                raise QuickBooksFailure(GiveUp(str(exc))) from None
            except AuthFailed as exc:
                raise QuickBooksFailure(GiveUp(str(exc))) from None
            except TokenUnavailable as exc:
                raise QuickBooksFailure(RetryAfter(exc.retry_after, str(exc))) from None
            await self._limiter.wait()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            content = None
            if body is not None:
                headers["Content-Type"] = "application/json"
                content = _dumps(body)
            try:
                response = await self._http.request(
                    method, f"{self._root}/{path}", params=query, headers=headers, content=content
                )
            except httpx.HTTPError as exc:
                raise QuickBooksFailure(
                    RetryAfter(SERVER_WAIT, f"QuickBooks unreachable: {exc.__class__.__name__}")
                ) from None
            if response.status_code == 401 and rejected is None:
                rejected = token  # refresh once, then try again
                continue
            return self._answer(response, what)
        raise QuickBooksFailure(
            GiveUp(f"QuickBooks refused the {what}: 401 even with a freshly refreshed token")
        )

    @staticmethod
    def _answer(response: httpx.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            raise QuickBooksFailure(
                RetryAfter(
                    _retry_after(response, THROTTLE_WAIT), "QuickBooks throttled the call (429)"
                )
            )
        if status >= 500:
            raise QuickBooksFailure(
                RetryAfter(_retry_after(response, SERVER_WAIT), f"QuickBooks answered {status}")
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        fault = _fault_text(body)
        if status >= 400 or fault is not None:
            reason = fault or response.text[:200] or "no message"
            raise QuickBooksFailure(GiveUp(f"QuickBooks refused the {what}: {status} {reason}"))
        return body

    async def query(self, statement: str, entity: str) -> list[dict[str, Any]]:
        """``select ...`` answered as a list of ``entity`` objects."""
        body = await self._call("GET", "query", what="query", params={"query": statement})
        found = (body.get("QueryResponse") or {}).get(entity) or []
        return [e for e in found if isinstance(e, dict)]

    async def find(self, entity: str, field: str, value: str) -> list[dict[str, Any]]:
        """``select * from {entity} where {field} = '{value}'`` (the value escaped)."""
        statement = f"select * from {entity} where {field} = '{escape(value)}'"  # noqa: S608
        return await self.query(statement, entity)

    async def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        body = await self._call("GET", f"{entity.lower()}/{entity_id}", what=entity.lower())
        return dict(body.get(entity) or {})

    async def create(self, entity: str, body: Mapping[str, Any], requestid: str) -> dict[str, Any]:
        answer = await self._call(
            "POST", entity.lower(), what=entity.lower(), body=body, requestid=requestid
        )
        return dict(answer.get(entity) or {})

    async def sparse_update(
        self, entity: str, body: Mapping[str, Any], requestid: str
    ) -> dict[str, Any]:
        answer = await self._call(
            "POST",
            entity.lower(),
            what=f"{entity.lower()} update",
            body={**body, "sparse": True},
            requestid=requestid,
        )
        return dict(answer.get(entity) or {})

    async def preferences(self) -> dict[str, Any]:
        body = await self._call("GET", "preferences", what="preferences read")
        return dict(body.get("Preferences") or {})


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _dumps(body: Mapping[str, Any]) -> bytes:
    import json

    return json.dumps(_plain(body)).encode()
