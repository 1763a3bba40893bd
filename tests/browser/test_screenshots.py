"""The README's screenshots: a tidy scene in a fresh sandbox, photographed.

Every run takes them (into a temporary folder) so the scene keeps working; ``scripts/screenshots.py``
sets SANDBOX_SCREENSHOTS=docs/screenshots to refresh the committed ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.conftest import TIMEZONE, VIEWPORT
from tests.browser.sandbox_bot import SandboxBot, running_sandbox_bot
from tests.browser.sandbox_page import SandboxPage
from tests.support.examples import example

pytestmark = pytest.mark.browser

SHOTS = ("channel.png", "modal.png", "home.png", "enriched.png", "systems.png")


@pytest.fixture(scope="module")
def fresh_bot(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[SandboxBot]:
    """A sandbox of its own, so the pictures show only this scene."""
    with running_sandbox_bot(tmp_path_factory.mktemp("screenshot-bot")) as bot:
        yield bot


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    wanted = os.environ.get("SANDBOX_SCREENSHOTS")
    target = Path(wanted) if wanted else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


def scene(sandbox: SandboxPage) -> str:
    """A paid invoice, an urgent two-person approval half done; returns the urgent call id."""
    paid = sandbox.send_handoff("create_invoice")
    message = sandbox.message(paid.call_id)
    sandbox.approve(message)
    invoice = sandbox.page.locator("[data-testid=invoice]", has_text=paid.call_id)
    invoice.get_by_role("button", name="Mark paid").click()
    expect(message).to_contain_text("Paid 4,200.00 USD")
    mine = example("refund_with_bank_details")  # owned by Ana: her Home tab lists it
    mine["follow_up"]["finance_owner"] = "ana@acme.example"
    assert sandbox.send_handoff(body=mine).status == 202
    assert sandbox.send_handoff("duplicate_charge_dispute").status == 202
    urgent = sandbox.send_handoff("vip_renewal_blocker")
    vip = sandbox.message(urgent.call_id)
    sandbox.approve(vip)
    expect(vip).to_contain_text("Approved 1 of 2")
    return urgent.call_id


def test_screenshots_of_the_channel_a_modal_and_home(
    browser: Any, fresh_bot: SandboxBot, folder: Path
) -> None:
    context = browser.new_context(
        viewport={**VIEWPORT, "height": 1120}, timezone_id=TIMEZONE, locale="en-US"
    )
    try:
        sandbox = SandboxPage(context.new_page(), fresh_bot.page_url).open(Demo.APPROVER_1)
        call_id = scene(sandbox)
        vip = sandbox.message(call_id)
        vip.evaluate("node => node.scrollIntoView({block: 'start'})")
        sandbox.page.screenshot(path=folder / "channel.png")

        sandbox.click(vip, "Escalate")
        modal = sandbox.modal("Escalate handoff")
        modal.get_by_role("textbox").fill("Renewal lapses at 17:00 and the card keeps failing.")
        sandbox.page.screenshot(path=folder / "modal.png")
        modal.get_by_role("button", name="Cancel").click()
        expect(sandbox.page.get_by_role("dialog")).to_have_count(0)

        sandbox.open_app("Home")
        expect(sandbox.page.locator("#home")).to_contain_text("Refund · Jonas Becker")
        sandbox.page.screenshot(path=folder / "home.png")

        # The VIP blocker enriched by the sandbox Stripe and HubSpot, and the systems the bot
        # wrote to (its Zendesk ticket, the exception sheet, the books).
        sandbox.go(Demo.FINANCE)
        vip = sandbox.message(call_id)
        expect(vip).to_contain_text("Stripe", timeout=20_000)
        expect(vip).to_contain_text("Account", timeout=20_000)
        sandbox.page.wait_for_timeout(1500)  # the last context update redrawn
        vip.evaluate("node => node.scrollIntoView({block: 'start'})")
        sandbox.page.screenshot(path=folder / "enriched.png")
        expect(sandbox.page.locator("[data-testid=zendesk-tickets]")).to_contain_text(
            call_id, timeout=20_000
        )
        expect(sandbox.page.locator("[data-testid=sheet-panel]")).to_contain_text(
            call_id, timeout=20_000
        )
        panel = sandbox.page.locator("[data-testid=sheet-panel]")
        panel.evaluate("node => node.scrollIntoView({block: 'start'})")
        sandbox.page.screenshot(path=folder / "systems.png")
    finally:
        context.close()
    for name in SHOTS:
        assert (folder / name).stat().st_size > 10_000, name
