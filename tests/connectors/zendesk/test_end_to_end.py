"""End to end: the real app with its workers, a signed handoff, a decline in Slack; what a
person sees is the ticket linked on the message and in the thread, and one ticket in Zendesk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from sandbox.slack_state import Demo
from sandbox.zendesk import FakeZendesk
from tests.connectors.zendesk.conftest import EMAIL, TOKEN
from tests.support.examples import example, fresh_call_id
from tests.support.harness import running_bot

DEADLINE = 15.0


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not check():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_dispute_shows_its_ticket_and_the_decline_lands_as_a_private_note(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    call_id = fresh_call_id("dnx_zd_e2e")
    async with running_bot(
        tmp_path,
        run_workers=True,
        zendesk_url=zendesk.url,
        zendesk_email=EMAIL,
        zendesk_api_token=TOKEN,
    ) as bot:
        response = await bot.deliver(example("duplicate_charge_dispute", call_id=call_id))
        assert response.status == 202
        handoff_id = (await response.json())["handoff_id"]

        await until(lambda: len(zendesk.tickets) == 1, "the ticket")
        [ticket] = zendesk.tickets.values()
        card = await bot.card(handoff_id)

        async def shown() -> str:
            fresh = await bot.card(handoff_id)
            return json.dumps(bot.message(fresh).blocks)

        loop = asyncio.get_running_loop()
        end = loop.time() + DEADLINE
        while f"ticket #{ticket.id}" not in await shown():
            assert loop.time() < end, "the message never showed the ticket"
            await asyncio.sleep(0.05)
        assert f"/agent/tickets/{ticket.id}" in await shown()
        await until(
            lambda: any(
                "Linked" in t and f"ticket #{ticket.id}" in t for t in bot.thread_texts(card)
            ),
            "the thread's link note",
        )
        # The first comment links back to the Slack message.
        assert "Slack: http" in ticket.comments[0].body

        await bot.deps.handoffs.decline(handoff_id, Demo.APPROVER_1, "already refunded")
        await until(lambda: len(ticket.comments) == 2, "the decline's note")
        assert not ticket.comments[1].public
        assert ticket.comments[1].body.startswith("Finance declined this request: already refunded")
        assert len(zendesk.by_external_id(call_id)) == 1 and len(zendesk.tickets) == 1
        assert ticket.status_changes == []
