"""Plisio's signed status callbacks, through the real app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from connectors.plisio import sign_form_callback, sign_json_callback
from sandbox.slack_state import Demo
from services.db.models import AuditEntry, InvoiceRow
from services.states import HandoffStatus
from tests.support.examples import example
from tests.support.harness import PLISIO_KEY, Harness, running_bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


async def invoiced(bot: Harness) -> tuple[str, str]:
    handoff_id = await bot.accept(example("create_invoice"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    card = await bot.card(handoff_id)
    assert card.invoice is not None and card.invoice.txn_id
    return handoff_id, card.invoice.txn_id


def callback_fields(txn_id: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "txn_id": txn_id,
        "ipn_type": "invoice",
        "merchant": "Sandbox shop",
        "merchant_id": "5d09fcd84f1e66138d706ed8",
        "order_number": "dnx_call_INV2041",
        "order_name": "Create invoice dnx_call_INV2041",
        "amount": "4200.000000",
        "currency": "USDT",
        "source_amount": "4200.00",
        "source_currency": "USD",
        "source_rate": "1.000000",
        "confirmations": "3",
        "status": status,
        "comment": "",
        **extra,
    }


async def post_json(
    bot: Harness, fields: dict[str, str], *, key: str = PLISIO_KEY
) -> tuple[int, dict[str, object]]:
    body = {**fields, "verify_hash": sign_json_callback(fields, key)}
    response = await bot.client.post("/plisio/callback?json=true", json=body)
    return response.status, await response.json()


async def post_form(bot: Harness, fields: dict[str, str]) -> int:
    body = urlencode({**fields, "verify_hash": sign_form_callback(fields, PLISIO_KEY)})
    response = await bot.client.post(
        "/plisio/callback", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return response.status


async def audit_count(bot: Harness) -> int:
    async with bot.deps.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def test_paid_callback_updates_message_and_thread(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    status, body = await post_json(bot, callback_fields(txn_id, "completed"))
    assert (status, body["outcome"]) == (200, "updated")
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PAID
    assert card.invoice is not None and card.invoice.paid
    message = bot.message(card)
    assert "Paid" in message.text + json.dumps(message.blocks)  # before Plisio got its answer
    # The thread's note is queued with the payment and posted by the worker at the thread's
    # pace: Plisio's answer never waits for it.
    assert not any("paid" in t.lower() for t in bot.thread_texts(card))
    await bot.drain()
    assert any("paid" in t.lower() for t in bot.thread_texts(card))


async def test_form_encoded_callback_is_accepted(bot: Harness) -> None:
    _handoff_id, txn_id = await invoiced(bot)
    assert await post_form(bot, callback_fields(txn_id, "expired")) == 200
    async with bot.deps.db.sessions() as session:
        row = await session.scalar(select(InvoiceRow).where(InvoiceRow.txn_id == txn_id))
    assert row is not None and row.status == "expired"


async def test_tampered_or_unsigned_callback_is_401_and_changes_nothing(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    before = await audit_count(bot)
    fields = callback_fields(txn_id, "completed")
    signed = {**fields, "verify_hash": sign_json_callback(fields, PLISIO_KEY)}
    tampered = {**signed, "amount": "1.00"}
    response = await bot.client.post("/plisio/callback?json=true", json=tampered)
    assert response.status == 401
    response = await bot.client.post("/plisio/callback?json=true", json=fields)
    assert response.status == 401
    status, _ = await post_json(bot, fields, key="wrong-key")
    assert status == 401
    assert (await bot.card(handoff_id)).status is HandoffStatus.INVOICED
    assert await audit_count(bot) == before


async def test_replayed_callback_is_idempotent(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    fields = callback_fields(txn_id, "completed")
    await post_json(bot, fields)
    notes = len(bot.thread_texts(await bot.card(handoff_id)))
    before = await audit_count(bot)
    status, body = await post_json(bot, fields)
    assert (status, body["outcome"]) == (200, "unchanged")
    assert await audit_count(bot) == before
    assert len(bot.thread_texts(await bot.card(handoff_id))) == notes


async def test_status_regression_is_recorded_but_never_shown_unpaid(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    await post_json(bot, callback_fields(txn_id, "completed"))
    status, body = await post_json(bot, callback_fields(txn_id, "pending"))
    assert (status, body["outcome"]) == (200, "regression")
    card = await bot.card(handoff_id)
    assert card.status is HandoffStatus.PAID
    assert card.invoice is not None and card.invoice.status == "completed"
    async with bot.deps.db.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "status_regression" in actions


async def test_bad_bodies_are_4xx(bot: Harness) -> None:
    r1 = await bot.client.post(
        "/plisio/callback?json=true", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    r2 = await bot.client.post(
        "/plisio/callback", data=b"x", headers={"Content-Type": "text/plain"}
    )
    r3 = await bot.client.post("/plisio/callback?json=true", json=[1, 2])
    assert (r1.status, r2.status, r3.status) == (400, 415, 422)


async def test_fake_plisio_sends_a_verifiable_paid_callback(bot: Harness) -> None:
    handoff_id, txn_id = await invoiced(bot)
    response = await bot.plisio.set_status(txn_id, "completed")
    assert response is not None and response.status_code == 200
    assert (await bot.card(handoff_id)).status is HandoffStatus.PAID
