"""A sandbox bot restarted on the same database keeps its channels, invoices and Home in step.

Two real bots in sandbox mode, one after the other, on the same port and ``sandbox.db``, driven
through the page's own routes (the browser version is tests/browser/test_restart.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import text

from bot.app import BotApp, build_app
from bot.settings import Settings
from sandbox.mount import Sandbox
from sandbox.slack_state import Demo
from tests.browser.sandbox_bot import free_port
from tests.sandbox.test_mount import send_example, until

EMAIL = "ap@harborfinch.example"


@asynccontextmanager
async def sandbox_bot(
    tmp_path: Path, port: int
) -> AsyncIterator[tuple[BotApp, Sandbox, httpx.AsyncClient]]:
    settings = Settings(
        _env_file=None,
        bot_mode="sandbox",
        port=port,
        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
        routing_file=tmp_path / "routing.toml",
        outbox_poll_seconds=0.1,
    )
    bot = build_app(settings)
    assert bot.sandbox is not None
    runner = web.AppRunner(bot.web)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield bot, bot.sandbox, http
    finally:
        await runner.cleanup()


async def quiet(sandbox: Sandbox, bot: BotApp) -> None:
    """Wait until the bot has stopped changing the workspace (thread notes follow a post) and
    has no work queued (connectors' links and notes can come more than a poll later)."""
    seen = -1
    while seen != sandbox.feed.version or await bot.container.outbox.pending_count():
        seen = sandbox.feed.version
        await asyncio.sleep(0.6)


async def page_state(http: httpx.AsyncClient, user: str = Demo.APPROVER_1) -> dict[str, Any]:
    state: dict[str, Any] = (await http.get("/sandbox/ui/state", params={"user": user})).json()
    return state


async def home_text(http: httpx.AsyncClient, sandbox: Sandbox) -> str:
    before = sandbox.feed.version
    answer = await http.post("/sandbox/ui/home", json={"user": Demo.APPROVER_1})
    assert answer.json()["status"] == 200
    await until(lambda: sandbox.feed.version > before)
    home = (await page_state(http))["home"]
    # Dates said as "now" (when the tab was drawn) differ by the restart's seconds.
    return re.sub(r"<!date\^\d+\^", "<!date^", str(home["blocks"])) if home else ""


async def lookup(http: httpx.AsyncClient, sandbox: Sandbox) -> str:
    sandbox.workspace.ephemerals.clear()
    typed = await http.post(
        "/sandbox/ui/command",
        json={"user": Demo.APPROVER_1, "channel": Demo.FINANCE, "text": f"/invoice {EMAIL}"},
    )
    assert typed.json()["status"] == 200
    done = await until(
        lambda: [
            e for e in sandbox.workspace.ephemerals if "Looking up" not in e.text + str(e.blocks)
        ]
    )
    return str(done[-1].text) + str(done[-1].blocks)


async def approve_invoice(http: httpx.AsyncClient, sandbox: Sandbox) -> str:
    answer = await send_example(http, "create_invoice")
    message = (await until(lambda: sandbox.slack.messages_in(Demo.FINANCE)))[0]
    source = {"type": "message", "channel": Demo.FINANCE, "ts": message.ts}
    await http.post(
        "/sandbox/ui/action",
        json={
            "user": Demo.APPROVER_1,
            "source": source,
            "action": {"action_id": "handoff_approve"},
        },
    )
    view = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
    await http.post(
        "/sandbox/ui/submit", json={"user": Demo.APPROVER_1, "view_id": view.id, "values": {}}
    )
    await until(lambda: sandbox.plisio.invoices)
    await until(lambda: "Awaiting" in str(sandbox.slack.messages_in(Demo.FINANCE)[0].blocks))
    return str(answer["call_id"])


async def test_a_restart_keeps_the_channel_the_invoices_and_home_in_step(tmp_path: Path) -> None:
    port = free_port()
    async with sandbox_bot(tmp_path, port) as (bot, sandbox, http):
        call_id = await approve_invoice(http, sandbox)
        await quiet(sandbox, bot)
        before = await page_state(http)
        home_before = await home_text(http, sandbox)
        found_before = await lookup(http, sandbox)
        # A modal left open when the bot stops does not come back.
        await http.post(
            "/sandbox/ui/command",
            json={"user": Demo.APPROVER_1, "channel": Demo.FINANCE, "text": "/invoice new"},
        )
        await until(lambda: sandbox.workspace.open_modals())
    assert call_id in found_before

    async with sandbox_bot(tmp_path, port) as (_bot, sandbox, http):
        after = await page_state(http)
        finance = [c for c in after["channels"] if c["id"] == Demo.FINANCE]
        assert finance == [c for c in before["channels"] if c["id"] == Demo.FINANCE]
        assert after["invoices"] == before["invoices"]
        assert after["modal"] is None
        assert await home_text(http, sandbox) == home_before
        assert call_id in await lookup(http, sandbox)
        # The open invoice can still be paid: its page, then Plisio's callback reaches the bot.
        (invoice,) = sandbox.plisio.invoices.values()
        assert (await http.get(f"/sandbox/pay/{invoice.txn_id}")).status_code == 200
        settled = await http.post(
            f"/sandbox/ui/plisio/{invoice.txn_id}", json={"status": "completed"}
        )
        assert settled.json()["status"] == 200
        await until(lambda: "Paid" in sandbox.slack.messages_in(Demo.FINANCE)[0].text)


async def test_reset_sandbox_empties_the_database_the_workspace_and_plisio(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with sandbox_bot(tmp_path, port) as (bot, sandbox, http):
        await approve_invoice(http, sandbox)
        # Connectors done first: one still calling a double the reset empties (a note to a
        # ticket gone) gives up, and its audit entry would land in the fresh log.
        await quiet(sandbox, bot)
        home_before = await home_text(http, sandbox)
        unconfirmed = await http.post("/sandbox/ui/reset", json={})
        assert unconfirmed.status_code == 400
        assert sandbox.plisio.invoices  # nothing happened

        assert (await http.post("/sandbox/ui/reset", json={"confirm": True})).json()["ok"]
        state = await page_state(http)
        assert all(c["messages"] == [] for c in state["channels"])
        assert state["invoices"] == []
        assert state["home"] is None
        async with bot.container.db.engine.connect() as connection:
            for table in ("handoffs", "invoices", "audit_log", "outbox"):
                count = await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                assert count == 0, table
        assert await home_text(http, sandbox) != home_before
        assert "No Plisio invoices found" in await lookup(http, sandbox)
        # The bot works on after a reset, and the empty world is what a restart finds.
        await send_example(http, "create_invoice")
        await until(lambda: sandbox.slack.messages_in(Demo.FINANCE))

    async with sandbox_bot(tmp_path, port) as (_bot, sandbox, http):
        assert len(sandbox.slack.messages_in(Demo.FINANCE)) == 1
        assert sandbox.plisio.invoices == {}


async def test_a_reloaded_page_closes_the_modals_left_open(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path, free_port()) as (_bot, sandbox, http):
        for user in (Demo.APPROVER_1, Demo.BILLING_OPS):
            await http.post(
                "/sandbox/ui/command",
                json={"user": user, "channel": Demo.FINANCE, "text": "/invoice new"},
            )
        await until(lambda: len(sandbox.workspace.open_modals()) == 2)
        assert (await page_state(http, Demo.BILLING_OPS))["modal"] is not None
        closed = await http.post("/sandbox/ui/loaded", json={})
        assert closed.json() == {"closed": 2}
        assert (await page_state(http, Demo.BILLING_OPS))["modal"] is None
        assert (await page_state(http, Demo.APPROVER_1))["modal"] is None


async def linked(bot: BotApp) -> list[tuple[str, str, str]]:
    """Every (system, kind, external id) the bot linked to a handoff."""
    async with bot.container.db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT system, kind, external_id FROM external_refs ORDER BY id")
        )
        return [(str(a), str(b), str(c)) for a, b, c in rows]


async def escalate(http: httpx.AsyncClient, sandbox: Sandbox, reason: str) -> None:
    message = sandbox.slack.messages_in(Demo.FINANCE)[0]
    source = {"type": "message", "channel": Demo.FINANCE, "ts": message.ts}
    await http.post(
        "/sandbox/ui/action",
        json={
            "user": Demo.APPROVER_1,
            "source": source,
            "action": {"action_id": "handoff_escalate"},
        },
    )
    view = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
    given = {"reason_block": {"reason_input": {"value": reason}}}
    answer = await http.post(
        "/sandbox/ui/submit", json={"user": Demo.APPROVER_1, "view_id": view.id, "values": given}
    )
    assert answer.json()["result"] == "closed"


def thread_texts(sandbox: Sandbox) -> list[str]:
    """Every message's text, in every channel (a give-up note goes to the handoff's thread)."""
    channels = sandbox.workspace.channels.values()
    return [m.text for c in channels for m in c.messages.values()]


async def test_a_restart_keeps_the_ticket_the_sheet_row_and_the_quickbooks_records(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with sandbox_bot(tmp_path, port) as (bot, sandbox, http):
        await approve_invoice(http, sandbox)
        await quiet(sandbox, bot)
        assert sandbox.zendesk and sandbox.google and sandbox.quickbooks and sandbox.drive_gmail
        refs = await linked(bot)
        (ticket,) = sandbox.zendesk.tickets.values()
        notes = len(ticket.comments)
        rows = sandbox.google.page_state()
        assert rows is not None
        assert len(rows["rows"]) == 2  # the header and this handoff's row
        (customer,) = sandbox.quickbooks.customers.values()
        (invoice,) = sandbox.quickbooks.invoices.values()
        folders = {f.id for f in sandbox.drive_gmail.folders()}
        documents = {d.id for d in sandbox.drive_gmail.documents()}
        tokens = sandbox.quickbooks.current_refresh_tokens()
    assert ("zendesk", "ticket", str(ticket.id)) in refs
    assert ("quickbooks", "invoice", invoice["Id"]) in refs
    assert any(system == "google_sheets" for system, _, _ in refs)
    assert any(kind == "folder" for _, kind, _ in refs)

    async with sandbox_bot(tmp_path, port) as (bot, sandbox, http):
        assert sandbox.zendesk and sandbox.google and sandbox.quickbooks and sandbox.drive_gmail
        (again,) = sandbox.zendesk.tickets.values()
        assert (again.id, len(again.comments)) == (ticket.id, notes)
        assert sandbox.google.page_state() == rows
        assert list(sandbox.quickbooks.customers.values()) == [customer]
        assert list(sandbox.quickbooks.invoices.values()) == [invoice]
        assert {f.id for f in sandbox.drive_gmail.folders()} == folders
        assert {d.id for d in sandbox.drive_gmail.documents()} == documents
        # The rotated refresh token the bot stored is still current here (remembered, not
        # accepted for its signature: that fallback is switched off), and a new rotation works.
        assert set(tokens) <= set(sandbox.quickbooks.current_refresh_tokens())
        sandbox.quickbooks.signing_key = None
        sandbox.quickbooks.expire_access_tokens()
        refreshes = sandbox.quickbooks.refreshes

        # A decision: escalated. A note on the same ticket, the same row updated.
        await escalate(http, sandbox, "Customer asks for a discount")
        await until(lambda: len(again.comments) == notes + 1)
        await quiet(sandbox, bot)
        assert "discount" in again.comments[-1].body
        escalated = sandbox.google.page_state()
        assert escalated is not None
        assert [r[0] for r in escalated["rows"]] == [r[0] for r in rows["rows"]]
        assert "escalated" in escalated["rows"][1][6]

        # The customer pays: another note, the same row updated again, the payment recorded
        # against the same QuickBooks invoice; nothing gives up, nothing is duplicated.
        (paying,) = sandbox.plisio.invoices.values()
        settled = await http.post(
            f"/sandbox/ui/plisio/{paying.txn_id}", json={"status": "completed"}
        )
        assert settled.json()["status"] == 200
        await until(lambda: "Paid" in sandbox.slack.messages_in(Demo.FINANCE)[0].text)
        await quiet(sandbox, bot)
        texts = thread_texts(sandbox)
        assert not [t for t in texts if "gave up" in t], texts
        assert list(sandbox.zendesk.tickets) == [ticket.id]
        assert len(again.comments) == notes + 2
        assert "paid" in again.comments[-1].body.lower()
        after = sandbox.google.page_state()
        assert after is not None
        assert len(after["rows"]) == 2
        assert after["rows"][1][0] == rows["rows"][1][0]
        assert after["rows"][1][8] != escalated["rows"][1][8]  # its status moved on
        (payment,) = sandbox.quickbooks.payments.values()
        linked_txns = [t for line in payment["Line"] for t in line.get("LinkedTxn", [])]
        assert [t["TxnId"] for t in linked_txns] == [invoice["Id"]]
        assert len(sandbox.quickbooks.invoices) == 1
        assert sandbox.quickbooks.refreshes > refreshes  # the stored token was accepted
        assert {f.id for f in sandbox.drive_gmail.folders()} == folders
        new_refs = await linked(bot)
        assert [r for r in new_refs if r[:2] == ("zendesk", "ticket")] == [
            ("zendesk", "ticket", str(ticket.id))
        ]
        assert len([r for r in new_refs if r[0] == "google_sheets"]) == 1

    # What the payment changed is what the next start finds.
    async with sandbox_bot(tmp_path, port) as (_bot, sandbox, _http):
        assert sandbox.zendesk and sandbox.quickbooks
        assert len(sandbox.zendesk.tickets[ticket.id].comments) == notes + 2
        assert len(sandbox.quickbooks.payments) == 1


async def test_reset_sandbox_empties_the_vendor_doubles_too(tmp_path: Path) -> None:
    port = free_port()
    async with sandbox_bot(tmp_path, port) as (bot, sandbox, http):
        await approve_invoice(http, sandbox)
        await quiet(sandbox, bot)
        assert sandbox.zendesk and sandbox.google and sandbox.quickbooks and sandbox.drive_gmail
        assert sandbox.zendesk.tickets and sandbox.quickbooks.invoices
        assert (await http.post("/sandbox/ui/reset", json={"confirm": True})).json()["ok"]
        assert sandbox.zendesk.tickets == {}
        assert sandbox.quickbooks.summary() == {
            "customers": [],
            "invoices": [],
            "payments": [],
            "credit_memos": [],
            "refund_receipts": [],
        }
        state = sandbox.google.page_state()
        assert state is not None and state["rows"] == []
        assert sandbox.drive_gmail.documents() == [] and sandbox.drive_gmail.sent() == []
        assert [f.id for f in sandbox.drive_gmail.folders()] == [sandbox.drive_gmail.root_folder]
        # The bot's token store was emptied with its tables: it starts again from the first
        # refresh token, which works, so QuickBooks records the next invoice.
        await approve_invoice(http, sandbox)
        await until(lambda: sandbox.quickbooks is not None and sandbox.quickbooks.invoices)
        await quiet(sandbox, bot)
        assert len(sandbox.zendesk.tickets) == 1

    async with sandbox_bot(tmp_path, port) as (_bot, sandbox, _http):
        assert sandbox.zendesk and sandbox.quickbooks
        assert len(sandbox.zendesk.tickets) == 1
        assert len(sandbox.quickbooks.invoices) == 1
