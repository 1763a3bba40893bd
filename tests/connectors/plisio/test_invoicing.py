"""Plisio behind the PaymentProvider: the invoice is linked to its handoff once, and /handoff
lists it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.plisio import PlisioAPIError
from connectors.plisio.provider import PlisioProvider
from sandbox.slack_state import Demo
from services.db.models import ExternalRef
from services.payment_provider import InvoiceRequest, PaymentProvider, PaymentProviderError
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

ORDER = "dnx_call_INV2041"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


async def refs(bot: Harness) -> list[ExternalRef]:
    async with bot.deps.db.sessions() as session:
        return list(await session.scalars(select(ExternalRef)))


async def test_plisio_is_the_payment_provider(bot: Harness) -> None:
    provider = bot.deps.connectors.provider
    assert isinstance(provider, PlisioProvider) and isinstance(provider, PaymentProvider)
    assert issubclass(PlisioAPIError, PaymentProviderError)
    made = await provider.create_invoice(
        InvoiceRequest(order_number="o-1", order_name="Invoice", amount=Decimal(10), currency="USD")
    )
    [found] = await provider.find_invoices("o-1")
    assert (found.invoice_id, found.url) == (made.invoice_id, made.url)
    assert await provider.find_invoices("o-2") == []


async def test_the_invoice_is_an_external_ref_listed_by_handoff(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    made = bot.plisio.invoices_for_order(ORDER)[0]
    [ref] = await refs(bot)
    assert (ref.handoff_id, ref.system, ref.kind, ref.external_id, ref.url) == (
        handoff_id,
        "plisio",
        "invoice",
        made.txn_id,
        made.invoice_url,
    )
    _, key = await bot.command(Demo.BILLING_OPS, "/handoff", ORDER)
    for _ in range(100):
        if bot.slack.responses[key]:
            break
        await asyncio.sleep(0.02)
    text = str(bot.slack.responses[key][-1]["blocks"])
    assert f"*Linked records:* Plisio invoice <{made.invoice_url}|{made.txn_id}>" in text


async def test_an_invoice_found_after_an_unclear_failure_is_linked_once(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.plisio.fail_next(1, 502, after_commit=True)  # made in Plisio; we saw a 502
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    assert await refs(bot) == []
    clock.advance(minutes=5)
    await bot.drain()  # the retry finds the order instead of creating another
    made = bot.plisio.invoices_for_order(ORDER)
    assert len(made) == 1
    [ref] = await refs(bot)
    assert ref.external_id == made[0].txn_id
