"""Call IDs belong to DialNexa; /invoice new requests live in their own ID space (issue #11 item 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from blocks.ids import CallbackId, InvoiceField
from handlers.commands import NO_SUCH_CALL
from sandbox.slack_state import Demo
from services.db.models import HandoffRow
from tests.support.examples import example
from tests.support.harness import Harness, running_bot
from tests.support.slack import view_submission

CALL = "dnx_call_INV2041"  # examples/handoffs/create_invoice.json


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


def form(call_id: str = "") -> dict[str, Any]:
    def text(field: InvoiceField, value: str) -> tuple[str, dict[str, Any]]:
        return field.value, {f"{field.value}_input": {"type": "plain_text_input", "value": value}}

    values = dict(
        [
            text(InvoiceField.EMAIL, "dana@example.com"),
            text(InvoiceField.AMOUNT, "250.00"),
            text(InvoiceField.DESCRIPTION, "Setup fee"),
            text(InvoiceField.CALL_ID, call_id),
        ]
    )
    values[InvoiceField.CURRENCY.value] = {
        f"{InvoiceField.CURRENCY.value}_input": {
            "type": "static_select",
            "selected_option": {"value": "USD"},
        }
    }
    return values


async def submit(bot: Harness, values: dict[str, Any]) -> Any:
    return await bot.slack_post(
        view_submission(
            user=Demo.BILLING_OPS,
            callback_id=CallbackId.INVOICE_NEW_MODAL,
            private_metadata="",
            values=values,
        )
    )


async def rows(bot: Harness) -> list[HandoffRow]:
    async with bot.deps.db.sessions() as session:
        return list(await session.scalars(select(HandoffRow).order_by(HandoffRow.created_at)))


async def test_a_request_naming_a_future_call_is_refused_and_dialnexa_keeps_the_id(
    bot: Harness,
) -> None:
    # Before: the request claimed the ID and DialNexa's real handoff was answered "duplicate".
    response = await submit(bot, form(CALL))
    answer = await response.json()
    assert answer == {
        "response_action": "errors",
        "errors": {InvoiceField.CALL_ID.value: NO_SUCH_CALL},
    }
    assert await rows(bot) == []
    delivered = await bot.deliver(example("create_invoice"))
    assert delivered.status == 202  # a new handoff, not a duplicate
    assert "duplicate" not in await delivered.json()


async def test_a_request_naming_an_existing_call_links_to_it_under_its_own_id(
    bot: Harness,
) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    response = await submit(bot, form(CALL))
    assert response.status == 200 and await response.text() == ""
    await bot.drain()
    stored = await rows(bot)
    assert [r.kind for r in stored] == ["handoff", "request"]
    original, request = stored
    assert original.id == handoff_id and original.call_id == CALL
    assert request.call_id.startswith("slack_req:")
    assert request.payload["affected_record"] == {
        "system": "dialnexa",
        "object": "call",
        "id": CALL,
    }
    # Each has its own Plisio order number, so approving both makes two distinct invoices.
    card = await bot.card(request.id)
    assert card.call_id != original.call_id
    # DialNexa delivering the call again is still its own duplicate, as before.
    again = await bot.deliver(example("create_invoice"))
    assert (await again.json()) == {
        "handoff_id": handoff_id,
        "status": "accepted",
        "duplicate": True,
    }


async def test_requests_without_a_call_id_never_collide(bot: Harness) -> None:
    for _ in range(3):
        assert (await submit(bot, form())).status == 200
    ids = [r.call_id for r in await rows(bot)]
    assert len(set(ids)) == 3 and all(i.startswith("slack_req:") for i in ids)


async def test_dialnexa_cannot_use_the_slack_request_id_space(bot: Harness) -> None:
    response = await bot.deliver(example("create_invoice", call_id="slack_req:0123abcd"))
    assert response.status == 422
    body = await response.json()
    assert [f["field"] for f in body["fields"]] == ["call_id"]
    assert "reserved" in body["fields"][0]["reason"]
    async with bot.deps.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HandoffRow)) == 0
