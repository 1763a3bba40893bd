"""Every executed refund is booked in QuickBooks as one RefundReceipt: Stripe's refunds when they
succeed, manual (crypto) refunds when an approver marks them done."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.base import Done, GiveUp
from connectors.quickbooks.client import request_id
from connectors.quickbooks.connector import NO_BANK_ACCOUNT
from sandbox.quickbooks import FakeQuickBooks
from services.events import Event, EventType
from services.refunds import RefundStatus, RefundSystem
from tests.connectors.quickbooks.support import (
    CLIENT,
    REALM,
    SECRET,
    SEED,
    add_refund,
    connector_for,
    ctx,
    mark_refunded,
    qb_bot,
    text,
)
from tests.support.clock import FakeClock
from tests.support.examples import example, fresh_call_id
from tests.support.harness import Harness


async def _refund_handoff(
    bot: Harness, *, amount: str = "150.00", currency: str = "USD", email: str | None = None
) -> tuple[str, str]:
    call_id = fresh_call_id("dnx_ref")
    payload = example("create_invoice", call_id=call_id, workflow="refund")
    payload["billing"] = {"amount": amount, "currency": currency, "payment_id": "ch_3PqR"}
    if email is not None:
        payload["customer"] = {**payload["customer"], "email": email, "name": email}
    return await bot.accept(payload), call_id


async def _stripe_refunded(bot: Harness, handoff_id: str, refund_id: str = "re_3PqRxyz") -> None:
    """Stripe reported the refund succeeded (through the ledger, as the Stripe connector does)."""
    changed = await bot.deps.connectors.refunds.record_outcome(
        handoff_id, RefundStatus.SUCCEEDED, external_id=refund_id
    )
    assert changed


def _receipt_posts(qb: FakeQuickBooks) -> list[Any]:
    return [c for c in qb.calls if c.method == "POST" and c.path.endswith("/refundreceipt")]


async def test_a_stripe_refund_is_booked_as_one_refund_receipt_and_linked_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        handoff_id, call_id = await _refund_handoff(bot)
        key = await add_refund(bot, handoff_id, payment_ref="ch_3PqRstripeCharge")
        await _stripe_refunded(bot, handoff_id, "re_3PqRxyz")
        await bot.drain()

        [customer] = qb.customers.values()
        [receipt] = qb.refund_receipts.values()
        assert receipt["CustomerRef"] == {"value": customer["Id"]}
        assert receipt["TotalAmt"] == Decimal("150.00")
        assert receipt["CurrencyRef"]["value"] == "USD"
        [line] = receipt["Line"]
        assert line["DetailType"] == "SalesItemLineDetail" and line["Amount"] == Decimal("150")
        assert line["SalesItemLineDetail"]["UnitPrice"] == Decimal("150")
        assert "Refund via Stripe" in line["Description"]
        # Paid out of the company's Bank account, not Undeposited Funds.
        assert receipt["DepositToAccountRef"]["value"] == "35"
        note = receipt["PrivateNote"]
        assert call_id in note and key in note
        assert "ch_3PqRstripeCharge" in note and "re_3PqRxyz" in note
        [post] = _receipt_posts(qb)
        assert post.params["requestid"] == request_id(call_id, "refund_receipt")
        assert post.params["minorversion"]

        card = await bot.card(handoff_id)
        shown = text(bot.message(card))
        assert f"Refund receipt {receipt['DocNumber']} · 150.00 USD" in shown
        notes = "\n".join(bot.thread_texts(card))
        assert notes.count(f"refundreceipt?txnId={receipt['Id']}") == 1

        # The same outcome delivered again (a second event): nothing more is written.
        again = Event(EventType.REFUND_SUCCEEDED, handoff_id, "stripe", clock(), {})
        assert isinstance(await connector_for(bot).handle(again, ctx(clock, 2)), Done)
        assert len(qb.refund_receipts) == 1 and len(_receipt_posts(qb)) == 1


async def test_a_marked_manual_refund_is_booked_as_one_refund_receipt(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        handoff_id, call_id = await _refund_handoff(bot, amount="80.00")
        await add_refund(
            bot,
            handoff_id,
            system=RefundSystem.MANUAL,
            status=RefundStatus.MANUAL,
            amount="80.00",
            payment_ref="plisio_txn_66f0",
        )
        await mark_refunded(bot, handoff_id, note="sent 80 USDT back from the hot wallet")
        await bot.drain()

        [receipt] = qb.refund_receipts.values()
        assert receipt["TotalAmt"] == Decimal("80.00")
        assert receipt["CurrencyRef"]["value"] == "USD"
        assert "Refund paid by hand" in receipt["Line"][0]["Description"]
        assert call_id in receipt["PrivateNote"] and "plisio_txn_66f0" in receipt["PrivateNote"]
        assert "Stripe" not in receipt["PrivateNote"]
        assert "hot wallet" not in receipt["PrivateNote"]  # the approver's note stays in Slack
        shown = text(bot.message(await bot.card(handoff_id)))
        assert f"Refund receipt {receipt['DocNumber']} · 80.00 USD" in shown


async def test_the_refund_amount_is_rounded_to_its_currency(tmp_path: Path) -> None:
    clock = FakeClock()
    double = FakeQuickBooks(
        CLIENT, SECRET, REALM, refresh_token=SEED, home_currency="JPY", currencies={"USD"}
    )
    async with qb_bot(tmp_path, clock, double) as (bot, qb):
        handoff_id, _ = await _refund_handoff(bot, amount="12000", currency="JPY")
        await add_refund(bot, handoff_id, amount="12000.4", currency="JPY")
        await _stripe_refunded(bot, handoff_id)
        await bot.drain()
        [receipt] = qb.refund_receipts.values()
        assert receipt["CurrencyRef"]["value"] == "JPY"
        assert receipt["Line"][0]["Amount"] == Decimal("12000")
        assert receipt["TotalAmt"] == Decimal("12000")
        shown = text(bot.message(await bot.card(handoff_id)))
        assert "Refund receipt" in shown and "12,000 JPY" in shown


async def test_a_lost_answer_then_a_retry_makes_one_refund_receipt(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        handoff_id, _ = await _refund_handoff(bot)
        await add_refund(bot, handoff_id)
        qb.drop_next("refundreceipt")  # written, then the connection closes
        await _stripe_refunded(bot, handoff_id)
        await bot.drain()
        assert len(qb.refund_receipts) == 1
        assert "Refund receipt" not in text(bot.message(await bot.card(handoff_id)))

        clock.advance(seconds=61)
        await bot.drain()
        assert len(qb.refund_receipts) == 1
        # The retry looked for it by its PrivateNote first, and found it: no second write.
        assert any("from RefundReceipt" in c.params.get("query", "") for c in qb.calls)
        assert len(_receipt_posts(qb)) == 1
        assert "Refund receipt" in text(bot.message(await bot.card(handoff_id)))


async def test_a_retry_after_quickbooks_forgot_the_requestid_finds_the_receipt_by_its_note(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        handoff_id, _ = await _refund_handoff(bot)
        await add_refund(bot, handoff_id)
        connector = connector_for(bot)
        event = Event(EventType.REFUND_SUCCEEDED, handoff_id, "stripe", clock(), {})
        qb.fail_next("refundreceipt", 503, after=True)  # written, the bot hears 503
        assert not isinstance(await connector.handle(event, ctx(clock)), Done)
        # Intuit keeps requestids for a limited time; the look-up must not depend on them.
        state = qb.dump()
        state["requests"] = {}
        qb.load(state)
        result = await connector.handle(event, ctx(clock, attempt=2))
        assert isinstance(result, Done)
        [receipt] = qb.refund_receipts.values()
        assert [link.kind for link in result.links] == ["customer", "refund_receipt"]
        assert result.links[1].external_id == receipt["Id"]
        assert len(_receipt_posts(qb)) == 1


async def test_without_a_bank_account_nothing_is_booked_and_the_thread_says_why(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        qb.accounts = {k: a for k, a in qb.accounts.items() if a["AccountType"] != "Bank"}
        handoff_id, _ = await _refund_handoff(bot)
        await add_refund(bot, handoff_id)
        event = Event(EventType.REFUND_SUCCEEDED, handoff_id, "stripe", clock(), {})
        assert await connector_for(bot).handle(event, ctx(clock)) == GiveUp(NO_BANK_ACCOUNT)
        await _stripe_refunded(bot, handoff_id)
        await bot.drain()
        assert not qb.refund_receipts
        notes = "\n".join(bot.thread_texts(await bot.card(handoff_id)))
        assert "no active Bank account" in notes


async def test_the_bank_account_is_looked_up_once_or_taken_from_the_setting(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        for email in ("a@refunds.example", "b@refunds.example"):
            handoff_id, _ = await _refund_handoff(bot, email=email)
            await add_refund(bot, handoff_id)
            await _stripe_refunded(bot, handoff_id)
            await bot.drain()
        assert len(qb.refund_receipts) == 2
        lookups = [c for c in qb.calls if "from Account" in c.params.get("query", "")]
        assert len(lookups) == 1

    double = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED)
    savings = {**double.accounts["35"], "Id": "36", "Name": "Savings", "AccountSubType": "Savings"}
    double.accounts["36"] = savings
    (tmp_path / "setting").mkdir()
    async with qb_bot(tmp_path / "setting", clock, double, quickbooks_refund_account_id="36") as (
        bot,
        qb,
    ):
        handoff_id, _ = await _refund_handoff(bot)
        await add_refund(bot, handoff_id)
        await _stripe_refunded(bot, handoff_id)
        await bot.drain()
        [receipt] = qb.refund_receipts.values()
        assert receipt["DepositToAccountRef"] == {"value": "36", "name": "Savings"}
        assert not [c for c in qb.calls if "from Account" in c.params.get("query", "")]
