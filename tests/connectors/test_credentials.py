"""CredentialStore: Fernet-encrypted, compare-and-set on version, clear errors, no leaks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from services.credentials import (
    CredentialConflict,
    CredentialKeyError,
    CredentialStore,
    sandbox_key,
)
from services.db.engine import Database
from services.db.models import ConnectorCredential
from tests.support.clock import FakeClock
from tests.support.db import fresh_database

TOKEN = "AB11-refresh-token-0123456789abcdef"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


@pytest.fixture
def store(db: Database) -> CredentialStore:
    return CredentialStore(db, Fernet.generate_key(), clock=FakeClock())


async def test_round_trip_and_the_stored_ciphertext_is_not_the_value(
    db: Database, store: CredentialStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await store.get("quickbooks") is None
    stored = await store.put("quickbooks", TOKEN, expected_version=None)
    assert stored.version == 1
    got = await store.get("quickbooks")
    assert got is not None and (got.value, got.version) == (TOKEN, 1)
    async with db.sessions() as session:
        row = await session.scalar(select(ConnectorCredential))
    assert row is not None and TOKEN not in row.ciphertext and "refresh" not in row.ciphertext
    assert TOKEN not in repr(got) and TOKEN not in repr(store)
    assert TOKEN not in caplog.text


async def test_a_rotation_bumps_the_version(store: CredentialStore) -> None:
    await store.put("quickbooks", "first", expected_version=None)
    rotated = await store.put("quickbooks", "second", expected_version=1)
    assert rotated.version == 2
    got = await store.get("quickbooks")
    assert got is not None and (got.value, got.version) == ("second", 2)


async def test_concurrent_rotations_one_wins_the_other_gets_a_conflict(
    store: CredentialStore,
) -> None:
    await store.put("quickbooks", "first", expected_version=None)
    results = await asyncio.gather(
        store.put("quickbooks", "from replica a", expected_version=1),
        store.put("quickbooks", "from replica b", expected_version=1),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, CredentialConflict)]
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(conflicts) == 1 and len(winners) == 1
    got = await store.get("quickbooks")
    assert got is not None and got.value == winners[0].value and got.version == 2
    assert "from replica" not in str(conflicts[0])


async def test_a_second_first_write_is_a_conflict(store: CredentialStore) -> None:
    await store.put("quickbooks", "first", expected_version=None)
    with pytest.raises(CredentialConflict):
        await store.put("quickbooks", "again", expected_version=None)
    with pytest.raises(CredentialConflict):
        await store.put("quickbooks", "stale", expected_version=7)


async def test_the_wrong_key_names_the_setting(db: Database, store: CredentialStore) -> None:
    await store.put("quickbooks", TOKEN, expected_version=None)
    other = CredentialStore(db, Fernet.generate_key(), clock=FakeClock())
    with pytest.raises(CredentialKeyError, match="CONNECTOR_ENCRYPTION_KEY") as raised:
        await other.get("quickbooks")
    assert TOKEN not in str(raised.value)


def test_a_malformed_key_names_the_setting(db: Database) -> None:
    with pytest.raises(CredentialKeyError, match="CONNECTOR_ENCRYPTION_KEY"):
        CredentialStore(db, "not-a-fernet-key", clock=FakeClock())


def test_the_sandbox_key_is_a_fernet_key_stable_per_database() -> None:
    one = sandbox_key("sqlite+aiosqlite:///./data/sandbox.db")
    assert one == sandbox_key("sqlite+aiosqlite:///./data/sandbox.db")
    assert one != sandbox_key("sqlite+aiosqlite:///./data/other.db")
    Fernet(one)  # a valid key
