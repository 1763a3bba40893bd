"""In a real browser: the sandbox keeps its world across a restart, resets as one, and a modal
left open does not come back after a reload.

The restart journeys run their own ``python -m bot`` (stopped with SIGTERM and started again on
the same port and working directory, so on the same ``data/sandbox.db``), not the shared one.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.conftest import TIMEOUT_MS, TIMEZONE, VIEWPORT
from tests.browser.sandbox_bot import SandboxBot, free_port, running_sandbox_bot
from tests.browser.sandbox_page import SandboxPage

pytestmark = pytest.mark.browser

EMAIL = "ap@harborfinch.example"
Start = Callable[[], AbstractContextManager[SandboxBot]]


@pytest.fixture
def start(tmp_path: Path, chromium: str) -> Start:
    """Starts ``python -m bot`` in sandbox mode, each time on the same port and directory."""
    port = free_port()
    return lambda: running_sandbox_bot(tmp_path / "bot", port=port)


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A browser tab that outlives the bots it talks to."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id=TIMEZONE, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def _queued(bot: SandboxBot) -> int:
    """Work the bot still has queued (connectors' links and notes come after the post)."""
    db = bot.workdir / "data" / "sandbox.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
        return int(c.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0])


def quiet(sandbox: SandboxPage, bot: SandboxBot) -> None:
    """Wait until the page stops changing and the bot has no work queued."""
    seen = None
    for _ in range(40):
        version = sandbox.page.locator("body").get_attribute("data-version")
        if version == seen and not _queued(bot):
            return
        seen = version
        sandbox.page.wait_for_timeout(600)


def home_text(sandbox: SandboxPage) -> str:
    """The first approver's Home tab as the bot publishes it on opening (settled)."""
    with sandbox.page.expect_response("**/sandbox/ui/home"):
        sandbox.open_app("Home")
    home = sandbox.page.locator("#home")
    expect(home).to_contain_text("Harbor & Finch")
    text: str = ""
    for _ in range(20):  # the publish reaches the page a moment after the bot answered
        sandbox.page.wait_for_timeout(250)
        now: str = home.inner_text()
        if now == text:
            break
        text = now
    sandbox.go(Demo.FINANCE)
    return re.sub(r"\d{1,2}:\d{2} [AP]M", "h:mm", text)  # "now" moved on a little


def test_a_restart_keeps_the_channel_the_invoices_and_home(start: Start, tab: Any) -> None:
    with start() as bot:
        sandbox = SandboxPage(tab, bot.page_url).open()
        sent = sandbox.send_handoff("create_invoice")
        message = sandbox.message(sent.call_id)
        sandbox.approve(message)
        invoice = tab.locator(f"[data-testid=invoice][data-order*='{sent.call_id}']")
        expect(invoice).to_have_count(1)
        expect(message.locator("a[href*='/sandbox/pay/']").first).to_be_visible()  # invoiced
        quiet(sandbox, bot)
        card_before = message.inner_text()
        invoices_before = tab.locator("#invoices").inner_text()
        home_before = home_text(sandbox)

    with start() as bot:
        sandbox.open()  # the same page, reloaded against the restarted bot
        message = sandbox.message(sent.call_id)
        assert message.inner_text() == card_before
        assert tab.locator("#invoices").inner_text() == invoices_before
        assert home_text(sandbox) == home_before
        sandbox.type(f"/invoice {EMAIL}")
        answer = sandbox.ephemerals().last
        expect(answer).not_to_contain_text("Looking up")
        expect(answer).to_contain_text(sent.call_id)  # Plisio still knows the invoice
        # The open invoice can still be paid, and the bot hears about it.
        invoice = tab.locator(f"[data-testid=invoice][data-order*='{sent.call_id}']")
        invoice.get_by_role("button", name="Mark paid").click()
        expect(invoice.get_by_test_id("invoice-status")).to_have_text("completed")
        expect(message).not_to_have_text(card_before)
        assert "SANDBOX" in bot.log()


def test_reset_sandbox_empties_channels_invoices_and_home_together(start: Start, tab: Any) -> None:
    with start() as bot:
        sandbox = SandboxPage(tab, bot.page_url).open()
        sent = sandbox.send_handoff("create_invoice")
        sandbox.approve(sandbox.message(sent.call_id))
        expect(tab.get_by_test_id("invoice")).to_have_count(1)

        tab.get_by_test_id("reset-sandbox").click()
        tab.get_by_role("alertdialog").get_by_role("button", name="Keep everything").click()
        expect(tab.get_by_role("alertdialog")).to_have_count(0)
        expect(tab.get_by_test_id("invoice")).to_have_count(1)  # kept: nothing was reset

        tab.get_by_test_id("reset-sandbox").click()
        dialog = tab.get_by_role("alertdialog")
        expect(dialog).to_contain_text("Every handoff, message, invoice")
        dialog.get_by_role("button", name="Reset sandbox", exact=True).click()
        expect(tab.locator("#timeline")).to_contain_text("Nothing here yet")
        expect(tab.get_by_test_id("invoice")).to_have_count(0)
        sandbox.open_app("Home")
        expect(tab.locator("#home")).not_to_contain_text("Harbor & Finch")
        sandbox.go(Demo.FINANCE)
        sandbox.type(f"/invoice {EMAIL}")
        expect(sandbox.ephemerals().last).to_contain_text("No Plisio invoices")

    with start() as bot:  # and a restart finds the same empty world
        sandbox.open()
        expect(tab.locator("#timeline [data-testid=message]")).to_have_count(0)
        expect(sandbox.ephemerals()).to_contain_text("No Plisio invoices")  # kept, too
        expect(tab.get_by_test_id("invoice")).to_have_count(0)


def test_a_modal_left_open_does_not_come_back_after_a_reload(sandbox: SandboxPage) -> None:
    sandbox.act_as(Demo.BILLING_OPS)
    sandbox.type("/invoice new")
    sandbox.modal("Request an invoice")
    sandbox.page.reload()
    expect(sandbox.page.locator("body[data-ready=true]")).to_be_attached()
    expect(sandbox.page.get_by_role("dialog")).to_have_count(0)
    # The page is usable: nothing covers it.
    sandbox.go(Demo.DISPUTES)
    sandbox.type("/invoice new")
    expect(sandbox.page.get_by_role("dialog")).to_have_count(1)  # and modals still open
