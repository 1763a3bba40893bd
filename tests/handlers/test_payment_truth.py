"""Payment truth, end to end: signed Plisio callbacks POSTed to /plisio/callback and signed Slack
clicks through the real app, against the fake Slack and the fake Plisio.

Issue #11 items 3, 4 (the Plisio part) and 8: what the bot believes and shows about money.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from blocks.ids import ActionId, BlockId, CallbackId, InputId
from connectors.plisio import sign_json_callback
from sandbox.slack_state import Demo
from services.db.models import AuditEntry, InvoiceRow, OutboxItem
from services.states import HandoffStatus
from tests.support.clock import FakeClock
from tests.support.examples import example
from tests.support.harness import PLISIO_KEY, Harness, running_bot

ORDER = "dnx_call_INV2041"  # the create_invoice example: 4,200.00 USD


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, clock=clock) as harness:
        yield harness


async def invoiced(bot: Harness) -> tuple[str, str]:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.invoice is not None and card.invoice.txn_id
    return handoff_id, card.invoice.txn_id


def fields(txn_id: str, status: str, **extra: str) -> dict[str, str]:
    """A callback as Plisio sends it for the 4,200.00 USD invoice, paid in USDT at 1:1."""
    return {
        "txn_id": txn_id,
        "ipn_type": "invoice",
        "merchant": "Sandbox shop",
        "merchant_id": "5d09fcd84f1e66138d706ed8",
        "order_number": ORDER,
        "order_name": "Invoice for Harbor & Finch LLC",
        "amount": "4200.000000",
        "currency": "USDT",
        "psys_cid": "USDT",
        "source_amount": "4200.00",
        "source_currency": "USD",
        "source_rate": "1.000000",
        "confirmations": "3",
        "status": status,
        "invoice_total_sum": "4200.000000",
        "comment": "",
        **extra,
    }


async def post(bot: Harness, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    signed = {**body, "verify_hash": sign_json_callback(body, PLISIO_KEY)}
    response = await bot.client.post("/plisio/callback?json=true", json=signed)
    return response.status, await response.json()


def text_of(message: Any) -> str:
    return message.text + json.dumps(message.blocks or [], ensure_ascii=False)


def buttons(message: Any) -> list[str]:
    return [
        element["action_id"]
        for block in message.blocks or []
        if block.get("block_id") == BlockId.DECISIONS
        for element in block["elements"]
    ]


async def audit_actions(bot: Harness, handoff_id: str | None = None) -> list[str]:
    async with bot.deps.db.sessions() as session:
        query = select(AuditEntry.action).order_by(AuditEntry.id)
        if handoff_id is not None:
            query = query.where(AuditEntry.handoff_id == handoff_id)
        return list((await session.scalars(query)).all())


async def invoice_rows(bot: Harness) -> list[InvoiceRow]:
    async with bot.deps.db.sessions() as session:
        return list((await session.scalars(select(InvoiceRow).order_by(InvoiceRow.id))).all())


# ---- item 3: a mismatch is not "Paid" -------------------------------------------------------


async def test_underpaid_mismatch_shows_expected_and_received_and_is_not_paid(
    bot: Harness,
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    status, body = await post(bot, fields(txn_id, "mismatch", amount="3900.000000"))
    assert (status, body["outcome"]) == (200, "updated")
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert card.invoice is not None and not card.invoice.paid
    message = bot.message(card)
    shown = text_of(message)
    assert "Underpaid:* expected 4,200.00 USDT, received 3,900.00 USDT" in shown
    assert "Paid ✅" not in shown and "Unpaid" not in shown
    assert message.text.startswith("Underpaid")
    assert buttons(message)[:1] == [ActionId.REISSUE] and ActionId.DONE in buttons(message)
    await bot.drain()  # the note is posted by the worker, after Plisio got its answer
    assert any("underpaid — expected 4200.000000 USDT" in t for t in bot.thread_texts(card))


async def test_completed_but_short_is_treated_as_underpaid(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "completed", amount="4199.990000"))
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert card.invoice is not None and card.invoice.payment_state == "underpaid"
    assert "Underpaid:* expected 4,200.00 USDT, received 4,199.99 USDT" in text_of(
        bot.message(card)
    )


async def test_overpaid_mismatch_is_paid_and_flagged_for_review(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "mismatch", amount="4300.000000"))
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PAID
    shown = text_of(bot.message(card))
    assert "✅ *Paid* 4,200.00 USD on <" in shown
    assert shown.startswith("Overpaid — check · Create invoice")
    assert "Overpaid: expected 4,200.00 USDT, received 4,300.00 USDT" in shown


async def test_paid_invoice_no_longer_shows_the_call_time_unpaid(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    assert "Payment status on the call*\\nUnpaid" in text_of(
        bot.message(await bot.card(handoff_id))
    )
    await post(bot, fields(txn_id, "completed"))
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PAID
    shown = text_of(bot.message(card))
    assert "Unpaid" not in shown
    assert "Payment status (Plisio)*\\nPaid" in shown


async def test_without_a_total_the_received_amount_is_valued_at_plisios_rate(
    bot: Harness,
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    short = fields(txn_id, "completed", amount="0.070000", currency="BTC", psys_cid="BTC")
    short.pop("invoice_total_sum")
    short["source_rate"] = "60000.00"  # 0.07 BTC = 4,200.00 USD
    await post(bot, {**short, "amount": "0.069000"})
    card = await bot.card(handoff_id)
    assert card.invoice is not None and card.invoice.payment_state == "underpaid"
    assert "expected 4,200.00 USD, received 4,140.00 USD" in text_of(bot.message(card))
    await post(bot, short)
    assert (await bot.card(handoff_id)).status is HandoffStatus.PAID


# ---- item 3: every callback is cross-checked against the stored invoice ----------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"source_currency": "EUR"}, "in EUR, but it was issued in USD"),
        ({"source_amount": "42.00"}, "total of 42.00 USD, but it was issued for 4200.00 USD"),
    ],
)
async def test_currency_or_total_unlike_the_invoice_is_never_paid(
    bot: Harness, change: dict[str, str], reason: str
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    status, _ = await post(bot, fields(txn_id, "completed", **change))
    assert status == 200
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert card.invoice is not None and not card.invoice.paid
    shown = text_of(bot.message(card))
    assert "Payment needs review" in shown and reason in shown
    assert "*Paid*" not in shown


async def test_txn_id_of_another_order_is_refused_and_changes_nothing(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    before = await audit_actions(bot, handoff_id)
    status, body = await post(bot, fields(txn_id, "completed", order_number="dnx_call_OTHER"))
    assert status == 409
    assert body["field"] == "order_number" and "dnx_call_OTHER" in body["message"]
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED and card.invoice is not None
    assert card.invoice.status == "new"
    assert await audit_actions(bot, handoff_id) == [*before, "callback_conflict"]


async def test_a_switched_invoice_id_for_the_same_order_still_counts(bot: Harness) -> None:
    # Plisio issues a new id when the payer switches coin; the order number stays the order's.
    handoff_id, txn_id = await invoiced(bot)
    status, body = await post(bot, fields("f" * 24, "completed"))
    assert (status, body["outcome"]) == (200, "updated")
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PAID
    assert card.invoice is not None and card.invoice.txn_id == txn_id
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    assert trail[-1].detail["txn_id"] == "f" * 24
    assert trail[-1].detail["invoice_txn_id"] == txn_id


async def test_replayed_pending_after_expired_or_completed_changes_nothing(
    bot: Harness,
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "expired", amount="0"))
    card = await bot.card(handoff_id)
    notes = len(bot.thread_texts(card))
    status, body = await post(bot, fields(txn_id, "pending", amount="0"))
    assert (status, body["outcome"]) == (200, "out_of_order")
    card = await bot.card(handoff_id)
    assert card.invoice is not None and card.invoice.status == "expired"
    assert "Expired" in text_of(bot.message(card))
    assert len(bot.thread_texts(card)) == notes
    assert (await audit_actions(bot, handoff_id))[-1] == "status_out_of_order"

    handoff_2 = await bot.accept(example("create_invoice", call_id="dnx_call_INV2042"))
    await bot.approve(Demo.APPROVER_1, handoff_2)
    await bot.drain()
    txn_2 = (await bot.card(handoff_2)).invoice.txn_id  # type: ignore[union-attr]
    assert txn_2 is not None
    paid = fields(txn_2, "completed", order_number="dnx_call_INV2042")
    await post(bot, paid)
    status, body = await post(bot, {**paid, "status": "pending"})
    assert (status, body["outcome"]) == (200, "regression")
    assert (await bot.card(handoff_2)).status is HandoffStatus.PAID
    assert (await audit_actions(bot, handoff_2))[-1] == "status_regression"


async def test_unknown_status_is_shown_as_it_came(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    status, body = await post(bot, fields(txn_id, "on hold <b>", amount="0"))
    assert (status, body["outcome"]) == (200, "updated")
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    # In words on the message; Plisio's own code only in the context line, for the lookup.
    shown = text_of(bot.message(card))
    assert "*Unrecognised payment status* on <" in shown
    assert "Plisio status code: on hold &lt;b&gt;" in shown


# ---- item 3: Reissue ------------------------------------------------------------------------


async def test_expired_invoice_is_reissued_once_with_a_new_order_number(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "expired", amount="0"))
    message = bot.message(await bot.card(handoff_id))
    assert ActionId.REISSUE in buttons(message)

    # An outsider's click is refused and changes nothing.
    await bot.click(Demo.OUTSIDER, ActionId.REISSUE, handoff_id)
    assert "approver" in bot.ephemerals_for(Demo.OUTSIDER)[-1].lower()
    assert len(await invoice_rows(bot)) == 1

    # Two approvers at once: one new invoice, the other is told who reissued it.
    responses = await asyncio.gather(
        bot.click(Demo.APPROVER_1, ActionId.REISSUE, handoff_id),
        bot.click(Demo.APPROVER_2, ActionId.REISSUE, handoff_id),
    )
    assert {r.status for r in responses} == {200}
    await bot.drain()
    rows = await invoice_rows(bot)
    assert [r.order_number for r in rows] == [ORDER, f"{ORDER}-r2"]
    assert rows[0].superseded_at is not None and rows[0].txn_id == txn_id
    assert len(bot.plisio.invoices_for_order(f"{ORDER}-r2")) == 1
    told = bot.ephemerals_for(Demo.APPROVER_1) + bot.ephemerals_for(Demo.APPROVER_2)
    assert len(told) == 1 and "Already reissued by" in told[0]

    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert card.invoice is not None and card.invoice.order_number == f"{ORDER}-r2"
    new = bot.plisio.invoices_for_order(f"{ORDER}-r2")[0]
    shown = text_of(bot.message(card))
    assert "Awaiting payment" in shown and f"Plisio invoice `{new.txn_id}`" in shown
    old_url = bot.plisio.invoices[txn_id].invoice_url
    assert f"Replaced: <{old_url}|an earlier invoice> (Expired)" in shown
    assert ActionId.REISSUE not in buttons(bot.message(card))
    thread = bot.thread_texts(card)
    assert any("reissued the Plisio invoice" in t and txn_id in t for t in thread)
    assert any(new.invoice_url in t for t in thread if "Plisio invoice created" in t)
    trail = await bot.deps.handoffs.audit_trail(handoff_id)
    reissued = [e for e in trail if e.action == "reissued"]
    assert len(reissued) == 1
    assert reissued[0].detail["previous_txn_id"] == txn_id
    assert reissued[0].detail["order_number"] == f"{ORDER}-r2"

    # The new invoice is paid: the handoff is paid.
    await post(bot, fields(new.txn_id, "completed", order_number=f"{ORDER}-r2"))
    assert (await bot.card(handoff_id)).status is HandoffStatus.PAID


async def test_underpaid_and_cancelled_invoices_offer_reissue_but_awaiting_does_not(
    bot: Harness,
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await bot.click(Demo.APPROVER_1, ActionId.REISSUE, handoff_id)  # nothing to reissue yet
    assert "nothing to reissue" in bot.ephemerals_for(Demo.APPROVER_1)[-1]
    assert len(await invoice_rows(bot)) == 1
    await post(bot, fields(txn_id, "cancelled", amount="0"))
    assert ActionId.REISSUE in buttons(bot.message(await bot.card(handoff_id)))


async def test_reissue_after_an_unknown_outcome_finds_the_order_instead_of_creating_twice(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "mismatch", amount="100.000000"))
    bot.plisio.fail_next(1, 502, after_commit=True)  # Plisio made -r2, but we saw a 502
    await bot.click(Demo.APPROVER_1, ActionId.REISSUE, handoff_id)
    await bot.drain()
    clock.advance(minutes=5)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert len(bot.plisio.invoices_for_order(f"{ORDER}-r2")) == 1
    searched = [r for r in bot.plisio.requests if r.path.endswith("/operations")]
    assert searched and searched[-1].params["search"] == f"{ORDER}-r2"
    # Recovered from /operations, which carries no invoice_url: the link is built from txn_id.
    new = bot.plisio.invoices_for_order(f"{ORDER}-r2")[0]
    assert card.invoice is not None and card.invoice.url == new.invoice_url


# ---- item 4: whatever Plisio refuses ends visibly failed, never a spinner -------------------


async def test_plisio_4xx_on_create_fails_at_once_with_reason_retry_and_decline(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.plisio.fail_next(1, 422)
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    message = bot.message(card)
    assert "Invoice failed:* Plisio GET /invoices/new: Injected failure" in text_of(message)
    assert "Creating" not in text_of(message)
    assert buttons(message)[:2] == [ActionId.RETRY, ActionId.DECLINE]
    creates = [r for r in bot.plisio.requests if r.path.endswith("/invoices/new")]
    assert len(creates) == 1  # a permanent refusal is not retried
    async with bot.deps.db.sessions() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.kind == "create_invoice"))
    assert item is not None and item.status == "failed"
    for _ in range(3):
        clock.advance(minutes=30)
        await bot.drain()
    assert len([r for r in bot.plisio.requests if r.path.endswith("/invoices/new")]) == 1

    # Decline from the failed state closes it.
    await bot.click(Demo.APPROVER_1, ActionId.DECLINE, handoff_id)
    reason = {
        BlockId.REASON.value: {
            InputId.REASON.value: {"type": "plain_text_input", "value": "Wrong currency"}
        }
    }
    await bot.submit(Demo.APPROVER_1, CallbackId.DECLINE_MODAL, handoff_id, reason)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.DECLINED
    assert buttons(bot.message(card)) == []


async def test_an_amount_plisio_cannot_take_fails_visibly_without_calling_it(
    bot: Harness,
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    async with bot.deps.db.sessions() as session, session.begin():
        await session.execute(update(InvoiceRow).values(amount=Decimal("0")))
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    assert "source_amount must be a positive" in text_of(bot.message(card))
    assert not [r for r in bot.plisio.requests if r.path.endswith("/invoices/new")]


async def test_refused_order_lookup_names_the_request_ip_setting(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.plisio.fail_next(1, 500)  # the create: outcome unknown, so the next try looks it up
    bot.plisio.fail_next(1, 403)  # and the lookup is refused (Request IP not allowed)
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    clock.advance(minutes=5)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    assert "Request IP" in text_of(bot.message(card))
    assert bot.plisio.invoices_for_order(ORDER) == []


# ---- item 8: what the paying customer sees --------------------------------------------------


async def test_order_name_is_customer_friendly_and_description_keeps_the_summary(
    bot: Harness,
) -> None:
    await invoiced(bot)
    invoice = bot.plisio.invoices_for_order(ORDER)[0]
    assert invoice.order_name == "Invoice for Harbor & Finch LLC"
    assert ORDER not in invoice.order_name and "Create invoice" not in invoice.order_name
    assert invoice.description is not None
    assert ORDER in invoice.description
    assert "https://app.dialnexa.example/calls/dnx_call_INV2041/transcript" in invoice.description


async def test_python_sdk_signed_callback_is_accepted_through_the_app(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    body = fields(txn_id, "completed")
    # Plisio's Python SDK reading: arrival order, not sorted (see test_callback_variants.py).
    import hashlib
    import hmac

    message = json.dumps(body, separators=(",", ":"))
    digest = hmac.new(PLISIO_KEY.encode(), message.encode(), hashlib.sha1).hexdigest()
    response = await bot.client.post(
        "/plisio/callback?json=true",
        data=json.dumps({**body, "verify_hash": digest}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200
    assert (await bot.card(handoff_id)).status is HandoffStatus.PAID


async def test_invoice_lists_link_each_invoice_built_from_its_txn_id(bot: Harness) -> None:
    _handoff_id, txn_id = await invoiced(bot)
    _, key = await bot.command(Demo.BILLING_OPS, "/invoice", "ap@harborfinch.example")
    for _ in range(100):
        if bot.slack.responses[key]:
            break
        await asyncio.sleep(0.02)
    listed = json.dumps(bot.slack.responses[key][-1]["blocks"])
    # /operations gave no invoice_url (like Plisio's); the link is {invoice page}/{txn_id}.
    assert f"<{bot.plisio.invoices[txn_id].invoice_url}|{txn_id}>" in listed
    assert bot.plisio.invoices[txn_id].invoice_url.endswith(f"/invoice/{txn_id}")


async def test_a_refused_reissue_fails_visibly_and_retry_creates_that_order_once(
    bot: Harness,
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "expired", amount="0"))
    bot.plisio.fail_next(1, 422)
    await bot.click(Demo.APPROVER_1, ActionId.REISSUE, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    assert buttons(bot.message(card))[:2] == [ActionId.RETRY, ActionId.DECLINE]
    await bot.click(Demo.APPROVER_1, ActionId.RETRY, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert card.invoice is not None and card.invoice.order_number == f"{ORDER}-r2"
    assert len(bot.plisio.invoices_for_order(f"{ORDER}-r2")) == 1
    assert len(bot.plisio.invoices_for_order(ORDER)) == 1


async def test_an_unexpected_error_is_retried_a_few_times_then_shown_as_failed(
    bot: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def broken(**kwargs: Any) -> Any:
        calls.append(kwargs["order_number"])
        raise RuntimeError("the disk is full")

    handoff_id = await bot.accept(example("create_invoice"))
    monkeypatch.setattr(bot.deps.plisio, "create_invoice", broken)
    await bot.approve(Demo.APPROVER_1, handoff_id)
    for _ in range(8):
        await bot.drain()
        clock.advance(minutes=10)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    assert "internal error: the disk is full" in text_of(bot.message(card))
    assert len(calls) == 4  # INVOICE_ATTEMPTS, then it stops


async def test_the_old_invoice_paid_after_a_reissue_is_shown_as_the_paid_one(
    bot: Harness,
) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post(bot, fields(txn_id, "mismatch", amount="4000.000000"))
    await bot.click(Demo.APPROVER_1, ActionId.REISSUE, handoff_id)
    await bot.drain()
    new = bot.plisio.invoices_for_order(f"{ORDER}-r2")[0]
    # The customer pays the rest on the old invoice after all.
    await post(bot, fields(txn_id, "completed", amount="4200.000000"))
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PAID
    assert card.invoice is not None and card.invoice.txn_id == txn_id
    shown = text_of(bot.message(card))
    paid_url = bot.plisio.invoices[txn_id].invoice_url
    assert f"<{paid_url}|the invoice>" in shown.split("✅ *Paid*")[1].split("\\n")[0]
    assert f"Also issued: <{new.invoice_url}|a newer invoice>" in shown


async def test_a_missing_invoice_record_fails_visibly_instead_of_spinning(bot: Harness) -> None:
    from sqlalchemy import delete

    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    async with bot.deps.db.sessions() as session, session.begin():
        await session.execute(delete(InvoiceRow))
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.ACTION_FAILED
    assert "Creating" not in text_of(bot.message(card))
    assert bot.plisio.invoices_for_order(ORDER) == []


async def test_a_callback_before_the_invoice_is_recorded_is_not_overwritten(
    bot: Harness, clock: FakeClock
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    bot.plisio.fail_next(1, 502, after_commit=True)  # made in Plisio; we saw a 502
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    made = bot.plisio.invoices_for_order(ORDER)[0]
    status, body = await post(bot, fields(made.txn_id, "pending", amount="0"))
    assert (status, body["outcome"]) == (200, "updated")
    clock.advance(minutes=5)
    await bot.drain()  # the retry finds the order (status "new" in its listing)
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.INVOICED
    assert card.invoice is not None
    assert (card.invoice.txn_id, card.invoice.status) == (made.txn_id, "pending")
    assert len(bot.plisio.invoices_for_order(ORDER)) == 1
