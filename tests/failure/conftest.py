"""The failure suite's loopback stack: fake Slack and Plisio served by this test process, the bot
as real ``python -m bot`` child processes, and a fresh SQLite file (or PostgreSQL schema when
TEST_DATABASE_URL is set) per test."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest

from bench.stack import (
    PLISIO_KEY,
    SLACK_TOKEN,
    BotProcess,
    DialNexa,
    Inspector,
    SlackUser,
    fresh_database,
    has_button,
    posted_handoffs,
)
from sandbox.plisio import FakePlisio
from sandbox.slack_api import SlackAPI, SlackWorkspace
from sandbox.slack_state import Message

T = TypeVar("T")

# Short enough that work a killed process held is taken up again within a trial.
LEASE_SECONDS = "2"


@dataclass
class Stack:
    workdir: Path
    slack: SlackAPI
    slack_url: str
    plisio: FakePlisio
    plisio_url: str
    database_url: str
    schema: str | None
    session: aiohttp.ClientSession
    inspector: Inspector
    bots: list[BotProcess] = field(default_factory=list)

    @property
    def postgres(self) -> bool:
        return self.schema is not None

    def bot(self, name: str = "bot", **env: str) -> BotProcess:
        """A bot process on this stack (not started); it is killed when the test ends."""
        settings = {
            "OUTBOX_LEASE_SECONDS": LEASE_SECONDS,
            "OUTBOX_POLL_SECONDS": "0.2",
            "SLACK_POST_RATE_PER_CHANNEL": "20",  # the fake Slack sets no limit unless told to
        } | env
        bot = BotProcess(
            self.workdir,
            slack_url=self.slack_url,
            plisio_url=self.plisio_url,
            database_url=self.database_url,
            database_schema=self.schema,
            env=settings,
            name=name,
        )
        self.bots.append(bot)
        return bot

    def dialnexa(self, bot: BotProcess) -> DialNexa:
        return DialNexa(self.session, bot.url)

    def user(self, bot: BotProcess) -> SlackUser:
        return SlackUser(self.session, bot.url)

    def logs(self) -> str:
        return "\n".join(f"---- {b.name} (pid {b.pid})\n{b.log_tail(40)}" for b in self.bots)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as exits:
        slack = SlackAPI(SlackWorkspace.demo(), bot_token=SLACK_TOKEN)
        slack_url = await exits.enter_async_context(slack.serve())
        plisio = FakePlisio(PLISIO_KEY)
        plisio_url = await exits.enter_async_context(plisio.running())
        url, schema = await exits.enter_async_context(
            fresh_database(tmp_path, os.environ.get("TEST_DATABASE_URL"))
        )
        inspector = Inspector(url, schema)
        exits.push_async_callback(inspector.close)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        exits.push_async_callback(session.close)
        result = Stack(
            tmp_path, slack, slack_url, plisio, plisio_url, url, schema, session, inspector
        )
        try:
            yield result
        finally:
            # Every child dies here, whatever the test did (kill by pid, then wait for it).
            for bot in result.bots:
                await bot.close()


async def eventually(
    check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def showing(stack: Stack, handoff_id: str, text: str) -> Message | None:
    """The handoff's message once its blocks contain ``text``."""
    message = only_post(stack, handoff_id)
    return message if message is not None and text in str(message.blocks) else None


def offering(stack: Stack, handoff_id: str, action_id: str) -> Message | None:
    """The handoff's message once it offers the button ``action_id``."""
    message = only_post(stack, handoff_id)
    return message if message is not None and has_button(message, action_id) else None


def only_post(stack: Stack, handoff_id: str) -> Message | None:
    """The handoff's one channel message (None until posted; fails if posted twice)."""
    messages = posted_handoffs(stack.slack).get(handoff_id, [])
    assert len(messages) <= 1, f"handoff {handoff_id} posted {len(messages)} times"
    return messages[0] if messages else None


def thread_texts(stack: Stack, message: Message) -> list[str]:
    return [m.text for m in stack.slack.thread(message.channel, message.ts)[1:]]
