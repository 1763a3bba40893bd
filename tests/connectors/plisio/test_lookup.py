from __future__ import annotations

from typing import Any

import pytest

from connectors.plisio.lookup import InvoiceLookup
from connectors.plisio.models import Operation, OperationsPage


def _op(txn_id: str, email: str | None, created: int) -> dict[str, Any]:
    return {
        "id": txn_id,
        "type": "invoice",
        "status": "new",
        "params": {"email": email, "order_number": f"o-{txn_id}"},
        "created_at_utc": created,
    }


class FakeOperations:
    """Serves fixed pages of operations and records the list_operations calls."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    async def list_operations(
        self,
        *,
        search: str | None = None,
        page: int = 1,
        limit: int = 50,
        type: str | None = None,
        status: str | None = None,
        currency: str | None = None,
    ) -> OperationsPage:
        self.calls.append({"search": search, "page": page, "limit": limit, "type": type})
        ops = self.pages[page - 1] if page <= len(self.pages) else []
        meta = {"currentPage": page, "pageCount": len(self.pages), "perPage": limit}
        return OperationsPage.model_validate({"operations": ops, "_meta": meta})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _ids(ops: list[Operation]) -> list[str]:
    return [o.id for o in ops]


async def test_keeps_exact_email_matches_case_insensitively_newest_first() -> None:
    source = FakeOperations(
        [
            [
                _op("old", "Ann@Example.com", 100),
                _op("other", "joann@example.com", 500),
                _op("none", None, 600),
                _op("new", "ann@example.com", 300),
            ],
            [_op("mid", "ANN@EXAMPLE.COM", 200), _op("nodate", "ann@example.com", 0)],
        ]
    )
    lookup = InvoiceLookup(source)
    found = await lookup.invoices_for_email("  ann@example.COM ")
    assert _ids(found) == ["new", "mid", "old", "nodate"]
    assert [c["page"] for c in source.calls] == [1, 2]
    assert {c["search"] for c in source.calls} == {"ann@example.COM"}
    assert {c["type"] for c in source.calls} == {"invoice"}


async def test_stops_at_max_pages() -> None:
    source = FakeOperations([[_op(f"t{i}", "a@b.test", i)] for i in range(1, 10)])
    found = await InvoiceLookup(source, max_pages=3).invoices_for_email("a@b.test")
    assert _ids(found) == ["t3", "t2", "t1"]
    assert [c["page"] for c in source.calls] == [1, 2, 3]


async def test_caches_per_lowercased_email_until_ttl() -> None:
    clock = Clock()
    source = FakeOperations([[_op("t1", "a@b.test", 1)]])
    lookup = InvoiceLookup(source, ttl_seconds=30, clock=clock)
    assert _ids(await lookup.invoices_for_email("a@b.test")) == ["t1"]
    clock.now += 29
    assert _ids(await lookup.invoices_for_email("A@B.TEST")) == ["t1"]
    assert len(source.calls) == 1
    source.pages = [[_op("t1", "a@b.test", 1), _op("t2", "a@b.test", 2)]]
    clock.now += 2
    assert _ids(await lookup.invoices_for_email("a@b.test")) == ["t2", "t1"]
    assert len(source.calls) == 2


async def test_invalidate_forces_a_fresh_search() -> None:
    source = FakeOperations([[_op("t1", "a@b.test", 1)]])
    lookup = InvoiceLookup(source, clock=Clock())
    await lookup.invoices_for_email("a@b.test")
    lookup.invalidate("A@b.test")
    await lookup.invoices_for_email("a@b.test")
    assert len(source.calls) == 2


async def test_callers_cannot_corrupt_the_cache() -> None:
    source = FakeOperations([[_op("t1", "a@b.test", 1)]])
    lookup = InvoiceLookup(source, clock=Clock())
    first = await lookup.invoices_for_email("a@b.test")
    first.clear()
    assert _ids(await lookup.invoices_for_email("a@b.test")) == ["t1"]
    assert len(source.calls) == 1


async def test_cache_is_bounded_and_evicts_oldest() -> None:
    source = FakeOperations([[]])
    lookup = InvoiceLookup(source, max_entries=2, clock=Clock())
    for email in ("one@x.test", "two@x.test", "three@x.test"):
        await lookup.invoices_for_email(email)
    assert len(source.calls) == 3
    await lookup.invoices_for_email("three@x.test")
    await lookup.invoices_for_email("two@x.test")
    assert len(source.calls) == 3
    await lookup.invoices_for_email("one@x.test")  # evicted, so searched again
    assert len(source.calls) == 4


async def test_errors_are_not_cached() -> None:
    class Failing(FakeOperations):
        fail = True

        async def list_operations(self, **kwargs: Any) -> OperationsPage:
            if self.fail:
                self.fail = False
                raise RuntimeError("plisio down")
            return await super().list_operations(**kwargs)

    source = Failing([[_op("t1", "a@b.test", 1)]])
    lookup = InvoiceLookup(source, clock=Clock())
    with pytest.raises(RuntimeError):
        await lookup.invoices_for_email("a@b.test")
    assert _ids(await lookup.invoices_for_email("a@b.test")) == ["t1"]


async def test_empty_email_is_rejected() -> None:
    with pytest.raises(ValueError, match="email"):
        await InvoiceLookup(FakeOperations([[]])).invoices_for_email("  ")
