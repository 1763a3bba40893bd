"""In sandbox mode Zendesk is on against the sandbox's own double, and the page shows its tickets."""

from __future__ import annotations

from pathlib import Path

from sandbox.zendesk import FakeZendesk
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until


async def test_a_sandbox_dispute_gets_a_ticket_shown_on_the_page(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        assert "zendesk" in bot.container.connectors.runtime.connectors
        zendesk = parts(bot).zendesk
        assert isinstance(zendesk, FakeZendesk)
        await send_example(http, "duplicate_charge_dispute")
        await until(lambda: zendesk.tickets, timeout=15)
        [ticket] = zendesk.tickets.values()
        assert ticket.comments and not ticket.comments[0].public

        state = (await http.get("/sandbox/ui/state?user=U0APPROVER1")).json()
        assert "zendesk" in state, state
        [shown] = state["zendesk"]
        assert shown["id"] == ticket.id and shown["comments"][0]["public"] is False
        page = await http.get(f"/sandbox/zendesk/agent/tickets/{ticket.id}")
        assert page.status_code == 200 and "Internal note" in page.text
