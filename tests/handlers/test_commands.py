"""/invoice and /handoff, dispatched through the real app with signed bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from blocks.ids import ActionId, CallbackId, InvoiceField
from sandbox.slack_state import Demo
from services.states import HandoffStatus
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.slack import view_submission


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def responses(bot: Harness, key: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(100):
        if len(bot.slack.responses[key]) >= count:
            break
        await asyncio.sleep(0.02)
    return bot.slack.responses[key]


def seed(bot: Harness, email: str, n: int) -> None:
    for i in range(n):
        bot.plisio.add_invoice(
            order_number=f"order-{email}-{i}",
            order_name=f"Order {i}",
            source_amount=Decimal("100.00") + i,
            source_currency="USD",
            email=email,
        )


async def test_invoice_lookup_lists_the_customers_invoices(bot: Harness) -> None:
    seed(bot, "dana@example.com", 3)
    seed(bot, "someone-else@example.com", 2)
    response, key = await bot.command(Demo.BILLING_OPS, "/invoice", "Dana@Example.com")
    assert response.status == 200
    answer = (await responses(bot, key))[-1]
    assert answer["response_type"] == "ephemeral"
    text = str(answer["blocks"])
    assert text.count("order-dana@example.com-") == 3
    assert "someone-else" not in text


async def test_invoice_lookup_caps_at_ten_with_a_more_note(bot: Harness) -> None:
    seed(bot, "big@example.com", 13)
    _, key = await bot.command(Demo.BILLING_OPS, "/invoice", "big@example.com")
    answer = (await responses(bot, key))[-1]
    text = str(answer["blocks"])
    assert text.count("order-big@example.com-") == 10
    assert "3 more in Plisio" in text


async def test_invoice_lookup_miss_and_bad_email_and_plisio_down(bot: Harness) -> None:
    _, key = await bot.command(Demo.BILLING_OPS, "/invoice", "nobody@example.com")
    assert "No Plisio invoices" in (await responses(bot, key))[-1]["text"]
    bad, _ = await bot.command(Demo.BILLING_OPS, "/invoice", "not-an-email")
    body = await bad.json()
    assert "not an email" in body["text"]
    assert "/invoice new" in body["text"]
    bot.plisio.down = True
    _, key = await bot.command(Demo.BILLING_OPS, "/invoice", "dana@example.com")
    assert "did not answer" in (await responses(bot, key))[-1]["text"]


async def test_bare_invoice_and_help_show_usage(bot: Harness) -> None:
    for text in ("", "help"):
        response, _ = await bot.command(Demo.BILLING_OPS, "/invoice", text)
        assert "/invoice someone@example.com" in (await response.json())["text"]


async def test_handoff_command_shows_state_and_audit_trail(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    await bot.drain()
    _, key = await bot.command(Demo.BILLING_OPS, "/handoff", "dnx_call_INV2041")
    answer = (await responses(bot, key))[-1]
    text = str(answer["blocks"])
    assert "awaiting payment" in text
    assert "received" in text and "approved" in text and "invoice_created" in text
    assert "permalink" in text or "slack" in text.lower()
    _, key = await bot.command(Demo.BILLING_OPS, "/handoff", "dnx_missing")
    assert "No handoff found" in (await responses(bot, key))[-1]["text"]


def form(
    email: str, amount: str, currency: str, description: str, call_id: str = ""
) -> dict[str, Any]:
    def text(field: InvoiceField, value: str) -> tuple[str, dict[str, Any]]:
        return field.value, {
            f"{field.value}_input": {"type": "plain_text_input", "value": value or None}
        }

    values = dict(
        [
            text(InvoiceField.EMAIL, email),
            text(InvoiceField.AMOUNT, amount),
            text(InvoiceField.DESCRIPTION, description),
            text(InvoiceField.CALL_ID, call_id),
        ]
    )
    values[InvoiceField.CURRENCY.value] = {
        f"{InvoiceField.CURRENCY.value}_input": {
            "type": "static_select",
            "selected_option": {"value": currency},
        }
    }
    return values


async def submit_form(bot: Harness, user: str, values: dict[str, Any]) -> Any:
    return await bot.slack_post(
        view_submission(
            user=user, callback_id=CallbackId.INVOICE_NEW_MODAL, private_metadata="", values=values
        )
    )


async def test_invoice_new_opens_the_form(bot: Harness) -> None:
    await bot.command(Demo.BILLING_OPS, "/invoice", "new")
    opened = [c for c in bot.slack.calls_to("views.open") if c.ok]
    assert opened[-1].args["view"]["callback_id"] == CallbackId.INVOICE_NEW_MODAL


async def test_invoice_form_shows_inline_errors(bot: Harness) -> None:
    response = await submit_form(bot, Demo.BILLING_OPS, form("nope", "-5", "XXX", "", "bad id!"))
    body = await response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {field.value for field in InvoiceField}
    response = await submit_form(bot, Demo.BILLING_OPS, form("a@b.example", "10.123", "USD", "x"))
    assert set((await response.json())["errors"]) == {InvoiceField.AMOUNT.value}


async def test_invoice_request_is_approved_end_to_end_once(bot: Harness) -> None:
    response = await submit_form(
        bot,
        Demo.BILLING_OPS,
        form("dana@example.com", "1,250.00", "EUR", "Consulting, November", "req_call_1"),
    )
    assert response.status == 200
    await bot.drain()
    card = await bot.deps.handoffs.card_by_call("req_call_1")
    assert card is not None and card.message_ts is not None
    assert card.requested_by == Demo.BILLING_OPS
    # The requester may not approve their own request, even as an approver would.
    await bot.click(Demo.BILLING_OPS, ActionId.APPROVE, card.handoff_id)
    assert (await bot.card(card.handoff_id)).status is HandoffStatus.OPEN
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, card.handoff_id)
    await bot.drain()
    assert (await bot.card(card.handoff_id)).status is HandoffStatus.INVOICED
    invoices = bot.plisio.invoices_for_order("req_call_1")
    assert len(invoices) == 1
    assert invoices[0].source_amount == Decimal("1250.00")
    assert invoices[0].source_currency == "EUR"
    assert invoices[0].email == "dana@example.com"


async def test_requester_who_is_an_approver_still_cannot_self_approve(bot: Harness) -> None:
    await submit_form(
        bot, Demo.APPROVER_1, form("dana@example.com", "100", "USD", "Test", "req_call_2")
    )
    await bot.drain()
    card = await bot.deps.handoffs.card_by_call("req_call_2")
    assert card is not None
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, card.handoff_id)
    assert (await bot.card(card.handoff_id)).status is HandoffStatus.OPEN
    assert any("someone else" in t.lower() for t in bot.ephemerals_for(Demo.APPROVER_1))
