"""A running bot wired to a Zendesk double (workers off: tests drain the outbox themselves)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from sandbox.zendesk import FakeZendesk
from services.db.models import OutboxItem
from services.events import OutboxKind
from tests.support.clock import FakeClock
from tests.support.harness import Harness, running_bot

EMAIL = "finance-bot@acme.example"
TOKEN = "zd-connector-token"


@dataclass
class World:
    bot: Harness
    zendesk: FakeZendesk
    clock: FakeClock

    async def later(self, minutes: float = 10) -> None:
        """Let every backoff pass, then run what is due."""
        self.clock.advance(minutes=minutes)
        await self.bot.drain()

    async def zendesk_items(self) -> list[OutboxItem]:
        async with self.bot.deps.db.sessions() as session:
            rows = await session.scalars(
                select(OutboxItem)
                .where(OutboxItem.kind == OutboxKind.CONNECTOR.value)
                .where(OutboxItem.dedupe_key.like("zendesk:%"))
                .order_by(OutboxItem.id)
            )
            return list(rows)


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    fake = FakeZendesk(EMAIL, TOKEN)
    async with fake.running():
        yield fake


@pytest.fixture
async def world(tmp_path: Path, zendesk: FakeZendesk) -> AsyncIterator[World]:
    clock = FakeClock()
    async with running_bot(
        tmp_path,
        clock=clock,
        zendesk_url=zendesk.url,
        zendesk_email=EMAIL,
        zendesk_api_token=TOKEN,
    ) as bot:
        yield World(bot, zendesk, clock)
