"""End to end: what a connector learns, links or gives up on shows on the handoff in Slack.

A scripted connector is wired into the real app: its context is drawn on the message, every
object it links is kept once and told once in the thread, and a give-up shows on the message
(until the connector's next success) and once in the thread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import ConnectorContext, Done, GiveUp, Link, Result
from services.db.models import AuditEntry, ExternalRef, OutboxItem
from services.events import Event, EventType, OutboxKind
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

CARD = "4111 1111 1111 1111"
TICKET = Link("ticket", "4321", "https://acme.zendesk.test/agent/tickets/4321", "ticket #4321")


@dataclass
class Scripted:
    """Links a ticket on every event; gives up while ``fail`` is set."""

    name: str = "zendesk"
    handles: frozenset[EventType] = frozenset({EventType.RECEIVED, EventType.POSTED})
    fail: bool = False
    seen: list[EventType] = field(default_factory=list)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        self.seen.append(event.type)
        if self.fail:
            return GiveUp(f"Zendesk refused the ticket: 422 requester {CARD} is invalid")
        lines = [f"Open · 2 private notes · <!channel> card {CARD}"]
        return Done(
            context={"url": TICKET.url, "label": "ticket #4321", "lines": lines}, links=(TICKET,)
        )


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
async def bot(tmp_path: Path, scripted: Scripted) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, connectors=[scripted]) as harness:
        yield harness


def _blocks_text(message: object) -> str:
    return json.dumps(getattr(message, "blocks", None) or [], ensure_ascii=False)


async def test_context_and_a_link_show_once_on_the_message_and_in_the_thread(
    bot: Harness, scripted: Scripted
) -> None:
    handoff_id = await bot.accept(example("create_invoice", call_id="dnx_ctx_links"))
    await bot.drain()
    assert scripted.seen.count(EventType.RECEIVED) == 1
    assert scripted.seen.count(EventType.POSTED) == 1
    card = await bot.card(handoff_id)
    text = _blocks_text(bot.message(card))
    assert "*Zendesk*" in text and "acme.zendesk.test/agent/tickets/4321|ticket #4321" in text
    assert "Open · 2 private notes" in text
    assert CARD not in text and "<!channel>" not in text  # suppressed and inert
    # Linked by two events, recorded and told once.
    notes = [t for t in bot.thread_texts(card) if "Linked" in t]
    assert notes == [
        "🔗 Linked: <https://acme.zendesk.test/agent/tickets/4321|Zendesk ticket #4321>"
    ]
    async with bot.deps.db.sessions() as session:
        refs = await session.scalar(select(func.count()).select_from(ExternalRef))
        linked = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == EventType.EXTERNAL_LINKED.value)
        )
    assert (refs, linked) == (1, 1)


async def test_a_give_up_shows_on_the_message_and_once_in_the_thread(
    bot: Harness, scripted: Scripted
) -> None:
    scripted.fail = True
    handoff_id = await bot.accept(example("create_invoice", call_id="dnx_ctx_gives_up"))
    await bot.drain()
    card = await bot.card(handoff_id)
    text = _blocks_text(bot.message(card))
    assert "Zendesk gave up: Zendesk refused the ticket: 422 requester" in text
    assert CARD not in text
    failed = [t for t in bot.thread_texts(card) if "gave up" in t]
    # One note per event the connector gave up on (RECEIVED and POSTED), each once.
    assert len(failed) == 2 and all(
        t.startswith("⚠️ Zendesk gave up: Zendesk refused") for t in failed
    )
    assert all(CARD not in t for t in failed)
    assert card.context["zendesk"]["error"].startswith("Zendesk gave up:")


@dataclass
class Echo:
    """Answers every event with a context that names the event."""

    name: str = "stripe"
    handles: frozenset[EventType] = frozenset({EventType.RECEIVED, EventType.POSTED})

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        return Done(context={"found": False, "message": f"answered {event.type.value}"})


async def test_an_older_events_late_answer_never_replaces_a_newer_one(tmp_path: Path) -> None:
    async with running_bot(tmp_path, connectors=[Echo()]) as bot:
        handoff_id = await bot.accept(example("create_invoice", call_id="dnx_ctx_order"))
        # Post the message, then run the connector's two items newest first (a retry or a
        # slow vendor can finish an older event's work last).
        await bot.drain()
        async with bot.deps.db.sessions() as session:
            await session.execute(
                OutboxItem.__table__.update()
                .where(OutboxItem.kind == OutboxKind.CONNECTOR.value)
                .values(status="pending", attempts=0)
            )
            await session.commit()
        items = sorted(await bot.deps.outbox.claim(kind=OutboxKind.CONNECTOR), key=lambda i: -i.id)
        assert len(items) == 2
        for item in items:
            await bot.deps.connectors.runtime.run(item)
        card = await bot.card(handoff_id)
        assert card.context["stripe"]["message"] == "answered posted"
