"""The Stripe connector against the loopback double: what it reads, the context it returns, how
each failure is answered, the cache and the pacing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import ConnectorContext, Done, GiveUp, RetryAfter
from connectors.stripe.client import Pacer, StripeReader
from connectors.stripe.connector import StripeConnector
from sandbox.stripe import FakeStripe
from services.db.engine import Database
from services.events import BOT, Event, EventType
from services.handoff_model import Handoff
from services.intake import HandoffIntake
from tests.support.clock import FakeClock
from tests.support.db import fresh_database
from tests.support.examples import example
from tests.support.routing import make_routing

KEY = "sk_test_connector0123456789"
PAST_DUE = "treasury@alderstreet.example"
ACTIVE = "ap@harborfinch.example"
CHARGES_ONLY = "finance@quill.example"
CARD = "4111 1111 1111 1111"


@dataclass
class World:
    db: Database
    clock: FakeClock
    fake: FakeStripe
    connector: StripeConnector
    intake: HandoffIntake

    async def handoff(self, call_id: str, **changes: Any) -> str:
        data = example("vip_renewal_blocker", call_id=call_id)
        for path, value in changes.items():
            section, field = path.split("__")
            data[section][field] = value
        stored = await self.intake.store(Handoff.model_validate(data))
        return stored.handoff_id

    async def run(
        self, handoff_id: str, kind: EventType = EventType.RECEIVED, attempt: int = 1
    ) -> Done | RetryAfter | GiveUp:
        event = Event(kind, handoff_id, BOT, self.clock(), {})
        return await self.connector.handle(event, ConnectorContext(attempt, self.clock))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock()
    fake = FakeStripe.demo(KEY)
    routing = make_routing()
    async with (
        fresh_database(tmp_path) as db,
        fake.running() as url,
        httpx.AsyncClient() as http,
    ):
        reader = StripeReader(KEY, http=http, api_base=url, pacer=Pacer(1000))
        connector = StripeConnector(reader, db, clock, cache_seconds=300)
        yield World(db, clock, fake, connector, HandoffIntake(db, lambda: routing, clock=clock))


async def test_a_past_due_customer_with_a_failed_payment(world: World) -> None:
    handoff_id = await world.handoff("dnx_stripe_1", customer__email=PAST_DUE)
    result = await world.run(handoff_id)
    assert isinstance(result, Done) and result.context is not None
    ctx = result.context
    assert ctx["found"] is True
    assert ctx["customer"]["id"] == "cus_SbxAlder0077"
    assert ctx["customer"]["url"].endswith("/customers/cus_SbxAlder0077")
    [sub] = ctx["subscriptions"]
    assert (sub["status"], sub["status_label"], sub["plan"]) == (
        "past_due",
        "Past due",
        "Enterprise",
    )
    assert (sub["amount"], sub["currency"], sub["interval"]) == ("24000.00", "GBP", "year")
    assert sub["current_period_end"].endswith("+00:00")
    pay = ctx["latest_payment"]
    assert (pay["object"], pay["status_label"], pay["amount"]) == (
        "payment_intent",
        "Failed",
        "24000.00",
    )
    assert pay["failure_reason"] == "Your card has insufficient funds."
    assert ctx["flags"] == ["past_due", "payment_failed"]
    [link] = result.links
    assert (link.kind, link.external_id, link.label) == (
        "customer",
        "cus_SbxAlder0077",
        "Alder Street Health",
    )
    # Subscriptions of every status were asked for.
    [subs] = world.fake.reads("subscriptions")
    assert subs.params["status"] == "all"


async def test_only_the_email_goes_out(world: World) -> None:
    handoff_id = await world.handoff("dnx_stripe_2", customer__email=ACTIVE)
    await world.run(handoff_id)
    [lookup] = world.fake.reads("customers")
    assert lookup.params == {"email": ACTIVE, "limit": "3"}
    sent = str([r.params for r in world.fake.requests])
    assert CARD not in sent and "Alder" not in sent


async def test_an_unknown_email_is_said_plainly(world: World) -> None:
    handoff_id = await world.handoff("dnx_stripe_3", customer__email="nobody@unknown.example")
    result = await world.run(handoff_id)
    assert isinstance(result, Done) and result.context is not None
    assert result.context["found"] is False
    assert result.context["message"] == "No Stripe customer for this email"
    assert result.links == ()


async def test_charges_are_read_when_there_are_no_payment_intents(world: World) -> None:
    handoff_id = await world.handoff("dnx_stripe_4", customer__email=CHARGES_ONLY)
    result = await world.run(handoff_id)
    assert isinstance(result, Done) and result.context is not None
    pay = result.context["latest_payment"]
    assert (pay["object"], pay["status_label"], pay["amount"]) == ("charge", "Succeeded", "1180.00")
    assert result.context["flags"] == []


async def test_a_named_subscription_finds_its_customer_whatever_the_email(world: World) -> None:
    handoff_id = await world.handoff(
        "dnx_stripe_5",
        customer__email="someone@else.example",
        billing__subscription_id="sub_SbxHarbor",
    )
    result = await world.run(handoff_id)
    assert isinstance(result, Done) and result.context is not None
    assert result.context["customer"]["id"] == "cus_SbxHarbor2217"
    # No search by email was needed: the subscription, then its customer by id.
    assert [r.path for r in world.fake.requests][:2] == [
        "/v1/subscriptions/sub_SbxHarbor",
        "/v1/customers/cus_SbxHarbor2217",
    ]
    assert not any(r.params.get("email") for r in world.fake.requests)


async def test_a_named_object_stripe_does_not_know_falls_back_to_the_email(world: World) -> None:
    handoff_id = await world.handoff(
        "dnx_stripe_6", customer__email=PAST_DUE, billing__payment_id="pi_Missing"
    )
    result = await world.run(handoff_id)
    assert isinstance(result, Done) and result.context is not None
    assert result.context["customer"]["id"] == "cus_SbxAlder0077"


async def test_a_wrong_key_gives_up_saying_so(world: World) -> None:
    world.fake.api_key = "sk_test_other"
    handoff_id = await world.handoff("dnx_stripe_7", customer__email=PAST_DUE)
    result = await world.run(handoff_id)
    assert isinstance(result, GiveUp)
    assert result.reason.startswith("Stripe refused the API key")
    assert KEY not in result.reason


async def test_a_missing_restricted_key_permission_is_named(world: World) -> None:
    world.fake.deny("rak_subscription_read")
    handoff_id = await world.handoff("dnx_stripe_8", customer__email=PAST_DUE)
    result = await world.run(handoff_id)
    assert isinstance(result, GiveUp)
    assert "missing the rak_subscription_read permission" in result.reason


async def test_a_rate_limit_is_retried_after_stripes_wait_and_pauses_the_others(
    world: World,
) -> None:
    world.fake.fail_next(429, retry_after=7)
    handoff_id = await world.handoff("dnx_stripe_9", customer__email=PAST_DUE)
    result = await world.run(handoff_id)
    assert isinstance(result, RetryAfter) and result.seconds == 7
    assert len(world.fake.requests) == 1  # the library did not retry on its own
    # While Stripe's pause lasts, other items are handed back without a request.
    again = await world.run(handoff_id, attempt=2)
    assert isinstance(again, RetryAfter) and 0 < again.seconds <= 7
    assert len(world.fake.requests) == 1


async def test_a_server_error_and_a_dead_stripe_are_retried(world: World, tmp_path: Path) -> None:
    world.fake.fail_next(503)
    handoff_id = await world.handoff("dnx_stripe_10", customer__email=PAST_DUE)
    assert isinstance(await world.run(handoff_id), RetryAfter)
    async with httpx.AsyncClient() as http:
        dead = StripeReader(KEY, http=http, api_base="http://127.0.0.1:9", pacer=Pacer(1000))
        connector = StripeConnector(dead, world.db, world.clock)
        event = Event(EventType.RECEIVED, handoff_id, BOT, world.clock(), {})
        result = await connector.handle(event, ConnectorContext(1, world.clock))
    assert isinstance(result, RetryAfter) and "could not reach Stripe" in result.reason


async def test_answers_are_cached_per_customer_and_refresh_reads_again(world: World) -> None:
    first = await world.handoff("dnx_stripe_11", customer__email=PAST_DUE)
    second = await world.handoff("dnx_stripe_12", customer__email=PAST_DUE.upper())
    await world.run(first)
    reads = len(world.fake.requests)
    cached = await world.run(second)  # the same customer, the email in other letters
    assert isinstance(cached, Done) and cached.context is not None
    assert len(world.fake.requests) == reads  # same customer: no new reads
    await world.run(second, EventType.CONTEXT_REQUESTED)
    # Refresh context always reads again (as typed, then lower-case: Stripe's filter is
    # case-sensitive).
    assert len(world.fake.requests) == 2 * reads + 1
    world.clock.advance(seconds=301)
    await world.run(first)
    assert len(world.fake.requests) == 3 * reads + 1  # the cache expired


async def test_the_pacer_spaces_request_starts() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))

    pacer = Pacer(25, now=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await pacer.wait()
    assert slept == [0.04, 0.08]
    pacer.pause(5)
    assert pacer.paused_for() == 5
    now[0] += timedelta(seconds=6).total_seconds()
    assert pacer.paused_for() == 0
