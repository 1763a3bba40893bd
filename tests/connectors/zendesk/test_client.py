"""The Zendesk client against the double: auth, errors as Zendesk words them, rate limits."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.zendesk import ZendeskAPIError, ZendeskClient, basic_auth, own_ticket_id
from connectors.zendesk.client import LOW_REMAINING
from sandbox.zendesk import FakeZendesk

EMAIL = "agent@acme.example"
TOKEN = "zd-test-token"


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    fake = FakeZendesk(EMAIL, TOKEN)
    async with fake.running():
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def test_api_token_auth_is_basic_email_slash_token() -> None:
    header = basic_auth(EMAIL, TOKEN)
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == f"{EMAIL}/token:{TOKEN}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acme.zendesk.com/agent/tickets/123", 123),
        ("https://ACME.zendesk.com/agent/tickets/123/", 123),
        ("https://other.zendesk.com/agent/tickets/123", None),
        ("https://acme.zendesk.com.evil.example/agent/tickets/1", None),
        ("https://acme.zendesk.com/agent/users/123", None),
        ("https://acme.zendesk.com/agent/tickets/12x", None),
        ("ftp://acme.zendesk.com/agent/tickets/123", None),
        ("https://user:pw@acme.zendesk.com/agent/tickets/123", None),
    ],
)
def test_only_a_ticket_of_this_zendesk_is_ours(url: str, expected: int | None) -> None:
    assert own_ticket_id(url, "https://acme.zendesk.com") == expected


def test_a_sandbox_zendesk_under_a_path_is_matched_with_its_path() -> None:
    base = "http://127.0.0.1:8080/sandbox/zendesk"
    assert own_ticket_id("http://127.0.0.1:8080/sandbox/zendesk/agent/tickets/7", base) == 7
    assert own_ticket_id("http://127.0.0.1:8080/agent/tickets/7", base) is None
    assert own_ticket_id("http://127.0.0.1:9090/sandbox/zendesk/agent/tickets/7", base) is None


async def test_a_wrong_token_gets_zendesks_401(
    zendesk: FakeZendesk, http: httpx.AsyncClient
) -> None:
    client = ZendeskClient(zendesk.url, EMAIL, "wrong", http=http)
    with pytest.raises(ZendeskAPIError) as caught:
        await client.tickets_by_external_id("x")
    assert caught.value.http_status == 401
    assert not caught.value.retryable
    assert str(caught.value) == "401 Couldn't authenticate you"
    assert "wrong" not in repr(client)


async def test_a_422_names_the_field_and_why(zendesk: FakeZendesk, http: httpx.AsyncClient) -> None:
    client = ZendeskClient(zendesk.url, EMAIL, TOKEN, http=http)
    with pytest.raises(ZendeskAPIError) as caught:
        await client.create_ticket(
            {"subject": "x", "requester": {"email": "not an email"}, "comment": {"body": "b"}},
            idempotency_key="k1",
        )
    assert str(caught.value) == (
        "422 RecordInvalid: Record validation errors (requester: Requester: Email is invalid)"
    )


async def test_create_find_note_and_read_comments(
    zendesk: FakeZendesk, http: httpx.AsyncClient
) -> None:
    client = ZendeskClient(zendesk.url, EMAIL, TOKEN, http=http)
    body = {
        "subject": "Dispute: Quill",
        "external_id": "dnx_1",
        "requester": {"email": "a@quill.example", "name": "Quill"},
        "comment": {"body": "summary", "public": False},
        "tags": ["dialnexa", "dispute"],
    }
    ticket = await client.create_ticket(body, idempotency_key="k")
    again = await client.create_ticket(body, idempotency_key="k")
    assert again.id == ticket.id and len(zendesk.tickets) == 1
    assert [t.id for t in await client.tickets_by_external_id("dnx_1")] == [ticket.id]
    assert ticket.tags == ["dialnexa", "dispute"] and ticket.status == "new"
    await client.add_private_note(ticket.id, "note")
    comments = await client.comments(ticket.id)
    assert [(c.body, c.public) for c in comments] == [("summary", False), ("note", False)]
    assert zendesk.requests[-1].authorized


async def test_429_carries_retry_after(zendesk: FakeZendesk, http: httpx.AsyncClient) -> None:
    client = ZendeskClient(zendesk.url, EMAIL, TOKEN, http=http)
    zendesk.fail_next(status=429, retry_after=17)
    with pytest.raises(ZendeskAPIError) as caught:
        await client.tickets_by_external_id("x")
    assert caught.value.retryable and caught.value.retry_after == 17


async def test_the_client_slows_down_as_the_window_runs_out(
    zendesk: FakeZendesk, http: httpx.AsyncClient
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = ZendeskClient(zendesk.url, EMAIL, TOKEN, http=http, sleep=sleep)
    zendesk.rate_remaining = LOW_REMAINING + 2
    for _ in range(3):
        await client.tickets_by_external_id("x")
    assert waits and all(0 < w <= 2.0 for w in waits)
    zendesk.rate_remaining = 1
    await client.tickets_by_external_id("x")  # the answer says 0 left
    sent = len(zendesk.requests)
    with pytest.raises(ZendeskAPIError) as caught:
        await client.tickets_by_external_id("x")
    assert caught.value.http_status == 429 and caught.value.retry_after is not None
    assert len(zendesk.requests) == sent  # not sent at all
