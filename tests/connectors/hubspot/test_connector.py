"""The HubSpot connector against the loopback double: look-ups, renewal choice, errors, cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from connectors.base import ConnectorContext, Done, GiveUp, RetryAfter
from connectors.hubspot import HubSpotClient, HubSpotConnector
from connectors.hubspot.client import CrmObject
from connectors.hubspot.connector import NOT_FOUND, pick_renewal
from connectors.pacing import RateLimiter
from sandbox.hubspot import ALL_SCOPES, FakeHubSpot
from services.events import BOT, Event, EventType
from tests.support.clock import FakeClock

TOKEN = "pat-na1-test-token"


class _Session:
    def __init__(self, email: str | None) -> None:
        self.email = email

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def get(self, _model: object, _id: str) -> Any:
        return SimpleNamespace(customer_email=self.email)


@dataclass
class FakeDb:
    """Just enough of ``Database`` for the connector: one handoff row with this email."""

    email: str | None

    def sessions(self) -> _Session:
        return _Session(self.email)

    reads = sessions


@asynccontextmanager
async def served(
    fake: FakeHubSpot, email: str | None, clock: FakeClock, token: str = TOKEN
) -> AsyncIterator[HubSpotConnector]:
    async with fake.running() as url, httpx.AsyncClient() as http:
        client = HubSpotClient(token, http=http, base_url=url)

        async def slack_user(email: str) -> str | None:
            return {"ana@acme.example": "U0APPROVER1"}.get(email)

        yield HubSpotConnector(
            client=client,
            db=FakeDb(email),  # type: ignore[arg-type]
            clock=clock,
            slack_user_for_email=slack_user,
        )


def event(clock: FakeClock, kind: EventType = EventType.RECEIVED, key: str = "ev1") -> Event:
    return Event(kind, "h1", BOT, clock(), {}, key=key)


def seeded(**options: Any) -> FakeHubSpot:
    fake = FakeHubSpot(TOKEN, **options)
    fake.seed_demo(date(2026, 11, 30))
    return fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_a_known_contact_gives_owner_company_stage_and_the_open_renewal(
    clock: FakeClock,
) -> None:
    fake = seeded()
    async with served(fake, "Treasury@AlderStreet.example", clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, Done) and result.context is not None
    ctx = result.context
    assert ctx["found"] is True
    assert ctx["owner"] == {
        "name": "Ana Lopez",
        "email": "ana@acme.example",
        "slack_id": "U0APPROVER1",
    }
    assert ctx["company"]["name"] == "Alder Street Health"
    assert ctx["company"]["url"].startswith("https://app.hubspot.com/contacts/24681357/record/0-2/")
    assert ctx["lifecycle_stage"] == "customer"
    renewal = ctx["renewal"]
    assert (renewal["name"], renewal["close_date"], renewal["amount"], renewal["currency"]) == (
        "Alder Street Health renewal",
        "2026-12-07",
        "24000.00",
        "USD",
    )
    contact_id = ctx["contact"]["id"]
    assert (
        ctx["contact"]["url"]
        == f"https://app.hubspot.com/contacts/24681357/record/0-1/{contact_id}"
    )
    [link] = result.links
    assert (link.kind, link.external_id, link.label) == (
        "contact",
        contact_id,
        "Alder Street Health",
    )
    # Every call carried the bearer token; the company came with the search (no extra call).
    assert all(r.authorized for r in fake.requests)
    assert not any(r.path.endswith("/associations/companies") for r in fake.requests)


async def test_a_plain_contact_has_no_renewal_and_an_unknown_email_is_not_found(
    clock: FakeClock,
) -> None:
    fake = seeded()
    async with served(fake, "ap@harborfinch.example", clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, Done) and result.context is not None
    assert result.context["renewal"] is None
    assert result.context["owner"]["slack_id"] is None  # Ben has no Slack user here
    async with served(fake, "nobody@example.org", clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, Done) and result.links == ()
    assert result.context is not None
    assert (result.context["found"], result.context["message"]) == (False, NOT_FOUND)


async def test_the_company_is_found_through_associations_when_the_contact_has_none(
    clock: FakeClock,
) -> None:
    fake = seeded()
    contact = next(c for c in fake.contacts.values() if "harbor" in str(c.properties["email"]))
    contact.properties["associatedcompanyid"] = None
    async with served(fake, "ap@harborfinch.example", clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, Done) and result.context is not None
    assert result.context["company"]["name"] == "Harbor & Finch LLC"
    assert any(r.path.endswith("/associations/companies") for r in fake.requests)


async def test_the_company_record_is_read_only_for_what_the_contact_lacks_and_then_cached(
    clock: FakeClock,
) -> None:
    """Every call but search shares 100 per 10 s: the company GET is skipped when the search
    already gave the company's name, owner and stage, and read once per company otherwise."""
    fake = seeded()
    async with served(fake, "ap@harborfinch.example", clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
        assert isinstance(result, Done) and result.context is not None
        assert result.context["company"]["name"] == "Harbor & Finch LLC"
        assert result.context["company"]["url"].endswith("/record/0-2/" + str(
            next(c for c in fake.contacts.values()
                 if "harbor" in str(c.properties["email"])).properties["associatedcompanyid"]))  # fmt: skip
        assert not [r for r in fake.requests if "/objects/companies/" in r.path]
        contact = next(c for c in fake.contacts.values() if "harbor" in str(c.properties["email"]))
        contact.properties["hubspot_owner_id"] = None  # the owner is the company's
        clock.advance(seconds=400)  # past the per-email cache
        for kind in (EventType.RECEIVED, EventType.CONTEXT_REQUESTED):
            result = await connector.handle(event(clock, kind), ConnectorContext(1, clock))
            assert isinstance(result, Done) and result.context is not None
            assert result.context["owner"] is not None
    company_reads = [r for r in fake.requests if "/objects/companies/" in r.path]
    assert len(company_reads) == 1  # a refresh reads the contact again, the company is cached


def deal(i: str, name: str, close: str, *, closed: bool = False, kind: str = "") -> CrmObject:
    props = {"dealname": name, "closedate": close, "hs_is_closed": str(closed).lower()}
    return CrmObject(id=i, properties={**props, "dealtype": kind or None})


def test_the_open_renewal_is_the_renewal_deal_else_the_open_deal_closing_soonest() -> None:
    deals = [
        deal("1", "Upsell", "2026-12-01T00:00:00Z"),
        deal("2", "Annual renewal", "2027-01-15T00:00:00Z"),
        deal("3", "Old renewal", "2025-01-15T00:00:00Z", closed=True),
    ]
    assert (pick := pick_renewal(deals)) is not None and pick.id == "2"
    assert (pick := pick_renewal([deals[0], deal("4", "X", "2026-12-20")])) is not None
    assert pick.id == "1"
    assert (pick := pick_renewal([deal("5", "Seats", "2027-03-01", kind="renewal")])) is not None
    assert pick.id == "5"
    assert pick_renewal([deals[2]]) is None


async def test_a_wrong_token_gives_up_saying_hubspot_refused_it(clock: FakeClock) -> None:
    async with served(seeded(), "ap@harborfinch.example", clock, token="pat-wrong") as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, GiveUp)
    assert "HubSpot refused the access token" in result.reason
    assert "pat-wrong" not in result.reason


async def test_a_missing_scope_gives_up_naming_the_scope(clock: FakeClock) -> None:
    fake = seeded(scopes=ALL_SCOPES - {"crm.objects.deals.read"})
    async with served(fake, "ap@harborfinch.example", clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, GiveUp)
    assert "crm.objects.deals.read" in result.reason and "missing the scope" in result.reason


async def test_429_and_5xx_retry_after_hubspots_retry_after(clock: FakeClock) -> None:
    fake = seeded()
    async with served(fake, "ap@harborfinch.example", clock) as connector:
        fake.fail_next(429, retry_after=1)
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
        assert isinstance(result, RetryAfter) and result.seconds == 1
        assert "429" in result.reason
        fake.fail_next(503)
        result = await connector.handle(event(clock), ConnectorContext(2, clock))
        assert isinstance(result, RetryAfter) and "503" in result.reason
        result = await connector.handle(event(clock), ConnectorContext(3, clock))
        assert isinstance(result, Done)


async def test_hubspot_down_is_a_retry(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        client = HubSpotClient(TOKEN, http=http, base_url="http://127.0.0.1:9")
        connector = HubSpotConnector(client=client, db=FakeDb("a@b.example"), clock=clock)  # type: ignore[arg-type]
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert isinstance(result, RetryAfter) and "could not reach HubSpot" in result.reason


async def test_answers_are_cached_per_email_and_a_refresh_bypasses_the_cache(
    clock: FakeClock,
) -> None:
    fake = seeded()
    async with served(fake, "treasury@alderstreet.example", clock) as connector:
        await connector.handle(event(clock), ConnectorContext(1, clock))
        assert len(fake.searches()) == 1
        again = await connector.handle(event(clock, key="ev2"), ConnectorContext(1, clock))
        assert isinstance(again, Done) and again.context is not None
        assert len(fake.searches()) == 1  # from the cache
        requests = len(fake.requests)
        refresh = event(clock, EventType.CONTEXT_REQUESTED, key="ev3")
        await connector.handle(refresh, ConnectorContext(1, clock))
        assert len(fake.searches()) == 2
        # The owner and the portal are cached too: the refresh asked neither again.
        new = [r.path for r in fake.requests[requests:]]
        assert not any("/owners/" in p or "account-info" in p for p in new)
        clock.advance(seconds=301)
        await connector.handle(event(clock, key="ev4"), ConnectorContext(1, clock))
        assert len(fake.searches()) == 3


async def test_no_customer_email_means_nothing_to_look_up(clock: FakeClock) -> None:
    fake = seeded()
    async with served(fake, None, clock) as connector:
        result = await connector.handle(event(clock), ConnectorContext(1, clock))
    assert result == Done() and fake.requests == []


async def test_searches_are_paced_at_four_a_second() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = RateLimiter(4, 1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(9):
        await limiter.wait()
    assert waits == [1.0, 1.0, 1.0, 1.0, 2.0]  # 4 now, 4 a second later, 1 two seconds later
    limiter.pause(5.0)
    assert limiter.reserve() == 5.0


async def test_a_request_woken_late_does_not_let_the_next_ones_crowd_the_window() -> None:
    """Slots are handed out on time, but a busy loop may send one late: the limiter also counts
    when requests really left, so no window of the vendor's holds more than ``limit``."""
    now = [0.0]
    lateness = iter([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])
    sent: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds + next(lateness)

    limiter = RateLimiter(2, 1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await limiter.wait()
        sent.append(round(now[0], 3))
    # The third left 0.3 s late (its slot was 1.0); the fifth's slot was 2.0, but 2.0 would have
    # made three in the second from 1.3: it waited until 2.3.
    assert sent == [0.0, 0.0, 1.3, 1.3, 2.3]
    for i in range(len(sent) - 2):
        assert sent[i + 2] - sent[i] >= 1.0 - 1e-9


async def test_the_double_answers_429_beyond_four_searches_a_second(clock: FakeClock) -> None:
    fake = seeded(enforce_search_limit=True)
    async with fake.running() as url, httpx.AsyncClient() as http:
        fast = HubSpotClient(TOKEN, http=http, base_url=url, search_limiter=RateLimiter(100, 1.0))
        statuses = []
        for _ in range(6):
            try:
                await fast.contact_by_email("x@y.example")
                statuses.append(200)
            except Exception as exc:
                statuses.append(getattr(exc, "retry_after", None))
    assert statuses[:4] == [200] * 4 and statuses[4] == 1.0 and fake.rate_limited >= 1


async def test_the_client_hides_its_token() -> None:
    async with httpx.AsyncClient() as http:
        assert TOKEN not in repr(HubSpotClient(TOKEN, http=http))
