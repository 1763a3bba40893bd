"""Through the real app: approving a receipt resend emails the receipt once and keeps it in Drive;
the handoff's message and thread say so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sandbox.google_drive_gmail import FakeDriveGmail
from sandbox.slack_state import Demo
from tests.connectors.google_drive.support import SENDER, key_file
from tests.support.examples import example
from tests.support.harness import Harness, running_bot


async def until(check, seconds: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def thread(bot: Harness, channel: str, ts: str) -> str:
    return "\n".join(m.text for m in bot.slack.thread(channel, ts)[1:])


async def test_approved_receipt_resend_is_emailed_once_and_stored_in_drive(
    tmp_path: Path,
) -> None:
    double = FakeDriveGmail()
    async with (
        double.running() as root,
        running_bot(
            tmp_path,
            run_workers=True,
            google_api_base=root,
            google_service_account_file=key_file(tmp_path, f"{root}/token"),
            google_delegated_user=SENDER,
            google_drive_folder_id="root-folder",
            gmail_sender=SENDER,
        ) as bot,
    ):
        payload = example("receipt_resend")
        payload["billing"] = {**payload["billing"], "amount": "89.00", "currency": "USD"}
        handoff_id = await bot.accept(payload)
        await bot.approve(Demo.APPROVER_1, handoff_id)
        await until(lambda: len(double.sent()) == 1 and len(double.documents()) == 1)
        card = await bot.card(handoff_id)
        assert card.message_ts is not None
        await until(lambda: "Email sent to" in str(bot.message(card).blocks))
        await until(lambda: "wen.liu@example.com" in thread(bot, card.channel, card.message_ts))
        [mail] = double.sent()
        assert mail.header("To") == "wen.liu@example.com"
        [(_, pdf)] = mail.attachments()
        [doc] = double.documents()
        assert doc.app_properties["document"] == "receipt"
        assert pdf.startswith(b"%PDF")
        assert "transcript" not in mail.body()
        assert f"<@{Demo.APPROVER_1}>" in str(bot.message(card).blocks)
        assert len(double.sent()) == 1
        # Leave only once the bot's work is finished (no item in flight at shut-down).
        deadline = asyncio.get_running_loop().time() + 15
        while await bot.deps.outbox.pending_count():
            assert asyncio.get_running_loop().time() < deadline, "outbox never emptied"
            await asyncio.sleep(0.05)
