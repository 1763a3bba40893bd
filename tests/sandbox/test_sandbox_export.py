"""The sandbox shows the audit export: the lead's CSV lands in their DM with a download link."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import BotApp
from sandbox.slack_state import Demo
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[BotApp, httpx.AsyncClient]]:
    async with sandbox_bot(tmp_path) as pair:
        yield pair


def dm_files(bot: BotApp, user: str) -> list[dict[str, object]]:
    channel = parts(bot).workspace.channels.get(f"D{user[1:]}")
    return [f for m in (channel.visible() if channel else []) for f in m.files]


async def downloaded_rows(http: httpx.AsyncClient, user: str) -> list[list[str]]:
    """The CSV as the page links it: the person's DM in the page state, then the download."""
    state = (await http.get("/sandbox/ui/state", params={"user": user})).json()
    dm = state["dm"]
    assert dm["id"] == f"D{user[1:]}"
    [file] = [f for m in dm["messages"] for f in m["files"]][-1:]
    assert file["download"].startswith("/sandbox/slack/files-pri/")
    download = await http.get(file["download"])
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(download.text)))


async def test_export_by_command_and_home_button_in_the_sandbox(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    answer = await send_example(http, "duplicate_charge_dispute")
    typed = await http.post(
        "/sandbox/ui/command",
        json={"user": Demo.FIN_LEAD, "channel": Demo.FINANCE, "text": "/handoff export"},
    )
    assert typed.json()["status"] == 200
    await until(lambda: dm_files(bot, Demo.FIN_LEAD))
    rows = await downloaded_rows(http, Demo.FIN_LEAD)
    assert rows[0][0] == "call_id"
    assert any(r[10] == "received" for r in rows[1:]), answer

    await http.post("/sandbox/ui/home", json={"user": Demo.FIN_LEAD})
    home_id = await until(lambda: sandbox.workspace.home_views.get(Demo.FIN_LEAD))
    source = {"type": "view", "view_id": home_id}
    clicked = await http.post(
        "/sandbox/ui/action",
        json={
            "user": Demo.FIN_LEAD,
            "source": source,
            "action": {
                "action_id": "home_export_audit",
                "block_id": "home_export",
                "value": "last_30_days",
            },
        },
    )
    assert clicked.status_code == 200, clicked.text
    await until(lambda: len(dm_files(bot, Demo.FIN_LEAD)) == 2)
