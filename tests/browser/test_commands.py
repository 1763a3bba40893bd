"""In a real browser: the slash commands, answered only to the person who typed them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.sandbox_page import SandboxPage
from tests.browser.test_handoffs import approve_invoice

pytestmark = pytest.mark.browser


def test_invoice_lookup_by_email(sandbox: SandboxPage) -> None:
    call_id = approve_invoice(sandbox)
    sandbox.type("/invoice ap@harborfinch.example")
    answer = sandbox.ephemerals().last
    expect(answer).to_contain_text("Plisio invoices for ap@harborfinch.example")
    expect(answer).to_contain_text(call_id)  # the order number
    expect(answer).not_to_contain_text("Looking up")  # replaced through the response_url
    sandbox.act_as(Demo.APPROVER_2)
    expect(sandbox.ephemerals()).to_have_count(0)


def test_invoice_new_opens_the_request_form(sandbox: SandboxPage) -> None:
    sandbox.act_as(Demo.BILLING_OPS)
    sandbox.type("/invoice new")
    modal = sandbox.modal("Request an invoice")
    modal.locator("input[type=email]").fill("not-an-email")
    modal.get_by_placeholder("1250.00").fill("-5")
    sandbox.submit(modal)
    expect(modal.locator(".has-error").first).to_be_visible()  # the bot's field errors
    modal.locator("input[type=email]").fill("payables@northwind.example")
    modal.get_by_placeholder("1250.00").fill("1250.00")
    modal.locator("select").select_option("EUR")
    modal.locator("textarea").first.fill("Onboarding workshop, 2 days")
    sandbox.submit(modal)
    expect(sandbox.page.get_by_role("dialog")).to_have_count(0)
    request = sandbox.message("payables@northwind.example")
    expect(request).to_contain_text("Requested by @Bea Lindqvist")
    expect(request).to_contain_text("1,250.00 EUR")
    sandbox.open_app("Messages")
    expect(sandbox.page.locator("#timeline")).to_contain_text("sent to finance for approval")


def test_handoff_command_shows_where_a_call_stands(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("collections_promise")
    sandbox.go(Demo.COLLECTIONS_CHANNEL)
    expect(sandbox.message(sent.call_id)).to_be_visible()
    sandbox.type(f"/handoff {sent.call_id}")
    status = sandbox.ephemerals().last
    expect(status).to_contain_text(sent.call_id)
    expect(status).to_contain_text("Waiting for approval")
    sandbox.type("/handoff dnx_call_nobody_knows")
    expect(sandbox.ephemerals().last).to_contain_text("dnx_call_nobody_knows")
