from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from connectors.plisio.client import PlisioClient, build_http_client, invoice_page_base
from connectors.plisio.errors import (
    PlisioAPIError,
    PlisioError,
    PlisioTimeout,
    PlisioTransportError,
)
from connectors.plisio.models import Operation, OperationsPage, is_paid

API_KEY = "sk_live_SECRET_abc123"
BASE = "https://plisio.test/api/v1"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Serves scripted answers through httpx.MockTransport and records the requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(sleeps: Sleeps) -> AsyncIterator[Callable[[Recorder], PlisioClient]]:
    opened: list[httpx.AsyncClient] = []

    def factory(recorder: Recorder) -> PlisioClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
        opened.append(http)
        return PlisioClient(
            API_KEY, http=http, base_url=BASE, sleep=sleeps, random_fraction=lambda: 0.5
        )

    yield factory
    for http in opened:
        await http.aclose()


def ok(data: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"status": "success", "data": data})


def error(status: int, message: str, *, name: str = "Error", code: int = 0) -> httpx.Response:
    data = {"name": name, "message": message, "code": code}
    return httpx.Response(status, json={"status": "error", "data": data})


def op(txn_id: str, order_number: str, created: int = 1_700_000_000) -> dict[str, object]:
    return {
        "id": txn_id,
        "type": "invoice",
        "status": "new",
        "params": {"order_number": order_number, "email": "a@b.test"},
        "created_at_utc": created,
    }


def page(ops: list[dict[str, object]], current: int = 1, count: int = 1) -> httpx.Response:
    meta = {"currentPage": current, "pageCount": count, "totalCount": len(ops), "perPage": 50}
    return ok({"operations": ops, "_meta": meta, "_links": {}})


async def test_create_invoice_sends_get_with_params(
    make_client: Callable[..., PlisioClient],
) -> None:
    rec = Recorder(
        ok({"txn_id": "a" * 24, "invoice_url": "https://pay.test/i", "invoice_total_sum": "15.3"})
    )
    invoice = await make_client(rec).create_invoice(
        order_number="call-1",
        order_name="Invoice for call-1",
        source_amount=Decimal("15.00"),
        source_currency="USD",
        email="payer@example.com",
        allowed_psys_cids=["BTC", "USDT_TRX"],
        expire_min=60,
    )
    assert invoice.txn_id == "a" * 24
    assert invoice.invoice_url == "https://pay.test/i"
    assert invoice.invoice_total_sum == Decimal("15.3")
    (request,) = rec.requests
    assert request.method == "GET"
    assert request.url.path == "/api/v1/invoices/new"
    assert dict(request.url.params) == {
        "order_number": "call-1",
        "order_name": "Invoice for call-1",
        "source_amount": "15.00",
        "source_currency": "USD",
        "email": "payer@example.com",
        "allowed_psys_cids": "BTC,USDT_TRX",
        "expire_min": "60",
        "api_key": API_KEY,
    }


async def test_create_invoice_amount_has_no_exponent(
    make_client: Callable[..., PlisioClient],
) -> None:
    rec = Recorder(ok({"txn_id": "t", "invoice_url": "u"}))
    await make_client(rec).create_invoice(
        order_number="o", order_name="n", source_amount=Decimal("1E+2"), source_currency="USD"
    )
    assert rec.requests[0].url.params["source_amount"] == "100"


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")]
)
async def test_create_invoice_rejects_bad_amount_without_calling(
    make_client: Callable[..., PlisioClient], amount: Decimal
) -> None:
    rec = Recorder(ok({}))
    with pytest.raises(ValueError, match="source_amount"):
        await make_client(rec).create_invoice(
            order_number="o", order_name="n", source_amount=amount, source_currency="USD"
        )
    assert rec.requests == []


async def test_status_error_under_http_200(make_client: Callable[..., PlisioClient]) -> None:
    rec = Recorder(error(200, "Invalid currency", name="Bad Request", code=104))
    with pytest.raises(PlisioAPIError) as info:
        await make_client(rec).get_operation("abc")
    exc = info.value
    assert (exc.http_status, exc.name, exc.code) == (200, "Bad Request", 104)
    assert "Invalid currency" in str(exc)
    assert exc.retryable is False
    assert len(rec.requests) == 1


async def test_422_with_json_encoded_field_errors(make_client: Callable[..., PlisioClient]) -> None:
    message = json.dumps(
        {"order_number": "Order Number cannot be blank.", "amount": ["Too low", "Bad"]}
    )
    rec = Recorder(error(422, message, name="Unprocessable entity"))
    with pytest.raises(PlisioAPIError) as info:
        await make_client(rec).list_operations(search="x")
    assert info.value.http_status == 422
    assert info.value.field_errors == {
        "order_number": "Order Number cannot be blank.",
        "amount": "Too low; Bad",
    }
    assert "order_number: Order Number cannot be blank." in str(info.value)
    assert len(rec.requests) == 1  # 4xx is not retried


async def test_lookup_retries_5xx_then_succeeds(
    make_client: Callable[..., PlisioClient], sleeps: Sleeps
) -> None:
    rec = Recorder(
        error(500, "boom"), httpx.Response(502, text="bad gateway"), page([op("t1", "o1")])
    )
    result = await make_client(rec).list_operations(search="o1")
    assert [o.id for o in result.operations] == ["t1"]
    assert len(rec.requests) == 3
    # full jitter with random_fraction=0.5: 0.5 * 0.2 * 2**attempt
    assert sleeps.calls == pytest.approx([0.1, 0.2])


async def test_lookup_gives_up_after_max_retries(
    make_client: Callable[..., PlisioClient], sleeps: Sleeps
) -> None:
    rec = Recorder(error(503, "down"))
    with pytest.raises(PlisioAPIError) as info:
        await make_client(rec).get_invoice("t1")
    assert info.value.http_status == 503
    assert len(rec.requests) == 4  # 1 + max_retries
    assert len(sleeps.calls) == 3


async def test_429_honours_retry_after_with_cap(
    make_client: Callable[..., PlisioClient], sleeps: Sleeps
) -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "7"}, text="slow down"),
        httpx.Response(429, headers={"Retry-After": "3600"}, text="slow down"),
        ok(op("t1", "o1")),
    )
    result = await make_client(rec).get_operation("t1")
    assert result.id == "t1"
    assert sleeps.calls == [7.0, 30.0]


async def test_lookup_retries_transport_errors_and_timeouts(
    make_client: Callable[..., PlisioClient],
) -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok(op("t1", "o1")))
    assert (await make_client(rec).get_operation("t1")).id == "t1"
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (error(500, "boom"), PlisioAPIError),
        (httpx.Response(503, text="<html>down</html>"), PlisioAPIError),
        (httpx.ConnectError("refused"), PlisioTransportError),
        (httpx.ReadTimeout("slow"), PlisioTimeout),
    ],
)
async def test_create_invoice_is_never_retried(
    make_client: Callable[..., PlisioClient],
    sleeps: Sleeps,
    answer: httpx.Response | Exception,
    expected: type[Exception],
) -> None:
    rec = Recorder(answer, ok({"txn_id": "t", "invoice_url": "u"}))
    with pytest.raises(expected) as info:
        await make_client(rec).create_invoice(
            order_number="o", order_name="n", source_amount=Decimal("1"), source_currency="USD"
        )
    assert len(rec.requests) == 1
    assert sleeps.calls == []
    assert getattr(info.value, "retryable", None) is True  # the caller may look up, then retry


async def test_timeout_is_a_transport_error() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(Recorder(httpx.ConnectTimeout("slow"))))
    client = PlisioClient(API_KEY, http=http, base_url=BASE, max_retries=0, sleep=Sleeps())
    try:
        with pytest.raises(PlisioTransportError) as info:
            await client.get_operation("t")
    finally:
        await http.aclose()
    assert isinstance(info.value, PlisioTimeout)
    assert "timed out" in str(info.value)


async def test_non_json_body(make_client: Callable[..., PlisioClient]) -> None:
    rec = Recorder(
        httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"})
    )
    with pytest.raises(PlisioAPIError) as info:
        await make_client(rec).create_invoice(
            order_number="o", order_name="n", source_amount=Decimal("1"), source_currency="USD"
        )
    assert "non-JSON" in str(info.value)
    assert "text/html" in str(info.value)
    assert info.value.http_status == 200


@pytest.mark.parametrize(
    "body",
    [[1, 2], {"status": "success"}, {"status": "success", "data": {"invoice_url": "u"}}],
)
async def test_unexpected_json_shapes(
    make_client: Callable[..., PlisioClient], body: object
) -> None:
    rec = Recorder(httpx.Response(200, json=body))
    with pytest.raises(PlisioAPIError):
        await make_client(rec).create_invoice(
            order_number="o", order_name="n", source_amount=Decimal("1"), source_currency="USD"
        )


async def test_api_key_never_leaks_into_errors_or_logs(
    make_client: Callable[..., PlisioClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def leaky(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/a"):
            raise httpx.ConnectError(f"could not reach {request.url}")
        if request.url.path.endswith("/b"):
            return error(422, f"bad key {API_KEY}", name=f"Key {API_KEY}")
        return httpx.Response(500, text=f"<pre>GET {request.url}</pre>")

    http = httpx.AsyncClient(transport=httpx.MockTransport(leaky))
    client = PlisioClient(API_KEY, http=http, base_url=BASE, max_retries=1, sleep=Sleeps())
    errors = []
    try:
        for op_id in ("a", "b", "c"):
            with pytest.raises(PlisioError) as info:
                await client.get_operation(op_id)
            errors.append(info.value)
    finally:
        await http.aclose()
    for exc in errors:
        assert API_KEY not in str(exc)
        assert API_KEY not in repr(exc)
    assert "api_key=***" in str(errors[0])
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(client)
    # httpx logs every request URL; our filter must have redacted it rather than dropped it.
    assert "api_key=***" in caplog.text
    assert "HTTP Request" in caplog.text


async def test_get_invoice_reads_data_invoice(make_client: Callable[..., PlisioClient]) -> None:
    invoice = {
        "txn_id": "t1",
        "status": "pending internal",
        "amount": "0.00123",
        "received_amount": 0.0005,
        "remaining_amount": "0.00073",
        "invoice_url": "https://pay.test/t1",
        "something_new": {"x": 1},
    }
    rec = Recorder(ok({"invoice": invoice, "active_currencies": []}))
    details = await make_client(rec).get_invoice("t1")
    assert details.status == "pending internal"
    assert details.amount == Decimal("0.00123")
    assert details.received_amount == Decimal("0.0005")
    assert details.remaining_amount == Decimal("0.00073")
    assert details.is_paid is False
    assert rec.requests[0].url.path == "/api/v1/invoices/t1"


async def test_ids_are_path_escaped(make_client: Callable[..., PlisioClient]) -> None:
    rec = Recorder(ok(op("t", "o")))
    await make_client(rec).get_operation("../invoices/new?x=1")
    assert rec.requests[0].url.raw_path.startswith(
        b"/api/v1/operations/..%2Finvoices%2Fnew%3Fx%3D1"
    )


async def test_find_by_order_number_keeps_exact_matches_across_pages(
    make_client: Callable[..., PlisioClient],
) -> None:
    rec = Recorder(
        page([op("t1", "ORD-1", 100), op("t10", "ORD-10", 300)], current=1, count=2),
        page([op("t2", "ORD-1", 200), op("t3", "ord-1", 400)], current=2, count=2),
    )
    found = await make_client(rec).find_by_order_number("ORD-1")
    assert [o.id for o in found] == ["t2", "t1"]
    assert [r.url.params["page"] for r in rec.requests] == ["1", "2"]
    assert {r.url.params["search"] for r in rec.requests} == {"ORD-1"}


def test_operation_model_is_tolerant() -> None:
    operation = Operation.model_validate(
        {
            "id": 123,
            "type": "invoice",
            "status": "some future status",
            "status_code": "",
            "amount": 0.1,
            "params": [],
            "created_at_utc": 1_700_000_000_000,
            "expire_at_utc": "1700003600",
            "finished_at_utc": None,
            "tx_url": ["https://chain.test/tx/1"],
            "surprise": True,
        }
    )
    assert operation.id == "123"
    assert operation.status == "some future status"
    assert operation.amount == Decimal("0.1")
    assert operation.order_number is None
    assert operation.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert operation.expire_at == datetime(2023, 11, 14, 23, 13, 20, tzinfo=UTC)
    assert operation.finished_at is None
    assert operation.tx_url == ["https://chain.test/tx/1"]


def test_operation_lifts_source_amount_from_params() -> None:
    operation = Operation.model_validate(
        {
            "id": "t",
            "status": "completed",
            "params": {"source_amount": "15.00", "source_currency": "USD"},
        }
    )
    assert operation.source_amount == Decimal("15.00")
    assert operation.source_currency == "USD"
    assert operation.is_paid is True


@pytest.mark.parametrize(
    "meta",
    [
        {"currentPage": 2, "pageCount": 3, "totalCount": 30, "perPage": 10},
        {"current_page": 2, "page_count": 3, "total_count": 30, "per_page": 10},
    ],
)
def test_operations_page_accepts_both_meta_casings(meta: dict[str, int]) -> None:
    result = OperationsPage.model_validate(
        {"operations": [], "_meta": meta, "_links": {"next": {"href": "https://x.test/p3"}}}
    )
    assert (result.current_page, result.page_count, result.total_count, result.per_page) == (
        2,
        3,
        30,
        10,
    )
    assert result.has_next is True
    assert result.next_url == "https://x.test/p3"


@pytest.mark.parametrize(
    ("status", "paid"),
    [
        ("completed", True),
        ("mismatch", True),
        (" Completed ", True),
        ("pending", False),
        ("expired", False),
        ("cancelled duplicate", False),
        (None, False),
    ],
)
def test_is_paid(status: str | None, paid: bool) -> None:
    assert is_paid(status) is paid


async def test_build_http_client_timeouts() -> None:
    http = build_http_client()
    try:
        assert http.timeout.connect == 5.0
        assert http.timeout.read == 10.0
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("base_url", "pages"),
    [
        ("https://api.plisio.net/api/v1", "https://plisio.net/invoice"),
        ("https://plisio.net/api/v1/", "https://plisio.net/invoice"),
        (
            "http://127.0.0.1:3000/sandbox/plisio/api/v1",
            "http://127.0.0.1:3000/sandbox/plisio/invoice",
        ),
    ],
)
def test_invoice_pages_live_next_to_the_api(base_url: str, pages: str) -> None:
    assert invoice_page_base(base_url) == pages


async def test_operations_get_their_invoice_link_built_from_the_txn_id(
    make_client: Callable[..., PlisioClient],
) -> None:
    # /operations answers carry no invoice_url: the link is https://plisio.net/invoice/{txn_id}.
    with_url = {**op("t2", "ORD-2"), "invoice_url": "https://plisio.net/invoice/t2?lang=en"}
    cash_out = {**op("w1", "ORD-3"), "type": "cash_out"}
    rec = Recorder(
        page([op("6431f0a5e7c3b2d19a8f0e41", "ORD-1"), with_url, cash_out]), ok(op("t4", "O"))
    )
    client = PlisioClient(
        API_KEY,
        http=httpx.AsyncClient(transport=httpx.MockTransport(rec)),
        base_url="https://api.plisio.net/api/v1",
    )
    found = (await client.list_operations(search="ORD")).operations
    assert found[0].invoice_url == "https://plisio.net/invoice/6431f0a5e7c3b2d19a8f0e41"
    assert found[1].invoice_url == "https://plisio.net/invoice/t2?lang=en"  # kept when given
    assert found[2].invoice_url is None  # not an invoice
    assert (await client.get_operation("t4")).invoice_url == "https://plisio.net/invoice/t4"
