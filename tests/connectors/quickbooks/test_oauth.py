"""Rotating refresh tokens: two processes racing, a token rotated while the bot was down, the
access token refreshed before its hour, a revoked grant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.quickbooks.oauth import QuickBooksAuth, Revoked, credential_name
from sandbox.quickbooks import TOKEN_PATH, FakeQuickBooks
from services.credentials import CredentialStore
from services.db.engine import Database
from tests.connectors.quickbooks.support import CLIENT, KEY, REALM, SECRET, SEED
from tests.support.clock import FakeClock
from tests.support.db import fresh_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as database:
        yield database


def auth(db: Database, http: httpx.AsyncClient, url: str, clock: FakeClock) -> QuickBooksAuth:
    """One process's auth: its own store object and cache, the shared database."""
    return QuickBooksAuth(
        http=http,
        store=CredentialStore(db, KEY, clock=clock),
        token_url=url + TOKEN_PATH,
        client_id=CLIENT,
        client_secret=SECRET,
        seed_refresh_token=SEED,
        realm=REALM,
        clock=clock,
    )


async def stored_refresh(db: Database, clock: FakeClock) -> str:
    import json

    credential = await CredentialStore(db, KEY, clock=clock).get(credential_name(REALM))
    assert credential is not None
    return str(json.loads(credential.value)["refresh_token"])


async def test_two_processes_refreshing_at_once_keep_the_newest_token(db: Database) -> None:
    clock = FakeClock()
    qb = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED, grace=0)
    async with qb.running() as url, httpx.AsyncClient() as http:
        one, two = auth(db, http, url, clock), auth(db, http, url, clock)
        first, second = await asyncio.gather(one.access_token(), two.access_token())
        assert first and second
        newest = await stored_refresh(db, clock)
        assert newest in qb.current_refresh_tokens()
        # Both go on with the stored (newest) token: an hour later each refreshes from it.
        clock.advance(minutes=56)
        await one.access_token()
        clock.advance(seconds=1)
        await two.access_token()  # re-reads the store: uses one's fresh token, no refresh
        assert await stored_refresh(db, clock) in qb.current_refresh_tokens()
        assert one.refreshes + two.refreshes <= 3


async def test_a_replica_that_sees_a_fresh_stored_token_does_not_refresh(db: Database) -> None:
    clock = FakeClock()
    qb = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED, grace=0)
    async with qb.running() as url, httpx.AsyncClient() as http:
        one, two = auth(db, http, url, clock), auth(db, http, url, clock)
        token = await one.access_token()
        assert await two.access_token() == token
        assert qb.refreshes == 1 and two.refreshes == 0


async def test_a_token_rotated_while_the_bot_was_down_wins_over_the_environment(
    db: Database,
) -> None:
    clock = FakeClock()
    qb = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED, grace=0)
    async with qb.running() as url, httpx.AsyncClient() as http:
        await auth(db, http, url, clock).access_token()  # the first run rotates SEED away
        assert SEED not in qb.current_refresh_tokens()
        qb.expire_access_tokens()
        clock.advance(hours=2)
        restarted = auth(db, http, url, clock)  # QUICKBOOKS_REFRESH_TOKEN is still SEED
        assert await restarted.access_token()
        assert await stored_refresh(db, clock) in qb.current_refresh_tokens()


async def test_the_access_token_is_cached_and_refreshed_five_minutes_before_its_hour(
    db: Database,
) -> None:
    clock = FakeClock()
    qb = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED)
    async with qb.running() as url, httpx.AsyncClient() as http:
        one = auth(db, http, url, clock)
        token = await one.access_token()
        clock.advance(minutes=54)
        assert await one.access_token() == token and qb.refreshes == 1
        clock.advance(minutes=2)
        assert await one.access_token() != token and qb.refreshes == 2
        # A 401 on a token names it: the next one is a fresh one.
        rejected = await one.access_token()
        assert await one.access_token(rejected=rejected) != rejected


async def test_a_revoked_grant_raises_revoked(db: Database) -> None:
    clock = FakeClock()
    qb = FakeQuickBooks(CLIENT, SECRET, REALM, refresh_token=SEED)
    qb.revoke()
    async with qb.running() as url, httpx.AsyncClient() as http:
        with pytest.raises(Revoked, match="re-authorise"):
            await auth(db, http, url, clock).access_token()
