"""In a real browser: the Home tab and an overdue nudge in the owner's DMs.

Both come from the follow-up work (``handlers/home.py``, ``services/reminders.py``); while that is
absent from a checkout these journeys skip, saying so.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from sandbox.slack_state import Demo
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


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@needs_home
def test_the_home_tab_lists_what_waits_for_an_approver(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("create_invoice")
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
    # Its Slack permalinks open the message inside the sandbox page. The bot republishes the
    # Home tab as connectors report (a click can land on the view being replaced): click again
    # until the channel opens.
    channel = sandbox.page.locator(f"[data-channel-id={Demo.FINANCE}].active")
    for _ in range(5):
        home.get_by_role("link", name=re.compile("Harbor & Finch")).first.click()
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
