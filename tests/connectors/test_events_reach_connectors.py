"""End to end: what people do in Slack and what Plisio reports reach a subscribed connector.

A recording connector is wired into the real app (``build_app(extra_connectors=...)``); every
service records through the one event log, so each event it handles becomes one outbox item and
one call, however often the work is retried or a button is clicked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from blocks.ids import ActionId
from connectors.base import ConnectorContext, Done, Result
from sandbox.slack_state import Demo
from services.db.models import OutboxItem
from services.events import Event, EventType, OutboxKind
from tests.support.examples import example
from tests.support.harness import Harness, running_bot


@dataclass
class Recorder:
    """Handles every event type the bot records as a decision, and remembers each call."""

    name: str = "recorder"
    handles: frozenset[EventType] = frozenset(
        {
            EventType.RECEIVED,
            EventType.POSTED,
            EventType.APPROVED,
            EventType.DECLINED,
            EventType.INVOICE_CREATED,
            EventType.PAID,
        }
    )
    seen: list[Event] = field(default_factory=list)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        self.seen.append(event)
        return Done()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def bot(tmp_path: Path, recorder: Recorder) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, connectors=[recorder]) as harness:
        yield harness


async def connector_items(bot: Harness) -> list[OutboxItem]:
    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(
            select(OutboxItem).where(OutboxItem.kind == OutboxKind.CONNECTOR.value)
        )
        return list(rows)


async def test_intake_post_approval_and_invoice_reach_the_connector_once_each(
    bot: Harness, recorder: Recorder
) -> None:
    handoff_id = await bot.accept(example("create_invoice", call_id="dnx_e2e_connector"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    # A second click on Approve changes nothing, so it records no second event.
    await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
    await bot.drain()

    types = [e.type for e in recorder.seen]
    assert types.count(EventType.RECEIVED) == 1
    assert types.count(EventType.POSTED) == 1
    assert types.count(EventType.APPROVED) == 1
    assert types.count(EventType.INVOICE_CREATED) == 1
    assert EventType.DECLINED not in types
    assert {e.handoff_id for e in recorder.seen} == {handoff_id}
    items = await connector_items(bot)
    assert len(items) == len(recorder.seen)
    assert all(i.status == "done" for i in items)
    assert {i.dedupe_key for i in items} == {f"recorder:{e.key}" for e in recorder.seen}


async def test_a_paid_callback_reaches_the_connector(bot: Harness, recorder: Recorder) -> None:
    handoff_id = await bot.accept(example("create_invoice", call_id="dnx_e2e_paid"))
    await bot.approve(Demo.APPROVER_1, handoff_id)
    await bot.drain()
    invoice = bot.plisio.invoices_for_order("dnx_e2e_paid")[0]
    response = await bot.plisio.set_status(invoice.txn_id, "completed")
    assert response is not None and response.status_code == 200
    await bot.drain()

    paid = [e for e in recorder.seen if e.type is EventType.PAID]
    assert [(e.handoff_id, e.actor) for e in paid] == [(handoff_id, "plisio")]
