"""external_refs: recorded once per external object, found before re-creating, listed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import external_refs
from services.db.engine import Database
from services.db.models import ExternalRef
from tests.support.clock import FakeClock
from tests.support.db import fresh_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


async def test_recording_the_same_object_twice_updates_it(db: Database) -> None:
    clock = FakeClock()
    for url in ("https://a.example/1", "https://a.example/1-moved"):
        async with db.sessions() as session, session.begin():
            await external_refs.record(
                session,
                handoff_id="h1",
                system="zendesk",
                kind="ticket",
                external_id="1",
                url=url,
                now=clock.advance(seconds=1),
                detail={"n": url},
            )
    async with db.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(ExternalRef))
        found = await external_refs.find(session, "h1", "zendesk", "ticket")
        assert await external_refs.find(session, "h1", "zendesk", "user") is None
        assert await external_refs.find(session, "h2", "zendesk", "ticket") is None
    assert count == 1
    assert found is not None and found.url == "https://a.example/1-moved"
    assert found.detail == {"n": "https://a.example/1-moved"}


async def test_a_handoffs_records_are_listed_oldest_first(db: Database) -> None:
    clock = FakeClock()
    async with db.sessions() as session, session.begin():
        for system, kind, ext in (("plisio", "invoice", "t1"), ("quickbooks", "invoice", "42")):
            await external_refs.record(
                session,
                handoff_id="h1",
                system=system,
                kind=kind,
                external_id=ext,
                url=None,
                now=clock(),
            )
        await external_refs.record(
            session,
            handoff_id="h2",
            system="plisio",
            kind="invoice",
            external_id="t2",
            url=None,
            now=clock(),
        )
    async with db.sessions() as session:
        listed = await external_refs.for_handoff(session, "h1")
    assert [(r.system, r.external_id) for r in listed] == [("plisio", "t1"), ("quickbooks", "42")]
