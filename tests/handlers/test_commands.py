"""/invoice and /handoff, dispatched through the real app with signed bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from blocks.ids import CallbackId, InvoiceField
from sandbox.slack_state import Demo
from services.cards import HandoffCard
from services.db.models import HandoffRow
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
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    _, key = await bot.command(Demo.BILLING_OPS, "/handoff", "dnx_call_INV2041")
    answer = (await responses(bot, key))[-1]
    text = str(answer["blocks"])
    assert "awaiting payment" in text.lower()
    # The trail reads as sentences, with the channel as a mention Slack shows by name.
    for sentence in (
        "Received from DialNexa",
        "Posted in <#C0FINANCE>",
        f"<@{Demo.APPROVER_1}> approved (1 of 1)",
        "Plisio invoice created",
    ):
        assert sentence in text
    assert "invoice_created" not in text
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


async def request_card(bot: Harness, requester: str) -> HandoffCard:
    """The newest request the person made in Slack."""
    async with bot.deps.db.sessions() as session:
        call_id = await session.scalar(
            select(HandoffRow.call_id)
            .where(HandoffRow.kind == "request", HandoffRow.requested_by == requester)
            .order_by(HandoffRow.created_at.desc())
        )
    assert call_id is not None and call_id.startswith("slack_req:")
    card = await bot.deps.handoffs.card_by_call(call_id)
    assert card is not None
    return card


async def test_invoice_request_is_approved_end_to_end_once(bot: Harness) -> None:
    response = await submit_form(
        bot,
        Demo.BILLING_OPS,
        form("dana@example.com", "1,250.00", "EUR", "Consulting, November"),
    )
    assert response.status == 200
    await bot.drain()
    card = await request_card(bot, Demo.BILLING_OPS)
    assert card.message_ts is not None
    assert card.requested_by == Demo.BILLING_OPS
    # The requester may not approve their own request, even as an approver would.
    await bot.approve(Demo.BILLING_OPS, card.handoff_id)
    assert (await bot.card(card.handoff_id)).status is HandoffStatus.OPEN
    await bot.approve(Demo.APPROVER_1, card.handoff_id)
    await bot.drain()
    assert (await bot.card(card.handoff_id)).status is HandoffStatus.INVOICED
    invoices = bot.plisio.invoices_for_order(card.call_id)  # the request's own ID
    assert len(invoices) == 1
    assert invoices[0].source_amount == Decimal("1250.00")
    assert invoices[0].source_currency == "EUR"
    assert invoices[0].email == "dana@example.com"


async def test_requester_who_is_an_approver_still_cannot_self_approve(bot: Harness) -> None:
    await submit_form(bot, Demo.APPROVER_1, form("dana@example.com", "100", "USD", "Test"))
    await bot.drain()
    card = await request_card(bot, Demo.APPROVER_1)
    await bot.approve(Demo.APPROVER_1, card.handoff_id)
    assert (await bot.card(card.handoff_id)).status is HandoffStatus.OPEN
    assert any("someone else" in t.lower() for t in bot.ephemerals_for(Demo.APPROVER_1))


async def audit(bot: Harness) -> list[tuple[str | None, str, str, dict[str, Any]]]:
    from sqlalchemy import select

    from services.db.models import AuditEntry

    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(("looked_up", "refused")))
            .order_by(AuditEntry.id)
        )
        return [(r.handoff_id, r.actor, r.action, r.detail) for r in rows]


async def test_outsiders_get_a_short_refusal_and_no_customer_data(bot: Harness) -> None:
    seed(bot, "dana@example.com", 2)
    handoff_id = await bot.accept(example("create_invoice"))
    for command, text in (("/invoice", "dana@example.com"), ("/handoff", "dnx_call_INV2041")):
        response, key = await bot.command(Demo.OUTSIDER, command, text)
        answer = await response.json()
        assert answer["response_type"] == "ephemeral"
        assert answer["text"].startswith("Only finance members can look up")
        shown = str(answer)
        for secret in ("order-dana", "Harbor", "4,200", "ap@harborfinch", "dnx_call_INV2041"):
            assert secret not in shown
        assert bot.slack.responses[key] == []  # nothing follows the refusal
    # /invoice new is for finance members too: no form opens.
    response, _ = await bot.command(Demo.OUTSIDER, "/invoice", "new")
    assert "Only finance members can request invoices" in (await response.json())["text"]
    assert [c for c in bot.slack.calls_to("views.open") if c.ok] == []
    assert await audit(bot) == [
        (
            None,
            Demo.OUTSIDER,
            "refused",
            {
                "action": "view",
                "reason": "not_finance",
                "what": "invoices_for_email",
                "query": "dana@example.com",
            },
        ),
        (
            None,
            Demo.OUTSIDER,
            "refused",
            {
                "action": "view",
                "reason": "not_finance",
                "what": "handoff_by_call",
                "query": "dnx_call_INV2041",
            },
        ),
        (None, Demo.OUTSIDER, "refused", {"action": "request", "reason": "not_finance"}),
    ]
    assert (await bot.card(handoff_id)).status is HandoffStatus.OPEN


async def test_every_lookup_is_audited(bot: Harness) -> None:
    handoff_id = await bot.accept(example("create_invoice"))
    _, key = await bot.command(Demo.BILLING_OPS, "/invoice", "Dana@Example.com")
    await responses(bot, key)
    _, key = await bot.command(Demo.FIN_LEAD, "/handoff", "dnx_call_INV2041")
    await responses(bot, key)
    _, key = await bot.command(Demo.APPROVER_2, "/handoff", "dnx_missing")
    await responses(bot, key)
    assert await audit(bot) == [
        (
            None,
            Demo.BILLING_OPS,
            "looked_up",
            {"what": "invoices_for_email", "email": "Dana@example.com"},
        ),
        (
            handoff_id,
            Demo.FIN_LEAD,
            "looked_up",
            {"what": "handoff_by_call", "call_id": "dnx_call_INV2041", "found": True},
        ),
        (
            None,
            Demo.APPROVER_2,
            "looked_up",
            {"what": "handoff_by_call", "call_id": "dnx_missing", "found": False},
        ),
    ]
