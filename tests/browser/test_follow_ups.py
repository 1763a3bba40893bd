"""In a real browser: the Home tab and an overdue nudge in the owner's DMs.

Both come from the follow-up work (``handlers/home.py``, ``services/reminders.py``); while that is
absent from a checkout these journeys skip, saying so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.conftest import TIMEOUT_MS, TIMEZONE, VIEWPORT
from tests.browser.sandbox_bot import free_port, running_sandbox_bot
from tests.browser.sandbox_page import SandboxPage
from tests.support.examples import example


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


needs_home = pytest.mark.skipif(
    bool(_missing("handlers.home", "blocks.home")),
    reason="the App Home tab (handlers/home.py, blocks/home.py) is not in this checkout",
)
needs_reminders = pytest.mark.skipif(
    bool(_missing("services.reminders", "services.nudges", "bot.scheduler")),
    reason="follow-up reminders (services/reminders.py, services/nudges.py) are not in this checkout",
)
pytestmark = pytest.mark.browser


@pytest.fixture
def own_sandbox(tmp_path: Path, browser: Any, chromium: str) -> Iterator[SandboxPage]:
    """A sandbox of its own: the shared one's Home lists the oldest 15 of every earlier
    journey's handoffs, which need not include this one."""
    with running_sandbox_bot(tmp_path / "bot", port=free_port()) as bot:
        context = browser.new_context(viewport=VIEWPORT, timezone_id=TIMEZONE, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield SandboxPage(context.new_page(), bot.page_url).open()
        finally:
            context.close()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@needs_home
def test_the_home_tab_lists_what_waits_for_an_approver(own_sandbox: SandboxPage) -> None:
    sandbox = own_sandbox
    sent = sandbox.send_handoff("create_invoice")
    ts = sandbox.message(sent.call_id).get_attribute("data-ts")
    assert ts
    sandbox.open_app("Home")
    home = sandbox.page.locator("#home")
    expect(home).to_contain_text("Your finance queue")
    expect(home).to_contain_text("Waiting for your approval")
    expect(home).to_contain_text("Harbor & Finch")
    sandbox.act_as(Demo.OUTSIDER)  # a Home tab is per person
    expect(home).not_to_contain_text("Waiting for your approval")
    sandbox.act_as(Demo.APPROVER_1)
    # The approver's own Home is back (not the outsider's, still on screen for a moment).
    expect(home).to_contain_text("Waiting for your approval")
    # Its Slack permalink to this handoff's message opens the message inside the sandbox page.
    # The bot republishes the Home tab as connectors report (a click can land on the view being
    # replaced): click again until the channel opens.
    permalink = home.locator(f"a[href*='/archives/{Demo.FINANCE}/p{ts.replace('.', '')}']")
    channel = sandbox.page.locator(f"[data-channel-id={Demo.FINANCE}].active")
    for _ in range(5):
        permalink.first.click()
        try:
            channel.wait_for(state="visible", timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    expect(channel).to_be_visible()
    expect(sandbox.message(sent.call_id)).to_be_visible()


@needs_reminders
def test_an_overdue_follow_up_nudges_the_owner_by_dm(sandbox: SandboxPage) -> None:
    now = datetime.now(UTC)
    call_id = f"dnx_call_overdue_{now:%H%M%S%f}"
    body = example(
        "create_invoice",
        call_id=call_id,
        occurred_at=iso(now - timedelta(hours=2)),
        customer={"name": "Overdue Outfitters", "email": "ap@overdue.example"},
    )
    body["follow_up"] = {
        "finance_owner": "billing-ops@acme.example",  # Bea Lindqvist
        "next_step": "Call the customer back about the invoice",
        "deadline": iso(now - timedelta(minutes=20)),
    }
    assert sandbox.send_handoff(body=body, new_call=False).status == 202
    expect(sandbox.message(call_id)).to_contain_text("Overdue by")
    sandbox.act_as(Demo.BILLING_OPS)
    sandbox.open_app("Messages")
    nudge = sandbox.page.locator("#timeline [data-testid=message]", has_text=call_id)
    expect(nudge).to_contain_text(
        "Overdue by", timeout=20_000
    )  # the reminder pass runs each second
    expect(nudge).to_contain_text("Call the customer back about the invoice")
    nudge.locator("select").select_option(label="1 hour")  # snooze from the DM
    sandbox.go(Demo.FINANCE)
    thread = sandbox.thread(sandbox.message(call_id))
    expect(thread).to_contain_text("snoozed the follow-up reminders")
