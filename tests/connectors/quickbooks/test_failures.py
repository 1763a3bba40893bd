"""What goes wrong: 5xx after a write, a lost answer, a validation fault, a currency QuickBooks
lacks, a revoked authorisation; and the credit memo and billing address records."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connectors.base import Done, GiveUp
from connectors.quickbooks.oauth import REVOKED_REASON
from sandbox.slack_state import Demo
from services.events import Event, EventType
from tests.connectors.quickbooks.support import connector_for, ctx, qb_bot, text
from tests.support.clock import FakeClock
from tests.support.examples import example, fresh_call_id


async def _retry(bot, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=61)
    await bot.drain()


async def test_a_5xx_after_the_invoice_was_created_makes_no_second_invoice(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        qb.fail_next("invoice", 503, after=True)
        handoff_id = await bot.accept(example("create_invoice", call_id=fresh_call_id("dnx")))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        assert len(qb.invoices) == 1  # written, but the bot heard 503
        await _retry(bot, clock)
        assert len(qb.invoices) == 1
        assert "Invoice 1038" in text(bot.message(await bot.card(handoff_id)))


async def test_a_lost_answer_between_payment_creation_and_recording_makes_one_payment(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        call_id = fresh_call_id("dnx")
        handoff_id = await bot.accept(example("create_invoice", call_id=call_id))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        qb.drop_next("payment")
        txn = bot.plisio.invoices_for_order(call_id)[0].txn_id
        await bot.plisio.set_status(txn, "completed")
        await bot.drain()
        assert len(qb.payments) == 1  # made, the answer lost
        await _retry(bot, clock)
        assert len(qb.payments) == 1
        # The retry looked for it by its PrivateNote before writing again.
        assert any("from Payment" in c.params.get("query", "") for c in qb.calls)
        assert "Payment recorded" in text(bot.message(await bot.card(handoff_id)))


async def test_a_validation_fault_is_shown_with_its_message(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        qb.fault_next(
            "invoice", "Business Validation Error", "Transaction date is in a closed period"
        )
        handoff_id = await bot.accept(example("create_invoice", call_id=fresh_call_id("dnx")))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        card = await bot.card(handoff_id)
        notes = "\n".join(bot.thread_texts(card))
        assert "QuickBooks refused the invoice: 400 ValidationFault" in notes
        assert "Transaction date is in a closed period" in notes
        assert not qb.invoices


async def test_a_currency_the_company_has_not_enabled_is_reported_not_guessed(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        payload = example("create_invoice", call_id=fresh_call_id("dnx"))
        payload["billing"] = {**payload["billing"], "currency": "EUR"}
        handoff_id = await bot.accept(payload)
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        notes = "\n".join(bot.thread_texts(await bot.card(handoff_id)))
        assert "EUR" in notes and "multicurrency is off" in notes
        assert not qb.invoices and not qb.customers


async def test_underpaid_applies_nothing_and_says_what_arrived(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        call_id = fresh_call_id("dnx")
        handoff_id = await bot.accept(example("create_invoice", call_id=call_id))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        txn = bot.plisio.invoices_for_order(call_id)[0].txn_id
        await bot.plisio.settle(txn, "underpaid")
        await bot.drain()
        assert not qb.payments
        shown = text(bot.message(await bot.card(handoff_id)))
        assert "no payment applied in QuickBooks" in shown


async def test_a_revoked_authorisation_stops_the_connector_with_one_clear_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        qb.revoke()
        connector = connector_for(bot)
        handoff_id = await bot.accept(example("create_invoice", call_id=fresh_call_id("dnx")))
        event = Event(EventType.INVOICE_CREATED, handoff_id, "plisio", clock(), {"txn_id": "x"})
        approved = Event(EventType.APPROVED, handoff_id, "U1", clock(), {"approval": 1, "of": 1})
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        notes = "\n".join(bot.thread_texts(await bot.card(handoff_id)))
        assert REVOKED_REASON in notes
        calls = len(qb.calls)
        assert await connector.handle(event, ctx(clock)) == Done()  # no such invoice: nothing
        payload = example("vat_correction", call_id=fresh_call_id("dnx"))
        other = await bot.accept(payload)
        approved = Event(EventType.APPROVED, other, "U1", clock(), {"approval": 1, "of": 1})
        assert await connector.handle(approved, ctx(clock)) == GiveUp(REVOKED_REASON)
        assert await connector.handle(approved, ctx(clock)) == GiveUp(REVOKED_REASON)
        assert len(qb.calls) == calls  # stopped: not even a token call
        lines = [r for r in caplog.records if "revoked" in r.getMessage()]
        assert len(lines) == 2  # once per process (the bot's, and this second instance's)


async def test_an_approved_credit_makes_one_credit_memo(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        payload = example("create_invoice", call_id=fresh_call_id("dnx"), workflow="credit_request")
        payload["billing"] = {"amount": "150.00", "currency": "USD", "credit_request": "outage"}
        handoff_id = await bot.accept(payload)
        connector = connector_for(bot)
        partial = Event(EventType.APPROVED, handoff_id, "U1", clock(), {"approval": 1, "of": 2})
        assert await connector.handle(partial, ctx(clock)) == Done()
        assert not qb.credit_memos
        final = Event(EventType.APPROVED, handoff_id, "U2", clock(), {"approval": 2, "of": 2})
        result = await connector.handle(final, ctx(clock))
        assert isinstance(result, Done) and result.context is not None
        [memo] = qb.credit_memos.values()
        assert memo["TotalAmt"] == 150 and memo["CurrencyRef"]["value"] == "USD"
        assert [link.kind for link in result.links] == ["customer", "credit_memo"]
        assert "creditmemo?txnId=" in str(result.links[1].url)
        assert result.context["lines"] == [f"Credit memo {memo['DocNumber']} · 150.00 USD"]
        # Again on a later try (requestid and the look-up): still one.
        assert isinstance(await connector.handle(final, ctx(clock, attempt=2)), Done)
        assert len(qb.credit_memos) == 1


async def test_an_approved_refund_is_not_booked_as_a_credit_memo(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        payload = example("create_invoice", call_id=fresh_call_id("dnx"), workflow="refund")
        payload["billing"] = {"amount": "150.00", "currency": "USD"}
        handoff_id = await bot.accept(payload)
        final = Event(EventType.APPROVED, handoff_id, "U2", clock(), {"approval": 1, "of": 1})
        assert isinstance(await connector_for(bot).handle(final, ctx(clock)), Done)
        assert not qb.credit_memos


async def test_an_approved_address_correction_updates_bill_addr_and_links_the_tax_place(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        payload = example("vat_correction", call_id=fresh_call_id("dnx"))
        payload["customer"] = {
            **payload["customer"],
            "billing_address": {
                "line1": "12 O'Connell St",
                "city": "Dublin",
                "postal_code": "D01 F5P2",
                "country": "IE",
            },
        }
        handoff_id = await bot.accept(payload)
        connector = connector_for(bot)
        final = Event(EventType.APPROVED, handoff_id, "U1", clock(), {"approval": 1, "of": 1})
        result = await connector.handle(final, ctx(clock))
        assert isinstance(result, Done) and result.context is not None
        [customer] = qb.customers.values()
        assert customer["BillAddr"] == {
            "Line1": "12 O'Connell St",
            "City": "Dublin",
            "PostalCode": "D01 F5P2",
            "Country": "IE",
        }
        assert customer["SyncToken"] == "1"
        lines = "\n".join(result.context["lines"])
        assert "Billing address updated: 12 O'Connell St, Dublin" in lines
        assert f"customerdetail?nameId={customer['Id']}" in lines and "Tax id" in lines


async def test_a_payment_before_its_invoice_step_records_both_once(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        qb.fail_next("invoice", 503)  # the invoice step fails and waits for its retry
        call_id = fresh_call_id("dnx")
        handoff_id = await bot.accept(example("create_invoice", call_id=call_id))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()
        assert not qb.invoices
        txn = bot.plisio.invoices_for_order(call_id)[0].txn_id
        await bot.plisio.set_status(txn, "completed")
        await bot.drain()
        [invoice] = qb.invoices.values()
        [payment] = qb.payments.values()
        assert payment["Line"][0]["LinkedTxn"][0]["TxnId"] == invoice["Id"]
        await _retry(bot, clock)  # the invoice step's retry: the same invoice, not a second
        assert len(qb.invoices) == 1 and len(qb.payments) == 1
        shown = text(bot.message(await bot.card(handoff_id)))
        assert f"Invoice {invoice['DocNumber']}" in shown and "Payment recorded" in shown
