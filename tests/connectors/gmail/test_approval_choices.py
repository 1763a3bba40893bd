"""Through the real app: the approve dialog's email choice decides what Gmail sends.

An invoice is emailed with its payment link only when the approver left the box ticked; a
collections follow-up is sent exactly as the approver edited it (suppressed), once, and only to
a verified address; refusals send nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from blocks.ids import ActionId, BlockId, CallbackId, EmailChoice, InputId
from sandbox.google_drive_gmail import FakeDriveGmail
from sandbox.slack_state import Demo
from services.db.models import AuditEntry
from services.events import EventType
from tests.connectors.google_drive.support import SENDER, key_file
from tests.support.examples import example, fresh_call_id
from tests.support.harness import Harness, running_bot

CARD = "4111 1111 1111 1111"


async def until(check, seconds: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def settled(bot: Harness) -> None:
    """Wait until the bot's outbox is empty (no connector call in flight)."""
    deadline = asyncio.get_running_loop().time() + 15
    while await bot.deps.outbox.pending_count():
        assert asyncio.get_running_loop().time() < deadline, "outbox never emptied"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def bot_with_gmail(tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeDriveGmail]]:
    double = FakeDriveGmail()
    async with (
        double.running() as root,
        running_bot(
            tmp_path,
            run_workers=True,
            google_api_base=root,
            google_service_account_file=key_file(tmp_path, f"{root}/token"),
            google_delegated_user=SENDER,
            gmail_sender=SENDER,
        ) as bot,
    ):
        yield bot, double
        await settled(bot)


def email_blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        b["block_id"]: b
        for b in view["blocks"]
        if b.get("block_id") in {BlockId.EMAIL.value, BlockId.EMAIL_TEXT.value}
    }


async def approvals(bot: Harness, handoff_id: str) -> list[AuditEntry]:
    async with bot.deps.db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.handoff_id == handoff_id,
                AuditEntry.action == EventType.APPROVED.value,
            )
        )
        return list(rows)


async def test_invoice_is_emailed_only_when_the_box_is_left_ticked(tmp_path: Path) -> None:
    async with bot_with_gmail(tmp_path) as (bot, double):
        unticked = await bot.accept(example("create_invoice", call_id=fresh_call_id("dnx_un")))
        ticked = await bot.accept(example("create_invoice", call_id=fresh_call_id("dnx_ti")))

        await bot.approve(Demo.APPROVER_1, unticked, emails=[])
        [view] = bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
        choice = email_blocks(view)[BlockId.EMAIL.value]
        assert choice["element"]["initial_options"][0]["value"] == EmailChoice.INVOICE.value
        assert "ap@harborfinch.example" in choice["label"]["text"]
        [entry] = await approvals(bot, unticked)
        assert entry.detail["email_invoice"] is False
        card = await bot.card(unticked)
        await until(lambda: "Invoice not emailed" in str(bot.message(card).blocks))
        assert double.sent() == []

        await bot.approve(Demo.APPROVER_1, ticked)  # left as it opened: ticked
        await until(lambda: len(double.sent()) == 1)
        [mail] = double.sent()
        assert mail.header("To") == "ap@harborfinch.example"
        [invoice] = bot.plisio.invoices_for_order((await bot.card(ticked)).call_id)
        assert invoice.invoice_url in mail.body()
        assert "Quote Q-7710" not in mail.body()  # findings are internal
        card = await bot.card(ticked)
        await until(lambda: "Email sent to ap@harborfinch.example" in str(bot.message(card).blocks))
        await settled(bot)
        assert len(double.sent()) == 1


async def test_collections_follow_up_is_sent_exactly_as_edited_once(tmp_path: Path) -> None:
    async with bot_with_gmail(tmp_path) as (bot, double):
        handoff_id = await bot.accept(example("collections_promise", call_id=fresh_call_id("c")))
        await bot.click(Demo.APPROVER_1, ActionId.APPROVE, handoff_id)
        [view] = bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
        text_block = email_blocks(view)[BlockId.EMAIL_TEXT.value]
        drafted = text_block["element"]["initial_value"]
        assert "Hello Rosa Delgado" in drafted and "500.00" in drafted and "INV-17790" in drafted
        assert "layoffs" not in drafted and "Promise to pay" not in drafted  # internal only

        # Bad input: a clear inline error, and nothing changes.
        follow_up_only = [EmailChoice.FOLLOWUP.value]
        answer = await bot.approve(
            Demo.APPROVER_1, handoff_id, emails=follow_up_only, email_text="  hi  "
        )
        errors = (await answer.json())["errors"]
        assert "at least" in errors[BlockId.EMAIL_TEXT.value]
        assert await approvals(bot, handoff_id) == []

        # A non-approver submitting the dialog is refused: nothing recorded, nothing sent.
        values = {
            BlockId.EMAIL.value: {
                InputId.EMAIL.value: {
                    "type": "checkboxes",
                    "selected_options": [{"value": EmailChoice.FOLLOWUP.value}],
                }
            },
            BlockId.EMAIL_TEXT.value: {
                InputId.EMAIL_TEXT.value: {"type": "plain_text_input", "value": drafted}
            },
        }
        await bot.submit(Demo.OUTSIDER, CallbackId.APPROVE_MODAL, handoff_id, values)
        await until(lambda: bool(bot.ephemerals_for(Demo.OUTSIDER)))
        assert "approver" in bot.ephemerals_for(Demo.OUTSIDER)[0].lower()
        assert await approvals(bot, handoff_id) == []

        edited = (
            "Hello Rosa,\n\nThanks for the call today. As agreed, the first instalment of "
            f"500.00 USD is due on 30 November. Please do not send your card {CARD} by email."
            "\n\nKind regards,\nAcme"
        )
        await bot.approve(Demo.APPROVER_1, handoff_id, emails=follow_up_only, email_text=edited)
        await until(lambda: len(double.sent()) == 1)
        card = await bot.card(handoff_id)
        assert card.message_ts is not None
        await until(lambda: "Invoice not emailed" in str(bot.message(card).blocks))
        await settled(bot)
        [mail] = double.sent()
        assert mail.header("To") == "rosa.delgado@example.org"
        body = mail.body().rstrip("\n")
        assert CARD not in body and "4111" not in body
        [stored] = await approvals(bot, handoff_id)
        assert stored.detail["followup_email"] == body  # exactly the approved, suppressed text
        assert stored.detail["email_invoice"] is False
        assert body.startswith("Hello Rosa,\n\nThanks for the call today.")
        assert body.endswith("\n\nKind regards,\nAcme")
        # The thread: "🔗 Linked: <…|Gmail email sent to …> by <@approver>" (a real mention).
        note = f"email sent to rosa.delgado@example.org> by <@{Demo.APPROVER_1}>"
        await until(lambda: note in "\n".join(bot.thread_texts(card)))
        assert "Email sent to rosa.delgado@example.org by" in str(bot.message(card).blocks)
        assert len(double.sent()) == 1


async def test_unverified_email_gets_no_box_and_nothing_is_sent(tmp_path: Path) -> None:
    async with bot_with_gmail(tmp_path) as (bot, double):
        payload = example("collections_promise", call_id=fresh_call_id("u"))
        payload["customer"] = {**payload["customer"], "email_verified": False}
        payload["billing"] = {"invoice_number": "INV-17790", "payment_status": "overdue"}
        handoff_id = await bot.accept(payload)
        await bot.approve(Demo.APPROVER_1, handoff_id)
        [view] = bot.opened_views(Demo.APPROVER_1, CallbackId.APPROVE_MODAL)
        assert email_blocks(view) == {}
        assert "is not verified" in str(view["blocks"])
        assert len(await approvals(bot, handoff_id)) == 1
        await settled(bot)
        assert double.sent() == []
