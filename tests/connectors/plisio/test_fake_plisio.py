from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest
from aiohttp import web

from connectors.plisio import (
    InvoiceLookup,
    PlisioAPIError,
    PlisioClient,
    PlisioTimeout,
    build_http_client,
    verify_form_callback,
    verify_json_callback,
)
from sandbox.plisio import FakePlisio

SECRET = "fake-secret-key"


async def _no_sleep(_: float) -> None:
    return None


@dataclass
class Env:
    fake: FakePlisio
    client: PlisioClient
    http: httpx.AsyncClient
    base_url: str


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    fake = FakePlisio(SECRET)
    async with fake.running() as base_url:
        http = build_http_client(timeout=5.0)
        try:
            client = PlisioClient(SECRET, http=http, base_url=base_url, sleep=_no_sleep)
            yield Env(fake, client, http, base_url)
        finally:
            await http.aclose()


@dataclass
class Receiver:
    url: str
    received: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A loopback endpoint standing in for the bot's callback route."""
    holder: list[Receiver] = []

    async def callback(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = json.loads(await request.text())
            holder[0].received.append(("json", body))
        else:
            form = await request.post()
            holder[0].received.append(("form", {k: str(v) for k, v in form.items()}))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/plisio/callback", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        holder.append(Receiver(f"http://127.0.0.1:{port}/plisio/callback"))
        yield holder[0]
    finally:
        await runner.cleanup()


async def _create(env: Env, order_number: str = "call-1", **kwargs: object) -> str:
    invoice = await env.client.create_invoice(
        order_number=order_number,
        order_name=f"Invoice {order_number}",
        source_amount=Decimal("25.50"),
        source_currency="USD",
        **kwargs,  # type: ignore[arg-type]
    )
    return invoice.txn_id


async def test_create_then_look_up_every_way(env: Env) -> None:
    invoice = await env.client.create_invoice(
        order_number="call-1",
        order_name="Invoice call-1",
        source_amount=Decimal("25.50"),
        source_currency="USD",
        email="Payer@Example.com",
        description="Support call",
    )
    assert len(invoice.txn_id) == 24
    assert invoice.invoice_url.startswith(env.base_url.removesuffix("/api/v1") + "/invoice/")
    assert invoice.invoice_total_sum == Decimal("25.50")

    operation = await env.client.get_operation(invoice.txn_id)
    assert operation.status == "new"
    assert operation.order_number == "call-1"
    assert operation.source_amount == Decimal("25.50")
    assert operation.created_at is not None

    details = await env.client.get_invoice(invoice.txn_id)
    assert (details.status, details.remaining_amount) == ("new", Decimal("25.50"))

    page = await env.client.list_operations(search="payer@example.com")
    assert [o.id for o in page.operations] == [invoice.txn_id]

    lookup = InvoiceLookup(env.client)
    assert [o.id for o in await lookup.invoices_for_email("PAYER@example.com")] == [invoice.txn_id]

    html = await env.http.get(invoice.invoice_url)
    assert html.status_code == 200
    assert "Invoice call-1" in html.text


async def test_requests_are_recorded_without_the_key(env: Env) -> None:
    await _create(env)
    await env.client.list_operations(search="call-1")
    assert [r.path for r in env.fake.requests] == ["/api/v1/invoices/new", "/api/v1/operations"]
    for recorded in env.fake.requests:
        assert "api_key" not in recorded.params
        assert SECRET not in json.dumps(recorded.params)
        assert recorded.authorized is True
    assert env.fake.requests[0].params["source_amount"] == "25.50"


async def test_wrong_key_is_rejected(env: Env) -> None:
    bad = PlisioClient("wrong", http=env.http, base_url=env.base_url, sleep=_no_sleep)
    with pytest.raises(PlisioAPIError) as info:
        await bad.list_operations()
    assert info.value.http_status == 401
    assert "invalid credentials" in str(info.value)
    assert env.fake.requests[-1].authorized is False


async def test_duplicates_are_not_collapsed(env: Env) -> None:
    first = await _create(env, "call-dup")
    second = await _create(env, "call-dup")
    await _create(env, "call-dup-2")
    assert first != second
    assert [i.txn_id for i in env.fake.invoices_for_order("call-dup")] == [first, second]
    found = await env.client.find_by_order_number("call-dup")
    assert {o.id for o in found} == {first, second}


async def test_field_errors_for_a_bad_invoice(env: Env) -> None:
    with pytest.raises(PlisioAPIError) as info:
        await env.client.create_invoice(
            order_number="call-1", order_name=" ", source_amount=Decimal("1"), source_currency="USD"
        )
    assert info.value.http_status == 422
    assert info.value.field_errors == {"order_name": "Order Name cannot be blank."}
    assert env.fake.invoices == {}


async def test_paging_links_and_meta(env: Env) -> None:
    for i in range(25):
        env.fake.add_invoice(
            order_number=f"o{i}",
            order_name="n",
            source_amount=Decimal(1),
            email="bulk@x.test",
            created_at=1_700_000_000 + i,
        )
    raw = await env.http.get(
        f"{env.base_url}/operations", params={"api_key": SECRET, "limit": "10", "page": "2"}
    )
    data = raw.json()["data"]
    assert data["_meta"] == {"totalCount": 25, "pageCount": 3, "currentPage": 2, "perPage": 10}
    assert "page=3" in data["_links"]["next"]["href"]
    assert "api_key" not in json.dumps(data["_links"])
    found = await InvoiceLookup(env.client, max_pages=5).invoices_for_email("bulk@x.test")
    assert len(found) == 25
    assert found[0].order_number == "o24"


async def test_lookups_retry_through_injected_failures(env: Env) -> None:
    txn_id = await _create(env)
    env.fake.fail_next(2, status=500)
    assert (await env.client.get_operation(txn_id)).id == txn_id
    assert len(env.fake.requests) == 4  # create + 2 failures + success


async def test_create_is_not_retried_and_after_commit_leaves_an_invoice(env: Env) -> None:
    env.fake.fail_next(1, status=500)
    with pytest.raises(PlisioAPIError):
        await _create(env, "call-a")
    assert env.fake.invoices_for_order("call-a") == []
    env.fake.fail_next(1, status=502, after_commit=True)
    with pytest.raises(PlisioAPIError):
        await _create(env, "call-b")
    assert len(env.fake.invoices_for_order("call-b")) == 1
    assert len(await env.client.find_by_order_number("call-b")) == 1


async def test_down_answers_503_html(env: Env) -> None:
    env.fake.down = True
    with pytest.raises(PlisioAPIError) as info:
        await env.client.list_operations()
    assert info.value.http_status == 503
    assert "non-JSON" in str(info.value)
    assert len(env.fake.requests) == 4  # retried, then gave up


async def test_retry_after_is_sent_with_429(env: Env) -> None:
    env.fake.fail_next(1, status=429, retry_after=2)
    raw = await env.http.get(f"{env.base_url}/operations", params={"api_key": SECRET})
    assert raw.status_code == 429
    assert raw.headers["Retry-After"] == "2"


async def test_delay_makes_the_client_time_out(env: Env) -> None:
    env.fake.delay_seconds = 0.3
    async with httpx.AsyncClient(timeout=0.05) as slow_http:
        client = PlisioClient(SECRET, http=slow_http, base_url=env.base_url, max_retries=0)
        with pytest.raises(PlisioTimeout):
            await client.list_operations()


async def test_set_status_posts_signed_json_callback(env: Env, receiver: Receiver) -> None:
    txn_id = await _create(env, callback_url=receiver.url)
    response = await env.fake.set_status(txn_id, "completed")
    assert response is not None
    assert response.status_code == 200
    ((kind, body),) = receiver.received
    assert kind == "json"
    assert verify_json_callback(body, SECRET) is True
    assert (body["txn_id"], body["status"], body["order_number"]) == (txn_id, "completed", "call-1")
    details = await env.client.get_invoice(txn_id)
    assert (details.status, details.received_amount) == ("completed", Decimal("25.50"))
    assert details.is_paid is True


async def test_set_status_posts_signed_form_callback(env: Env, receiver: Receiver) -> None:
    txn_id = await _create(env, callback_url=receiver.url)
    await env.fake.set_status(
        txn_id,
        "pending",
        callback_json=False,
        received_amount=Decimal("10"),
        extra_fields={"comment": "Частичная оплата / partial"},
    )
    ((kind, fields),) = receiver.received
    assert kind == "form"
    assert fields["amount"] == "10"
    assert fields["comment"] == "Частичная оплата / partial"
    assert verify_form_callback(fields, SECRET) is True
    assert verify_json_callback(fields, SECRET) is False


async def test_callback_format_follows_json_true_in_url(env: Env, receiver: Receiver) -> None:
    txn_id = await _create(env, callback_url=receiver.url + "?json=true")
    await env.fake.set_status(txn_id, "expired", callback_json=None)
    assert receiver.received[0][0] == "json"
    assert env.fake.invoices[txn_id].finished_at is not None


async def test_callback_signed_with_the_wrong_key_fails_verification(
    env: Env, receiver: Receiver
) -> None:
    txn_id = await _create(env, callback_url=receiver.url)
    await env.fake.set_status(txn_id, "completed", sign_with="not-the-secret")
    assert verify_json_callback(receiver.received[0][1], SECRET) is False


async def test_set_status_without_callback_url(env: Env) -> None:
    txn_id = await _create(env)
    assert await env.fake.set_status(txn_id, "cancelled") is None
    assert (await env.client.get_operation(txn_id)).status == "cancelled"
