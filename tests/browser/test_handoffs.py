"""In a real browser: handoffs arrive, render, and are approved, refused, paid and escalated.

Each test sends its own handoff as a new call, so the tests share one sandbox bot safely.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.conftest import TIMEZONE
from tests.browser.sandbox_bot import SandboxBot
from tests.browser.sandbox_page import SandboxPage

pytestmark = pytest.mark.browser

LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def approve_invoice(sandbox: SandboxPage, example: str = "create_invoice") -> str:
    """Send an invoice handoff and approve it as the first approver; return its call id."""
    sent = sandbox.send_handoff(example)
    assert sent.status == 202
    message = sandbox.message(sent.call_id)
    sandbox.approve(message)
    expect(message).to_contain_text("Awaiting payment")
    return sent.call_id


def test_the_run_command_announces_the_sandbox_loudly(sandbox_bot: SandboxBot) -> None:
    log = sandbox_bot.log()
    assert "SANDBOX MODE" in log
    assert f"Open  {sandbox_bot.page_url}" in log
    assert "BOT_MODE=sandbox" in log
    records = [line for line in log.splitlines() if LOG_RECORD.search(line)]
    assert records
    assert all(line.startswith("[SANDBOX] ") for line in records)


def test_a_handoff_arrives_and_renders_like_slack(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("duplicate_charge_dispute")
    assert sent.status == 202
    assert sent.call_id.startswith("dnx_call_")
    disputes = sandbox.page.locator(f"[data-channel-id={Demo.DISPUTES}]")
    expect(disputes).to_have_class(re.compile(r"\bunread\b"))  # it landed in another channel
    sandbox.go(Demo.DISPUTES)
    message = sandbox.message(sent.call_id)
    expect(message.locator(".bk-header")).to_contain_text("[SANDBOX]")
    expect(message).to_contain_text("SANDBOX — not a real workspace")
    # mrkdwn: the urgent mention names the group; nothing raw is left over.
    expect(message.locator(".mention.group", has_text="@finance")).to_be_visible()
    expect(message.locator("b", has_text="What the caller asked")).to_be_visible()
    expect(message).not_to_contain_text("<!")
    expect(message).not_to_contain_text("<@")
    # Date tokens in the browser's own zone: "call at …" and "received …", both today.
    dates = message.locator(".bk-context time.slack-date")
    expect(dates).to_have_count(2)
    expect(message.locator(".bk-context")).to_contain_text("received")
    for index in range(2):
        shown = dates.nth(index)
        stamp = int(shown.get_attribute("data-ts") or 0)
        local = datetime.fromtimestamp(stamp, ZoneInfo(TIMEZONE))
        expect(shown).to_have_text(
            f"today at {local.strftime('%I:%M %p').lstrip('0')}", use_inner_text=True
        )
    for button in ("Approve", "Decline", "Escalate", "Reassign"):
        expect(message.get_by_role("button", name=button, exact=True)).to_be_visible()
    expect(message.get_by_role("link", name=re.compile("Transcript"))).to_have_attribute(
        "href", re.compile(r"^https://")
    )


def test_the_handoff_panel_shows_the_bots_answers(sandbox: SandboxPage) -> None:
    first = sandbox.send_handoff("receipt_resend")
    assert first.status == 202
    body = {
        "schema_version": "1",
        "call_id": first.call_id,
        "occurred_at": "2026-11-26T10:05:00Z",
        "caller_request": "Please resend my receipt.",
    }
    again = sandbox.send_handoff(body=body, new_call=False)
    assert again.status == 200
    assert again.handoff_id == first.handoff_id
    expect(sandbox.page.locator("#handoff-result")).to_contain_text("duplicate")
    del body["caller_request"]
    refused = sandbox.send_handoff(body=body, new_call=False)
    assert refused.status == 422
    expect(sandbox.page.locator("#handoff-result .field-errors")).to_contain_text("caller_request")


def test_an_outsiders_approval_is_refused(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("create_invoice")
    sandbox.act_as(Demo.OUTSIDER)
    expect(sandbox.page.locator("#acting-roles")).to_contain_text("refused")
    message = sandbox.message(sent.call_id)
    sandbox.click(message, "Approve")  # no dialog: refused before anything is promised
    expect(sandbox.page.get_by_role("dialog")).to_have_count(0)
    refusal = sandbox.ephemerals().last
    expect(refusal).to_contain_text("Only visible to you")
    expect(refusal).to_contain_text("Only finance approvers can approve")
    expect(message).to_contain_text("Waiting for approval")
    # Escalate and Reassign are for finance members (and the owner): refused the same way.
    sandbox.click(message, "Escalate")
    expect(sandbox.ephemerals().last).to_contain_text("Only finance members can escalate")
    sandbox.click(message, "Reassign")
    expect(sandbox.ephemerals().last).to_contain_text("owner or a finance member can reassign")
    expect(sandbox.page.get_by_role("dialog")).to_have_count(0)
    sandbox.type("/invoice ap@harborfinch.example")
    expect(sandbox.ephemerals().last).to_contain_text("Only finance members can look up")
    sandbox.act_as(Demo.APPROVER_1)  # the refusal was for the outsider's eyes only
    expect(sandbox.page.locator("#timeline", has_text="Only finance approvers")).to_have_count(0)


def test_an_approver_approves_and_the_invoice_link_appears_in_the_thread(
    sandbox: SandboxPage,
) -> None:
    call_id = approve_invoice(sandbox)
    message = sandbox.message(call_id)
    expect(message).to_contain_text("Approved by @Ana Lopez")
    thread = sandbox.thread(message)
    expect(thread).to_contain_text("Ana Lopez approved this handoff")
    link = thread.get_by_role("link", name="Open invoice")
    expect(link).to_have_attribute("href", re.compile(r"/sandbox/pay/[0-9a-f]{24}$"))
    invoice = sandbox.page.locator("[data-testid=invoice]", has_text=call_id)
    sandbox.close_thread()
    expect(invoice.get_by_test_id("invoice-status")).to_have_text("new")


def test_a_paid_callback_updates_the_message(sandbox: SandboxPage) -> None:
    call_id = approve_invoice(sandbox)
    message = sandbox.message(call_id)
    with sandbox.page.expect_popup() as popup:
        message.get_by_role("link", name=re.compile("Plisio invoice")).click()
    invoice_page = popup.value
    invoice_page.wait_for_load_state("load")  # its buttons work once pay.js has run
    expect(invoice_page.locator(".sandbox-banner")).to_contain_text("SANDBOX")
    invoice_page.get_by_role("button", name="Mark paid").click()
    expect(invoice_page.locator(".pay-result")).to_contain_text("HTTP 200")
    invoice_page.close()
    expect(message).to_contain_text("Paid 4,200.00 USD")
    expect(message.get_by_role("button", name="Approve")).to_have_count(0)
    expect(sandbox.thread(message)).to_contain_text("The Plisio invoice was paid")


def test_a_short_payment_shows_underpaid_and_reissue_replaces_the_invoice(
    sandbox: SandboxPage,
) -> None:
    call_id = approve_invoice(sandbox)
    message = sandbox.message(call_id)
    with sandbox.page.expect_popup() as popup:
        message.get_by_role("link", name=re.compile("Plisio invoice")).click()
    invoice_page = popup.value
    invoice_page.wait_for_load_state("load")  # its buttons work once pay.js has run
    invoice_page.get_by_role("button", name="Pay short (underpaid)").click()
    expect(invoice_page.locator(".pay-result")).to_contain_text("HTTP 200")
    invoice_page.close()
    expect(message).to_contain_text("Underpaid: expected 4,200.00 USDT, received 3,780.00 USDT")
    expect(message).not_to_contain_text("Paid 4,200.00 USD")
    expect(sandbox.thread(message)).to_contain_text("underpaid")
    sandbox.close_thread()
    sandbox.click(message, "Reissue invoice")
    expect(message).to_contain_text("Replaced: an earlier invoice (Underpaid)")
    expect(message).to_contain_text("Awaiting payment")
    expect(message.get_by_role("button", name="Reissue invoice")).to_have_count(0)


def test_two_different_approvers_are_needed_above_the_threshold(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("vip_renewal_blocker")  # 24,000 GBP: two approvers
    message = sandbox.message(sent.call_id)
    expect(message).to_contain_text("from two different approvers")
    sandbox.approve(message, says="Records approval 1 of 2")
    expect(message).to_contain_text("Approved 1 of 2")
    sandbox.click(message, "Approve (2nd of 2)")  # refused at the click: no second dialog
    expect(sandbox.ephemerals().last).to_contain_text("different approver")
    sandbox.act_as(Demo.APPROVER_2)
    sandbox.approve(message, "Approve (2nd of 2)", says="Approval 2 of 2")
    expect(message).to_contain_text("Approved by @Ana Lopez and @Ben Okoro")
    expect(message).to_contain_text("Awaiting payment")


def test_escalate_modal(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("refund_with_bank_details")
    sandbox.go(Demo.DISPUTES)
    message = sandbox.message(sent.call_id)
    expect(message).to_contain_text("Removed from this handoff: bank details")
    sandbox.click(message, "Escalate")
    modal = sandbox.modal("Escalate handoff")
    sandbox.submit(modal)  # empty: Slack refuses a required input before the app sees it
    expect(modal.locator(".bk-error")).to_contain_text("required")
    modal.get_by_role("textbox").fill("Customer threatens a chargeback tonight")
    sandbox.submit(modal)
    expect(sandbox.page.get_by_role("dialog")).to_have_count(0)
    expect(message).to_contain_text("Escalated by @Ana Lopez")
    expect(message).to_contain_text("chargeback tonight")
    sandbox.go(Demo.ESCALATIONS)
    notice = sandbox.page.locator("#timeline [data-testid=message]", has_text="chargeback tonight")
    expect(notice).to_contain_text("@Farah Nasser")


def test_reassign_modal_and_the_new_owners_dm(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("create_invoice")
    message = sandbox.message(sent.call_id)
    sandbox.click(message, "Reassign")
    modal = sandbox.modal("Reassign handoff")
    modal.get_by_role("combobox").select_option(Demo.COLLECTIONS)
    modal.get_by_role("textbox").fill("You know this customer best.")
    sandbox.submit(modal)
    expect(sandbox.page.get_by_role("dialog")).to_have_count(0)
    expect(message).to_contain_text("Owner: @Carlos Mendes")
    sandbox.act_as(Demo.COLLECTIONS)
    sandbox.open_app("Messages")
    dm = sandbox.page.locator("#timeline [data-testid=message]", has_text=sent.call_id)
    expect(dm).to_contain_text("You know this customer best.")
