"""Through the real app: a disputed charge gets one exception row, linked from its message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.google import FakeGoogle
from tests.connectors.google_sheets.support import SHEET, service_key
from tests.support.examples import example
from tests.support.harness import running_bot


async def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


async def test_a_dispute_gets_one_row_and_the_message_links_it(tmp_path: Path) -> None:
    google = FakeGoogle(service_key())
    google.add_spreadsheet(SHEET)
    async with google.running() as base:
        key_file = google.write_key_file(tmp_path / "sa.json", base + "/token")
        async with running_bot(
            tmp_path,
            run_workers=True,
            google_service_account_file=key_file,
            google_api_base=base,
            google_sheets_spreadsheet_id=SHEET,
        ) as bot:
            payload = example("duplicate_charge_dispute")
            await bot.accept(payload)
            rows = await until(lambda: google.rows(SHEET)[1:] or None)

            def linked() -> Any:
                seen = ""
                for channel in bot.slack.workspace.channels:
                    for m in bot.slack.messages_in(channel):
                        seen += m.text + str(m.blocks)
                        seen += "".join(r.text for r in bot.slack.thread(channel, m.ts))
                # The thread's link note, and the message's own section with the row's status.
                return "exception row 2" in seen and "Waiting for a decision" in seen

            assert await until(linked)
    assert [r[0] for r in rows] == [payload["call_id"]]
    assert rows[0][2] == "Dispute"
