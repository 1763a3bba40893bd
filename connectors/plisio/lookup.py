"""Find a payer's invoices by email.

Plisio has no by-email endpoint: ``/operations?search=`` matches free text over transaction ids,
order numbers and customer emails, so the results are filtered again on ``params.email``. Answers
are cached briefly per email because one Slack interaction may ask several times in a row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from connectors.plisio.models import Operation, OperationsPage

__all__ = ["InvoiceLookup", "OperationsSource"]

logger = logging.getLogger(__name__)


class OperationsSource(Protocol):
    """The part of ``PlisioClient`` the lookup needs."""

    async def list_operations(
        self,
        *,
        search: str | None = ...,
        page: int = ...,
        limit: int = ...,
        type: str | None = ...,
        status: str | None = ...,
        currency: str | None = ...,
    ) -> OperationsPage:
        """Return one page of operations."""
        ...


def _normalise(email: str) -> str:
    return email.strip().lower()


def _newest_first_key(operation: Operation) -> float:
    return operation.created_at.timestamp() if operation.created_at else float("-inf")


class InvoiceLookup:
    """Invoices created for a payer email, newest first, cached for ``ttl_seconds``."""

    def __init__(
        self,
        client: OperationsSource,
        *,
        ttl_seconds: float = 30,
        max_pages: int = 5,
        page_size: int = 50,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._max_pages = max(1, max_pages)
        self._page_size = page_size
        self._max_entries = max(1, max_entries)
        self._clock = clock
        self._cache: dict[str, tuple[float, list[Operation]]] = {}

    async def invoices_for_email(self, email: str) -> list[Operation]:
        """Return invoices whose ``params.email`` is ``email`` (any case), newest first."""
        key = _normalise(email)
        if not key:
            raise ValueError("email must not be empty")
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return list(cached[1])
        invoices = await self._fetch(email.strip(), key)
        self._store(key, invoices)
        return list(invoices)

    def invalidate(self, email: str) -> None:
        """Forget the cached answer for ``email``."""
        self._cache.pop(_normalise(email), None)

    async def _fetch(self, search: str, key: str) -> list[Operation]:
        found: dict[str, Operation] = {}
        page_number = 1
        while True:
            page = await self._client.list_operations(
                search=search, page=page_number, limit=self._page_size, type="invoice"
            )
            for operation in page.operations:
                if operation.email is not None and _normalise(operation.email) == key:
                    found.setdefault(operation.id, operation)
            if not page.has_next or not page.operations:
                break
            if page_number >= self._max_pages:
                logger.warning(
                    "Plisio invoice lookup stopped at page %d of %d", page_number, page.page_count
                )
                break
            page_number += 1
        return sorted(found.values(), key=_newest_first_key, reverse=True)

    def _store(self, key: str, invoices: list[Operation]) -> None:
        # Re-inserting moves the key to the end, so the first key is always the oldest entry.
        self._cache.pop(key, None)
        while len(self._cache) >= self._max_entries:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = (self._clock(), invoices)
