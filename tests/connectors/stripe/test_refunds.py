"""Stripe refunds against the loopback double: one refund per released refund whatever happens
(a lost answer, a redelivery), followed until Stripe says how it ended; the guardrails refuse a
disputed charge and more than remains, without asking Stripe to refund; Stripe's refusals and
rate limits; and the refund facts the read connector adds for the refund policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select

from connectors.base import ConnectorContext, Done, GiveUp, RetryAfter
from connectors.stripe.client import Pacer, StripeReader, StripeRefunder
from connectors.stripe.connector import StripeConnector
from connectors.stripe.refunds import StripeRefundConnector
from sandbox.stripe import FakeStripe
from services.db.engine import Database
from services.db.models import AuditEntry
from services.events import BOT, Event, EventLog, EventType
from services.intake import HandoffIntake
from services.refunds import Refund, RefundLedger, RefundStatus, RefundSystem, refund_key
from tests.connectors.stripe.refund_support import release_refund, store_refund_handoff
from tests.support.clock import FakeClock
from tests.support.db import fresh_database
from tests.support.routing import make_routing

KEY = "sk_test_refunds0123456789"
MAPLE = "accounts@maplerow.example"  # a paid 19.00 USD charge (pi_SbxMaple19 / ch_SbxMaple19)
BIRCH = "billing@birchlane.example"  # a disputed 120.00 USD charge


@dataclass
class World:
    db: Database
    clock: FakeClock
    fake: FakeStripe
    events: EventLog
    ledger: RefundLedger
    connector: StripeRefundConnector
    intake: HandoffIntake
    monotonic: list[float]
    reader: StripeConnector  # the read connector (refund facts)

    async def released(
        self,
        call_id: str,
        *,
        payment: str = "ch_SbxMaple19",
        amount: str = "19.00",
        currency: str = "USD",
        email: str = MAPLE,
        system: RefundSystem = RefundSystem.STRIPE,
    ) -> Event:
        handoff_id = await store_refund_handoff(
            self.intake, call_id, payment_id=payment, email=email, amount=amount, currency=currency
        )
        return await release_refund(
            self.db,
            self.events,
            handoff_id,
            call_id,
            payment_ref=payment,
            amount=amount,
            currency=currency,
            now=self.clock(),
            system=system,
        )

    async def run(self, event: Event, attempt: int = 1) -> Done | RetryAfter | GiveUp:
        return await self.connector.handle(event, ConnectorContext(attempt, self.clock))

    async def refund(self, event: Event) -> Refund:
        assert event.handoff_id is not None
        found = await self.ledger.for_handoff(event.handoff_id)
        assert found is not None
        return found

    async def told(self, kind: EventType) -> list[dict[str, Any]]:
        async with self.db.sessions() as session:
            rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == kind.value))
            return [dict(r.detail) for r in rows]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock()
    fake = FakeStripe.demo(KEY)
    routing = make_routing()
    events = EventLog()
    monotonic = [1000.0]
    async with (
        fresh_database(tmp_path) as db,
        fake.running() as url,
        httpx.AsyncClient() as http,
    ):
        pacer = Pacer(1000, now=lambda: monotonic[0])
        client = StripeRefunder(KEY, http=http, api_base=url, pacer=pacer)
        ledger = RefundLedger(db, lambda: events, clock)
        connector = StripeRefundConnector(client, ledger, clock, livemode=False, poll_seconds=30)
        intake = HandoffIntake(db, lambda: routing, clock=clock)
        reader = StripeConnector(
            StripeReader(KEY, http=http, api_base=url, pacer=Pacer(1000)), db, clock
        )
        yield World(db, clock, fake, events, ledger, connector, intake, monotonic, reader)


async def test_a_released_refund_is_refunded_once_and_linked(world: World) -> None:
    event = await world.released("dnx_refund_happy")
    result = await world.run(event)

    assert isinstance(result, Done)
    [made] = world.fake.refunds()
    assert (made["charge"], made["amount"], made["status"]) == ("ch_SbxMaple19", 1900, "succeeded")
    assert made["metadata"] == {"call_id": "dnx_refund_happy"}
    assert made["reason"] == "requested_by_customer"
    [post] = world.fake.writes()
    assert post.idempotency_key == refund_key("dnx_refund_happy")
    [link] = result.links
    assert (link.kind, link.external_id, link.label) == (
        "refund",
        made["id"],
        f"refund {made['id']}",
    )
    assert link.url == f"https://dashboard.stripe.com/test/refunds/{made['id']}"
    refund = await world.refund(event)
    assert (refund.status, refund.external_id) == (RefundStatus.SUCCEEDED, made["id"])
    assert world.fake.objects["charges"]["ch_SbxMaple19"]["refunded"] is True
    # The event delivered again: nothing more happens in Stripe, nobody is told twice.
    assert isinstance(await world.run(event, attempt=2), Done)
    assert len(world.fake.refunds()) == 1 and len(world.fake.writes()) == 1
    assert len(await world.told(EventType.REFUND_SUCCEEDED)) == 1


async def test_a_payment_intent_is_refunded_by_its_id(world: World) -> None:
    event = await world.released("dnx_refund_pi", payment="pi_SbxMaple19", amount="5.50")
    assert isinstance(await world.run(event), Done)
    [post] = world.fake.writes()
    assert post.form["payment_intent"] == "pi_SbxMaple19" and "charge" not in post.form
    assert post.form["amount"] == "550"
    assert (await world.refund(event)).status is RefundStatus.SUCCEEDED


async def test_a_lost_answer_is_retried_without_a_second_refund(world: World) -> None:
    world.fake.lose_next_answer()
    event = await world.released("dnx_refund_lost")
    first = await world.run(event)
    assert isinstance(first, RetryAfter)
    assert (await world.refund(event)).status is RefundStatus.RELEASED  # nothing certain yet
    assert len(world.fake.refunds()) == 1  # Stripe did make it

    second = await world.run(event, attempt=2)
    assert isinstance(second, Done)
    [made] = world.fake.refunds()
    refund = await world.refund(event)
    assert (refund.status, refund.external_id) == (RefundStatus.SUCCEEDED, made["id"])
    # The retry found the refund and did not ask to refund again.
    assert len(world.fake.writes()) == 1


async def test_the_same_idempotency_key_replays_and_other_parameters_are_refused(
    world: World,
) -> None:
    client = world.connector.client
    params: dict[str, Any] = {"charge": "ch_SbxMaple19", "amount": 500}
    first = await client.create_refund(params, idempotency_key="dnx_x:refund")
    again = await client.create_refund(params, idempotency_key="dnx_x:refund")
    assert first["id"] == again["id"] and len(world.fake.refunds()) == 1
    with pytest.raises(stripe.IdempotencyError):
        await client.create_refund({**params, "amount": 600}, idempotency_key="dnx_x:refund")
    assert len(world.fake.refunds()) == 1


async def test_a_pending_refund_is_followed_until_it_succeeds(world: World) -> None:
    world.fake.pending_refunds(reads=1)
    event = await world.released("dnx_refund_pending")
    first = await world.run(event)
    assert isinstance(first, RetryAfter) and first.seconds == 30
    [made] = world.fake.refunds()
    refund = await world.refund(event)
    assert (refund.status, refund.external_id) == (RefundStatus.PROCESSING, made["id"])

    second = await world.run(event, attempt=2)
    assert isinstance(second, Done) and second.links[0].external_id == made["id"]
    assert (await world.refund(event)).status is RefundStatus.SUCCEEDED
    assert len(world.fake.writes()) == 1
    assert [r.path for r in world.fake.reads("refunds/")] == [f"/v1/refunds/{made['id']}"]


async def test_a_refund_that_stays_pending_backs_off_and_stays_processing(world: World) -> None:
    world.fake.pending_refunds(reads=None)
    event = await world.released("dnx_refund_slow")
    waits = []
    for attempt in (1, 2, 3):
        result = await world.run(event, attempt=attempt)
        assert isinstance(result, RetryAfter) and "pending in Stripe" in result.reason
        waits.append(result.seconds)
    assert waits == [30, 60, 120]
    assert (await world.refund(event)).status is RefundStatus.PROCESSING
    assert len(world.fake.writes()) == 1


async def test_a_failed_refund_says_why(world: World) -> None:
    world.fake.fail_refunds("expired_or_canceled_card")
    event = await world.released("dnx_refund_failed")
    result = await world.run(event)
    assert isinstance(result, Done) and result.links
    refund = await world.refund(event)
    assert refund.status is RefundStatus.FAILED
    assert refund.error == "Stripe could not refund: expired or canceled card"
    [told] = await world.told(EventType.REFUND_FAILED)
    assert told["reason"] == refund.error
    # A failed refund gives nothing back to the charge.
    assert world.fake.objects["charges"]["ch_SbxMaple19"]["amount_refunded"] == 0


async def test_a_disputed_charge_is_refused_without_asking_stripe_to_refund(
    world: World,
) -> None:
    event = await world.released(
        "dnx_refund_disputed", payment="pi_SbxBirchDisputed", amount="20.00", email=BIRCH
    )
    result = await world.run(event)
    assert isinstance(result, Done)
    refund = await world.refund(event)
    assert refund.status is RefundStatus.REFUSED
    assert refund.error is not None and "ch_SbxBirchDisputed is disputed" in refund.error
    assert world.fake.writes() == []
    [told] = await world.told(EventType.REFUND_REFUSED)
    assert "disputed" in told["reason"]


async def test_an_open_dispute_not_yet_on_the_charge_is_refused(world: World) -> None:
    world.fake.add(
        "disputes",
        {"id": "du_Inquiry", "charge": "ch_SbxMaple19", "amount": 1900, "currency": "usd",
         "status": "warning_needs_response"},
    )  # fmt: skip
    event = await world.released("dnx_refund_inquiry")
    await world.run(event)
    refund = await world.refund(event)
    assert refund.status is RefundStatus.REFUSED
    assert refund.error is not None and "open dispute (du_Inquiry" in refund.error
    assert world.fake.writes() == []


async def test_more_than_was_paid_is_refused(world: World) -> None:
    event = await world.released("dnx_refund_over", amount="19.01")
    await world.run(event)
    refund = await world.refund(event)
    assert refund.status is RefundStatus.REFUSED
    assert refund.error == (
        "19.01 USD is more than the 19.00 USD left to refund on ch_SbxMaple19 "
        "(paid 19.00 USD, already refunded 0.00 USD)"
    )
    assert world.fake.writes() == []


async def test_partial_refunds_add_up_to_the_payment_and_no_more(world: World) -> None:
    first = await world.released("dnx_refund_part_a", payment="pi_SbxMaple19", amount="12.00")
    assert isinstance(await world.run(first), Done)
    # Stripe now says 12.00 refunded: 7.01 more is refused, 7.00 is what remains.
    over = await world.released("dnx_refund_part_b", payment="pi_SbxMaple19", amount="7.01")
    await world.run(over)
    refused = await world.refund(over)
    assert refused.status is RefundStatus.REFUSED
    assert refused.error is not None and "the 7.00 USD left" in refused.error
    rest = await world.released("dnx_refund_part_c", payment="pi_SbxMaple19", amount="7.00")
    assert isinstance(await world.run(rest), Done)
    assert [r["amount"] for r in world.fake.refunds()] == [1200, 700]
    assert world.fake.objects["charges"]["ch_SbxMaple19"]["refunded"] is True


async def test_a_refund_the_bot_released_but_stripe_has_not_seen_counts(world: World) -> None:
    # Another refund of this payment is out for execution (released), not yet in Stripe.
    await world.released("dnx_refund_other", amount="15.00")
    event = await world.released("dnx_refund_second", amount="5.00")
    await world.run(event)
    refund = await world.refund(event)
    assert refund.status is RefundStatus.REFUSED
    assert refund.error is not None and "the 4.00 USD left" in refund.error
    assert world.fake.writes() == []


async def test_a_key_without_refund_permission_fails_naming_it(world: World) -> None:
    world.fake.deny("rak_refund_write")
    event = await world.released("dnx_refund_denied")
    result = await world.run(event)
    assert isinstance(result, GiveUp)
    assert "missing the rak_refund_write permission" in result.reason
    refund = await world.refund(event)
    assert refund.status is RefundStatus.FAILED
    assert refund.error is not None and "rak_refund_write" in refund.error
    assert world.fake.refunds() == []


async def test_a_rate_limit_is_retried_after_stripes_wait(world: World) -> None:
    event = await world.released("dnx_refund_429")
    world.fake.fail_next(429, retry_after=7)
    result = await world.run(event)
    assert isinstance(result, RetryAfter) and result.seconds == 7
    assert (await world.refund(event)).status is RefundStatus.RELEASED
    # While Stripe's pause lasts nothing is sent; after it, the refund is made once.
    sent = len(world.fake.requests)
    assert isinstance(await world.run(event, attempt=2), RetryAfter)
    assert len(world.fake.requests) == sent
    world.monotonic[0] += 8
    assert isinstance(await world.run(event, attempt=3), Done)
    assert len(world.fake.refunds()) == 1
    assert (await world.refund(event)).status is RefundStatus.SUCCEEDED


async def test_a_server_error_is_retried(world: World) -> None:
    event = await world.released("dnx_refund_503")
    world.fake.fail_next(503)
    assert isinstance(await world.run(event), RetryAfter)
    assert isinstance(await world.run(event, attempt=2), Done)
    assert len(world.fake.refunds()) == 1


async def test_a_refund_for_another_system_is_left_alone(world: World) -> None:
    event = await world.released("dnx_refund_crypto", system=RefundSystem.MANUAL)
    assert await world.run(event) == Done()
    assert world.fake.requests == []
    assert (await world.refund(event)).status is RefundStatus.RELEASED


# --- the refund facts the read connector adds -----------------------------------------------


async def read_facts(world: World, call_id: str, **fields: str) -> Any:
    handoff_id = await store_refund_handoff(world.intake, call_id, amount="10.00", **fields)
    event = Event(EventType.RECEIVED, handoff_id, BOT, world.clock(), {})
    result = await world.reader.handle(event, ConnectorContext(1, world.clock))
    assert isinstance(result, Done) and result.context is not None
    return result.context


async def test_refund_facts_of_a_disputed_payment(world: World) -> None:
    ctx = await read_facts(
        world, "dnx_facts_1", payment_id="pi_SbxBirchDisputed", email=BIRCH,
        currency="USD",
    )  # fmt: skip
    facts = ctx["refund_facts"]
    assert facts["payment"] == {
        "id": "pi_SbxBirchDisputed",
        "kind": "payment_intent",
        "amount": "120.00",
        "currency": "USD",
        "amount_refunded": "0.00",
        "status": "succeeded",
        "disputed": True,
    }
    assert facts["open_disputes"] == 1
    assert facts["looked_up_at"].endswith("+00:00")


async def test_refund_facts_of_an_invoice_are_its_payment(world: World) -> None:
    world.fake.add(
        "invoices",
        {"id": "in_SbxMaple", "customer": "cus_SbxMaple3105", "payment_intent": "pi_SbxMaple19"},
    )
    world.fake.objects["charges"]["ch_SbxMaple19"]["amount_refunded"] = 400
    ctx = await read_facts(
        world, "dnx_facts_2", payment_id="in_SbxMaple", email=MAPLE, currency="USD"
    )
    payment = ctx["refund_facts"]["payment"]
    assert (payment["id"], payment["kind"], payment["amount"], payment["amount_refunded"]) == (
        "pi_SbxMaple19",
        "payment_intent",
        "19.00",
        "4.00",
    )
    assert ctx["refund_facts"]["open_disputes"] == 0


async def test_refund_facts_without_a_stripe_payment(world: World) -> None:
    ctx = await read_facts(
        world, "dnx_facts_3", payment_id="pay_55120", email=MAPLE, currency="USD"
    )
    assert ctx["refund_facts"]["payment"] is None
    assert ctx["refund_facts"]["open_disputes"] == 0
