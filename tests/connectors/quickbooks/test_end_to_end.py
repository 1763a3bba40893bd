"""Through the real app: approving an invoice, Plisio's paid callback, and what Slack shows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from sandbox.slack_state import Demo
from services.db.models import OutboxItem
from services.external_refs import for_handoff
from tests.connectors.quickbooks.support import qb_bot, text
from tests.support.clock import FakeClock
from tests.support.examples import example, fresh_call_id


async def test_invoice_then_payment_are_recorded_once_and_linked(tmp_path: Path) -> None:
    clock = FakeClock()
    async with qb_bot(tmp_path, clock) as (bot, qb):
        call_id = fresh_call_id("dnx_qbo")
        handoff_id = await bot.accept(example("create_invoice", call_id=call_id))
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await bot.drain()

        [customer] = qb.customers.values()
        assert customer["PrimaryEmailAddr"] == {"Address": "ap@harborfinch.example"}
        [invoice] = qb.invoices.values()
        assert invoice["CustomerRef"] == {"value": customer["Id"]}
        assert invoice["TotalAmt"] == 4200 and invoice["CurrencyRef"]["value"] == "USD"
        assert call_id in invoice["PrivateNote"]
        line = invoice["Line"][0]
        assert line["DetailType"] == "SalesItemLineDetail" and line["Amount"] == 4200

        plisio = bot.plisio.invoices_for_order(call_id)[0]
        assert plisio.txn_id in invoice["PrivateNote"]
        await bot.plisio.set_status(plisio.txn_id, "completed")
        await bot.drain()

        [payment] = qb.payments.values()
        assert payment["Line"][0]["LinkedTxn"] == [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
        assert invoice["Balance"] == 0
        # Every call carries minorversion; every write a requestid.
        assert all(c.params.get("minorversion") for c in qb.calls)
        assert all(c.params.get("requestid") for c in qb.calls if c.method == "POST")

        card = await bot.card(handoff_id)
        shown = text(bot.message(card))
        assert f"Invoice {invoice['DocNumber']}" in shown and "4,200.00 USD" in shown
        assert "Payment recorded" in shown
        notes = "\n".join(bot.thread_texts(card))
        assert f"invoice?txnId={invoice['Id']}" in notes
        assert f"customerdetail?nameId={customer['Id']}" in notes
        async with bot.deps.db.sessions() as session:
            refs = {(r.kind, r.external_id) for r in await for_handoff(session, handoff_id)}
            items = await session.scalars(select(OutboxItem).where(OutboxItem.kind == "connector"))
            statuses = {i.status for i in items if i.dedupe_key.startswith("quickbooks:")}
        assert {("customer", customer["Id"]), ("invoice", invoice["Id"])} <= refs
        assert ("payment", payment["Id"]) in refs
        assert statuses == {"done"}
