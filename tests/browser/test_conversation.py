"""In a real browser: a DM question, a "snooze 2h" typed in a handoff's thread, a note with a card."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.sandbox_page import SandboxPage
from tests.browser.test_handoffs import approve_invoice
from tests.support.examples import example

pytestmark = pytest.mark.browser

CARD = "4111 1111 1111 1111"


def test_a_dm_asking_whats_overdue_gets_the_list(sandbox: SandboxPage) -> None:
    late = example("duplicate_charge_dispute", call_id=f"dnx_call_late_{uuid.uuid4().hex[:8]}")
    late["follow_up"]["deadline"] = "2026-01-05T15:00:00Z"  # long past
    sent = sandbox.send_handoff(body=late, new_call=False)
    assert sent.status == 202
    sandbox.act_as(Demo.AP_LEAD)  # its owner
    sandbox.open_app("Messages")
    sandbox.type("whats overdue?")
    timeline = sandbox.page.locator("#timeline")
    expect(timeline).to_contain_text("Your overdue handoffs")
    expect(timeline).to_contain_text("Quill Analytics")
    expect(timeline).to_contain_text(sent.call_id)


def test_snooze_typed_in_the_thread_updates_the_message(sandbox: SandboxPage) -> None:
    call_id = approve_invoice(sandbox)
    message = sandbox.message(call_id)
    thread = sandbox.thread(message)
    sandbox.page.fill("#thread-input", "snooze 2h")
    sandbox.page.press("#thread-input", "Enter")
    expect(thread).to_contain_text("Snoozed: I will remind the owner")  # only the typist sees it
    expect(thread).to_contain_text("snoozed")  # the thread note everyone sees


def test_a_note_with_a_card_number_is_suppressed(sandbox: SandboxPage) -> None:
    call_id = approve_invoice(sandbox)
    thread = sandbox.thread(sandbox.message(call_id))
    sandbox.page.fill("#thread-input", f"Customer read their card {CARD} to me")
    sandbox.page.press("#thread-input", "Enter")
    expect(thread).to_contain_text("I removed a card number from your note before saving it.")
    sandbox.close_thread()
    sandbox.type(f"/handoff {call_id}")
    status = sandbox.ephemerals().last
    expect(status).to_contain_text("added a note: Customer read their card [card ending 1111]")
    expect(status).to_contain_text("Customer read their card")
    expect(status).not_to_contain_text(CARD)
