"""Bad money never gets through: refused at intake (422, field named) and in the /invoice form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from blocks.ids import CallbackId, InvoiceField
from services.db.models import AuditEntry, HandoffRow, OutboxItem
from services.handoff_model import ACCEPTED_CURRENCIES, ISO_4217_CURRENCIES
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.slack import signed_form, view_submission


@pytest.fixture
async def bot(tmp_path: Path) -> Any:
    async with running_bot(tmp_path) as harness:
        yield harness


async def rows(bot: Harness) -> tuple[int, int, int]:
    async with bot.deps.db.sessions() as session:
        counts = [
            int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (HandoffRow, OutboxItem, AuditEntry)
        ]
    return counts[0], counts[1], counts[2]


def with_billing(name: str, **billing: Any) -> dict[str, Any]:
    payload = example(name)
    payload["billing"] = {**payload["billing"], **billing}
    return payload


@pytest.mark.parametrize("amount", ["0", "0.00", "-1", "-4200.00"])
@pytest.mark.parametrize("name", ["create_invoice", "collections_promise", "vip_renewal_blocker"])
async def test_zero_or_negative_amount_on_an_invoice_workflow_is_422(
    bot: Harness, name: str, amount: str
) -> None:
    response = await bot.deliver(with_billing(name, amount=amount))
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "invalid_handoff"
    assert [f["field"] for f in body["fields"]] == ["billing.amount"]
    assert "greater than zero" in body["fields"][0]["reason"]
    assert await rows(bot) == (0, 0, 0)
    await bot.drain()
    assert bot.slack.calls_to("chat.postMessage") == []
    assert bot.plisio.invoices == {}


async def test_inferred_invoice_workflow_is_held_to_the_same_rule(bot: Harness) -> None:
    payload = with_billing("create_invoice", amount="-10.00")
    del payload["workflow"]  # amount + currency and nothing else: inferred create_invoice
    payload["billing"] = {"amount": "-10.00", "currency": "USD"}
    response = await bot.deliver(payload)
    assert response.status == 422
    assert [f["field"] for f in (await response.json())["fields"]] == ["billing.amount"]
    assert await rows(bot) == (0, 0, 0)


async def test_a_refund_may_carry_a_negative_amount(bot: Harness) -> None:
    # A credit owed to the caller: the schema allows the sign and no invoice is made of it.
    response = await bot.deliver(with_billing("refund_with_bank_details", amount="-350.00"))
    assert response.status == 202, await response.text()


@pytest.mark.parametrize("currency", ["ZZZ", "ABCDEFGHIJ", "XXX", "XTS", "USDT_FAKE", "BTC2"])
async def test_unknown_currency_is_422_on_any_workflow(bot: Harness, currency: str) -> None:
    for name in ("create_invoice", "refund_with_bank_details"):
        response = await bot.deliver(with_billing(name, currency=currency))
        assert response.status == 422, name
        body = await response.json()
        assert [f["field"] for f in body["fields"]] == ["billing.currency"]
        assert "ISO 4217" in body["fields"][0]["reason"]
    assert await rows(bot) == (0, 0, 0)


async def test_a_bad_currency_is_named_first_when_the_amount_is_bad_too(bot: Harness) -> None:
    response = await bot.deliver(with_billing("create_invoice", amount="-1", currency="ZZZ"))
    assert response.status == 422
    fields = [f["field"] for f in (await response.json())["fields"]]
    # The schema's refusal comes first; the amount is checked once the handoff parses.
    assert fields == ["billing.currency"]
    assert await rows(bot) == (0, 0, 0)


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", "CHF", "BTC", "USDT", "USDT_TRX", "TON"])
async def test_iso_and_plisio_currencies_are_accepted(bot: Harness, currency: str) -> None:
    response = await bot.deliver(with_billing("create_invoice", currency=currency))
    assert response.status == 202, await response.text()


def test_the_currency_lists_are_the_maintained_ones() -> None:
    assert {"USD", "EUR", "GBP", "JPY", "CHF", "SEK"} <= ISO_4217_CURRENCIES
    assert "XXX" not in ACCEPTED_CURRENCIES and "XTS" not in ACCEPTED_CURRENCIES
    assert len(ISO_4217_CURRENCIES) > 150


# ---- /invoice new ---------------------------------------------------------------------------


def invoice_form(
    *, amount: str = "125.00", currency: str = "USD", call_id: str = ""
) -> dict[str, dict[str, Any]]:
    def text(name: InvoiceField, value: str) -> dict[str, Any]:
        return {name.value: {name.value + "_input": {"type": "plain_text_input", "value": value}}}

    values: dict[str, dict[str, Any]] = {}
    values |= text(InvoiceField.EMAIL, "ap@harborfinch.example")
    values |= text(InvoiceField.AMOUNT, amount)
    values |= text(InvoiceField.DESCRIPTION, "Annual support plan")
    values |= text(InvoiceField.CALL_ID, call_id)
    values[InvoiceField.CURRENCY.value] = {
        InvoiceField.CURRENCY.value + "_input": {
            "type": "static_select",
            "selected_option": {
                "value": currency,
                "text": {"type": "plain_text", "text": currency},
            },
        }
    }
    return values


async def submit_form(bot: Harness, values: dict[str, dict[str, Any]]) -> Any:
    fields = view_submission(
        user="U0ANA",
        callback_id=CallbackId.INVOICE_NEW_MODAL.value,
        private_metadata="",
        values=values,
    )
    body, headers = signed_form(fields, "slack-test-signing-secret")
    return await bot.client.post("/slack/events", data=body, headers=headers)


@pytest.mark.parametrize("amount", ["0", "0.00", "-5", "-0.01"])
async def test_invoice_form_refuses_zero_or_negative_amounts_inline(
    bot: Harness, amount: str
) -> None:
    response = await submit_form(bot, invoice_form(amount=amount))
    assert response.status == 200
    answer = json.loads(await response.text())
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [InvoiceField.AMOUNT.value]
    assert "greater than zero" in answer["errors"][InvoiceField.AMOUNT.value]
    assert await rows(bot) == (0, 0, 0)


@pytest.mark.parametrize("currency", ["ZZZ", "XXX", "usd"])
async def test_invoice_form_refuses_a_currency_it_did_not_offer(
    bot: Harness, currency: str
) -> None:
    response = await submit_form(bot, invoice_form(currency=currency))
    answer = json.loads(await response.text())
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [InvoiceField.CURRENCY.value]
    assert await rows(bot) == (0, 0, 0)


async def test_invoice_form_with_good_money_is_stored(bot: Harness) -> None:
    response = await submit_form(bot, invoice_form())
    assert response.status == 200
    assert (await response.text()) == ""
    assert (await rows(bot))[0] == 1
