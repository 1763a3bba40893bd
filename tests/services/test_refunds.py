"""Refund decisions on a real database: the row intake writes, the policy's schedule (through the
connector runtime), the release exactly once, Reverse, approval, guardrails and Mark refunded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.base import Done
from connectors.runtime import ConnectorRuntime
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, OutboxItem, RefundRow
from services.events import EventLog, EventType, OutboxKind, Subscriptions
from services.handoff_model import Handoff
from services.handoffs import Decision, HandoffService, Outcome
from services.intake import HandoffIntake
from services.notes import note_for
from services.outbox import Outbox
from services.refunds import RefundLedger, RefundStatus
from services.refunds.service import RefundService
from services.states import HandoffStatus
from tests.connectors.toy import ScriptedToy
from tests.support.clock import FakeClock
from tests.support.db import fresh_database
from tests.support.routing import make_routing

APPROVER = "U0APPROVER1"
OTHER = "U0SOMEONE"
ROUTING = make_routing(
    refunds={
        "enabled": True,
        "version": "2026-11-a",
        "limits": {"USD": "100"},
        "grace_minutes": 15,
    }
)


def refund_handoff(call_id: str, **billing: Any) -> Handoff:
    return Handoff.model_validate(
        {
            "schema_version": "1",
            "call_id": call_id,
            "occurred_at": "2026-11-30T09:00:00Z",
            "workflow": "refund",
            "urgency": "normal",
            "match_confidence": 0.95,
            "caller_request": "Charged twice for the same seat; wants one charge back.",
            "customer": {"name": "Ana", "email": "ana@example.com", "email_verified": True},
            "billing": {
                "payment_id": "ch_1",
                "amount": "49.00",
                "currency": "USD",
                "refund_reason": "duplicate charge",
                **billing,
            },
        }
    )


def facts(**payment: Any) -> dict[str, Any]:
    return {
        "payment": {
            "id": "ch_1",
            "kind": "charge",
            "amount": "49.00",
            "currency": "USD",
            "amount_refunded": "0.00",
            "status": "succeeded",
            "disputed": False,
            **payment,
        },
        "open_disputes": 0,
        "looked_up_at": "2026-11-30T09:01:00+00:00",
    }


@dataclass
class World:
    db: Database
    clock: FakeClock
    intake: HandoffIntake
    handoffs: HandoffService
    refunds: RefundService
    outbox: Outbox
    runtime: ConnectorRuntime
    stripe: ScriptedToy

    async def store(self, handoff: Handoff) -> str:
        return (await self.intake.store(handoff)).handoff_id

    async def stripe_says(self, handoff_id: str, found: dict[str, Any]) -> None:
        """The Stripe read connector answers the handoff's RECEIVED event with ``found``."""
        self.stripe.answers = [Done(context={"found": True, "refund_facts": found})]
        for item in await self.outbox.claim():
            if item.kind == OutboxKind.CONNECTOR.value and item.handoff_id == handoff_id:
                await self.runtime.run(item)

    async def refund(self, handoff_id: str) -> RefundRow:
        async with self.db.sessions() as session:
            row = await session.scalar(select(RefundRow).where(RefundRow.handoff_id == handoff_id))
            assert row is not None
            return row

    async def status(self, handoff_id: str) -> str:
        async with self.db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            assert row is not None
            return row.status

    async def events(self, handoff_id: str, kind: EventType) -> list[AuditEntry]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.handoff_id == handoff_id, AuditEntry.action == kind.value
                )
            )
            return list(rows)

    async def executions(self) -> list[OutboxItem]:
        """The work queued for the (stand-in) Stripe refund connector."""
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(OutboxItem).where(OutboxItem.dedupe_key.like("stripe_refunds:%"))
            )
            return list(rows)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock()
    async with fresh_database(tmp_path) as db:
        stripe = ScriptedToy([Done()], name="stripe", handles=frozenset({EventType.RECEIVED}))
        # The refund connector executes on REFUND_RELEASED: its work items are what we count.
        executor = ScriptedToy(
            [Done()], name="stripe_refunds", handles=frozenset({EventType.REFUND_RELEASED})
        )
        subscriptions = Subscriptions({c.name: c.handles for c in (stripe, executor)})
        events = EventLog(subscriptions, notes=note_for)
        outbox = Outbox(db, clock=clock)
        refunds = RefundService(db, lambda: ROUTING.refunds, events, clock)
        runtime = ConnectorRuntime(
            db, outbox, [stripe, executor], clock, events, on_context=refunds.on_context
        )
        yield World(
            db=db,
            clock=clock,
            intake=HandoffIntake(db, lambda: ROUTING, clock=clock, events=events),
            handoffs=HandoffService(db, lambda: ROUTING, clock=clock, events=events),
            refunds=refunds,
            outbox=outbox,
            runtime=runtime,
            stripe=stripe,
        )


# ---- intake -----------------------------------------------------------------------------------


async def test_intake_stores_the_refund_row_with_the_handoff(world: World) -> None:
    stripe_id = await world.store(refund_handoff("dnx_ref_1"))
    crypto_id = await world.store(
        refund_handoff("dnx_ref_2", payment_id="txn_plisio_77", amount="-12.345", currency="USDT")
    )
    none_id = await world.store(refund_handoff("dnx_ref_3", amount=None))

    stripe = await world.refund(stripe_id)
    assert (stripe.system, stripe.payment_ref, stripe.status) == ("stripe", "ch_1", "pending")
    assert (stripe.amount, stripe.currency, stripe.key) == (
        Decimal("49.00"),
        "USD",
        "dnx_ref_1:refund",
    )
    assert stripe.customer_email == "ana@example.com"
    crypto = await world.refund(crypto_id)
    assert (crypto.system, crypto.amount) == ("manual", Decimal("12.345"))
    async with world.db.sessions() as session:
        assert (
            await session.scalar(select(RefundRow).where(RefundRow.handoff_id == none_id)) is None
        )
    card = await world.handoffs.card(stripe_id)
    assert card is not None and card.refund is not None and card.refund.status == "pending"


# ---- the automatic path -----------------------------------------------------------------------


async def test_policy_schedules_then_one_release_even_when_two_passes_race(world: World) -> None:
    handoff_id = await world.store(refund_handoff("dnx_auto_1"))
    await world.stripe_says(handoff_id, facts())

    refund = await world.refund(handoff_id)
    assert refund.status == RefundStatus.SCHEDULED.value
    assert refund.automatic and refund.decided_by == "policy"
    assert refund.policy_version == "2026-11-a"
    assert refund.rule is not None and refund.rule.startswith("refunds up to 100.00 USD")
    assert refund.execute_after == world.clock() + timedelta(minutes=15)
    assert await world.status(handoff_id) == HandoffStatus.APPROVED.value
    [scheduled] = await world.events(handoff_id, EventType.REFUND_SCHEDULED)
    assert scheduled.detail["policy_version"] == "2026-11-a"
    assert scheduled.detail["rule"] == refund.rule

    assert await world.refunds.release_due() == []  # still in its grace window
    world.clock.advance(minutes=15)
    first, second = await asyncio.gather(world.refunds.release_due(), world.refunds.release_due())

    assert sorted(first + second) == [handoff_id]
    assert (await world.refund(handoff_id)).status == RefundStatus.RELEASED.value
    assert len(await world.events(handoff_id, EventType.REFUND_RELEASED)) == 1
    assert len(await world.executions()) == 1
    assert await world.refunds.release_due() == []


async def test_a_refund_over_the_limit_waits_for_an_approver_and_says_why(world: World) -> None:
    handoff_id = await world.store(refund_handoff("dnx_big_1", amount="150.00"))
    await world.stripe_says(handoff_id, facts(amount="150.00"))

    assert (await world.refund(handoff_id)).status == RefundStatus.PENDING.value
    assert await world.status(handoff_id) == HandoffStatus.OPEN.value
    card = await world.handoffs.card(handoff_id)
    assert card is not None and card.refund is not None
    assert card.refund.not_automatic == (
        "150.00 USD is above the 100.00 USD limit for automatic refunds",
    )
    assert await world.events(handoff_id, EventType.REFUND_SCHEDULED) == []


async def test_policy_off_leaves_every_refund_to_an_approver(world: World) -> None:
    world.refunds._rules = lambda: make_routing().refunds  # the default: off
    handoff_id = await world.store(refund_handoff("dnx_off_1"))
    await world.stripe_says(handoff_id, facts())
    assert (await world.refund(handoff_id)).status == RefundStatus.PENDING.value
    card = await world.handoffs.card(handoff_id)
    assert card is not None and card.refund is not None and card.refund.not_automatic == ()


async def test_at_most_one_automatic_refund_per_customer_in_the_period(world: World) -> None:
    first = await world.store(refund_handoff("dnx_cust_1"))
    await world.stripe_says(first, facts())
    second = await world.store(refund_handoff("dnx_cust_2", payment_id="ch_2"))
    await world.stripe_says(second, facts(id="ch_2"))
    assert (await world.refund(first)).status == RefundStatus.SCHEDULED.value
    assert (await world.refund(second)).status == RefundStatus.PENDING.value


# ---- Reverse ------------------------------------------------------------------------------------


async def test_reverse_in_the_grace_window_then_an_approval_releases_it(world: World) -> None:
    handoff_id = await world.store(refund_handoff("dnx_rev_1"))
    await world.stripe_says(handoff_id, facts())

    refused = await world.handoffs.reverse_refund(handoff_id, OTHER, is_approver=False)
    assert refused.outcome is Outcome.NOT_APPROVER
    reversed_ = await world.handoffs.reverse_refund(handoff_id, APPROVER, is_approver=True)
    assert reversed_.outcome is Outcome.DONE
    assert reversed_.card is not None and reversed_.card.status is HandoffStatus.OPEN
    assert (await world.refund(handoff_id)).status == RefundStatus.REVERSED.value
    [event] = await world.events(handoff_id, EventType.REFUND_REVERSED)
    assert event.actor == APPROVER

    world.clock.advance(minutes=30)
    assert await world.refunds.release_due() == []  # reversed: the job leaves it alone
    assert await world.executions() == []
    again = await world.handoffs.reverse_refund(handoff_id, APPROVER, is_approver=True)
    assert again.outcome is Outcome.NOT_APPLICABLE

    approved = await world.handoffs.approve(handoff_id, "U0APPROVER2", is_approver=True)
    assert approved.outcome is Outcome.DONE and approved.decision is Decision.REFUND
    refund = await world.refund(handoff_id)
    assert (refund.status, refund.decided_by) == (RefundStatus.RELEASED.value, "U0APPROVER2")
    assert len(await world.executions()) == 1


async def test_reverse_after_release_is_refused(world: World) -> None:
    handoff_id = await world.store(refund_handoff("dnx_rev_2"))
    await world.stripe_says(handoff_id, facts())
    world.clock.advance(minutes=15)
    await world.refunds.release_due()
    result = await world.handoffs.reverse_refund(handoff_id, APPROVER, is_approver=True)
    assert result.outcome is Outcome.NOT_APPLICABLE
    assert (await world.refund(handoff_id)).status == RefundStatus.RELEASED.value
    assert await world.events(handoff_id, EventType.REFUND_REVERSED) == []


# ---- approval, guardrails, manual refunds -------------------------------------------------------


async def test_approval_releases_a_stripe_refund_once(world: World) -> None:
    handoff_id = await world.store(refund_handoff("dnx_app_1", amount="150.00"))
    await world.stripe_says(handoff_id, facts(amount="150.00"))
    result = await world.handoffs.approve(handoff_id, APPROVER, is_approver=True)
    assert result.decision is Decision.REFUND
    assert result.card is not None and result.card.refund is not None
    assert result.card.refund.status == "released"
    [released] = await world.events(handoff_id, EventType.REFUND_RELEASED)
    assert released.actor == APPROVER and released.detail["key"] == "dnx_app_1:refund"
    again = await world.handoffs.approve(handoff_id, "U0APPROVER2", is_approver=True)
    assert again.outcome is Outcome.ALREADY_DECIDED
    assert len(await world.executions()) == 1


async def test_a_disputed_charge_is_refused_with_the_reason(world: World) -> None:
    handoff_id = await world.store(refund_handoff("dnx_disp_1"))
    await world.stripe_says(handoff_id, facts(disputed=True))
    assert (await world.refund(handoff_id)).status == RefundStatus.PENDING.value  # not automatic

    await world.handoffs.approve(handoff_id, APPROVER, is_approver=True)
    refund = await world.refund(handoff_id)
    assert (refund.status, refund.error) == ("refused", "the charge is disputed")
    [refused] = await world.events(handoff_id, EventType.REFUND_REFUSED)
    assert refused.detail["reason"] == "the charge is disputed"
    assert await world.executions() == []


async def test_a_refund_over_what_is_left_of_the_payment_is_refused(world: World) -> None:
    # Another refund of the same charge already went out here; Stripe has refunded 10.00.
    earlier = await world.store(refund_handoff("dnx_part_1", amount="20.00"))
    await world.stripe_says(earlier, facts(amount_refunded="10.00"))  # not the first refund
    await world.handoffs.approve(earlier, APPROVER, is_approver=True)
    assert (await world.refund(earlier)).status == RefundStatus.RELEASED.value

    later = await world.store(refund_handoff("dnx_part_2", amount="19.01"))
    await world.stripe_says(later, facts(amount_refunded="10.00"))
    await world.handoffs.approve(later, APPROVER, is_approver=True)
    refund = await world.refund(later)
    assert refund.status == RefundStatus.REFUSED.value
    assert refund.error is not None and "19.00 USD left" in refund.error

    # Exactly what is left goes through: the partial refunds add up to the payment.
    last = await world.store(refund_handoff("dnx_part_3", amount="19.00"))
    await world.stripe_says(last, facts(amount_refunded="10.00"))
    await world.handoffs.approve(last, APPROVER, is_approver=True)
    assert (await world.refund(last)).status == RefundStatus.RELEASED.value
    ledger = RefundLedger(world.db, lambda: world.handoffs._events, world.clock)
    assert await ledger.refunded_before("ch_1", excluding="nobody") == Decimal("39.00")


async def test_a_refund_stripe_already_shows_is_not_counted_twice(world: World) -> None:
    ledger = RefundLedger(world.db, lambda: world.handoffs._events, world.clock)
    earlier = await world.store(refund_handoff("dnx_seen_1", amount="20.00"))
    await world.stripe_says(earlier, facts())  # allowed by policy: released after the grace
    world.clock.advance(minutes=15)
    assert await world.refunds.release_due() == [earlier]
    assert await ledger.record_outcome(earlier, RefundStatus.SUCCEEDED, external_id="re_1")
    succeeded_at = world.clock()

    # Read after that refund succeeded: Stripe's 20.00 refunded is that refund; 29.00 is left.
    world.clock.advance(minutes=1)
    after = {**facts(amount_refunded="20.00"), "looked_up_at": world.clock().isoformat()}
    later = await world.store(refund_handoff("dnx_seen_2", amount="29.00"))
    await world.stripe_says(later, after)
    await world.handoffs.approve(later, APPROVER, is_approver=True)
    assert (await world.refund(later)).status == RefundStatus.RELEASED.value

    # Read before it succeeded: Stripe showed nothing refunded, so this bot's refund counts.
    before = {**facts(), "looked_up_at": (succeeded_at - timedelta(minutes=5)).isoformat()}
    stale = await world.store(refund_handoff("dnx_seen_3", amount="0.01", payment_id="ch_1"))
    await world.stripe_says(stale, before)
    await world.handoffs.approve(stale, APPROVER, is_approver=True)
    refund = await world.refund(stale)
    assert refund.status == RefundStatus.REFUSED.value  # 20.00 + 29.00 on their way: 0.00 left
    assert refund.error is not None and "0.00 USD left" in refund.error


async def test_a_crypto_refund_gets_the_checklist_and_only_approvers_mark_it(world: World) -> None:
    handoff_id = await world.store(
        refund_handoff("dnx_cry_1", payment_id="txn_plisio_1", currency="USDT", amount="30")
    )
    early = await world.handoffs.mark_refunded(handoff_id, APPROVER, is_approver=True)
    assert early.outcome is Outcome.NOT_APPLICABLE  # nothing approved yet

    await world.handoffs.approve(handoff_id, APPROVER, is_approver=True)
    assert (await world.refund(handoff_id)).status == RefundStatus.MANUAL.value
    assert len(await world.events(handoff_id, EventType.REFUND_MANUAL)) == 1
    assert await world.executions() == []

    refused = await world.handoffs.mark_refunded(handoff_id, OTHER, is_approver=False)
    assert refused.outcome is Outcome.NOT_APPROVER
    marked = await world.handoffs.mark_refunded(handoff_id, APPROVER, is_approver=True)
    assert marked.outcome is Outcome.DONE
    assert (await world.refund(handoff_id)).status == RefundStatus.MARKED.value
    twice = await world.handoffs.mark_refunded(handoff_id, APPROVER, is_approver=True)
    assert twice.outcome is Outcome.NOT_APPLICABLE
    assert len(await world.events(handoff_id, EventType.REFUND_MARKED)) == 1
