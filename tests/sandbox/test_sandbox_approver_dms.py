"""In the sandbox, a second approval reaches the approver's DM and approving there changes the
channel message (``sandbox/demo_routing.toml``: both approvers named, ``dm_default = "dm"``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from blocks.approver_dm import APPROVER_DM_EVENT
from bot.app import BotApp
from sandbox.slack_state import Demo
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until

APPROVE = {"action_id": "handoff_approve"}


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[BotApp, httpx.AsyncClient]]:
    async with sandbox_bot(tmp_path) as pair:
        yield pair


def has_approve(message: Any) -> bool:
    return "handoff_approve" in str(message.blocks)


async def approve(http: httpx.AsyncClient, bot: BotApp, user: str, source: dict[str, Any]) -> None:
    sandbox = parts(bot)
    await http.post("/sandbox/ui/action", json={"user": user, "source": source, "action": APPROVE})
    views = await until(
        lambda: [v for stack in sandbox.workspace.open_modals() for v in stack if v.user == user]
    )
    answer = await http.post(
        "/sandbox/ui/submit", json={"user": user, "view_id": views[-1].id, "values": {}}
    )
    assert answer.json()["result"] == "closed"


async def test_the_sandbox_shows_the_dm_copy_and_approving_there_updates_the_channel(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    answer = await send_example(http, "vip_renewal_blocker")  # 24,000 GBP: two approvers

    def channel_message() -> Any:
        for channel in sandbox.workspace.channels.values():
            for message in sandbox.slack.messages_in(channel.id):
                if not channel.is_im and answer["call_id"] in str(message.blocks):
                    return message
        return None

    posted = await until(channel_message)
    await approve(http, bot, Demo.APPROVER_1, {"type": "message", **where(posted)})
    ben_dm = f"D{Demo.APPROVER_2[1:]}"

    def dm_copy() -> Any:
        found = [
            m
            for m in sandbox.slack.messages_in(Demo.APPROVER_2)  # the bot's DM with Ben
            if (m.metadata or {}).get("event_type") == APPROVER_DM_EVENT
        ]
        return found[0] if found else None

    copy = await until(dm_copy)
    assert has_approve(copy)
    state = (await http.get("/sandbox/ui/state", params={"user": Demo.APPROVER_2})).json()
    assert copy.ts in str(state["dm"])  # the page shows it in Ben's DM
    await approve(http, bot, Demo.APPROVER_2, {"type": "message", "channel": ben_dm, "ts": copy.ts})
    await until(lambda: not has_approve(sandbox.workspace.message(posted.channel, posted.ts)))
    await until(lambda: not has_approve(sandbox.workspace.message(ben_dm, copy.ts)))


def where(message: Any) -> dict[str, str]:
    return {"channel": message.channel, "ts": message.ts}
