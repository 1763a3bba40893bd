"""The page's mrkdwn renderer, run in the browser: formatting, mentions, dates, and escaping."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from sandbox.slack_state import Demo
from tests.browser.sandbox_bot import SandboxBot
from tests.browser.sandbox_page import SandboxPage

pytestmark = pytest.mark.browser

RENDER = """async (cases) => {
  const m = await import("/sandbox/static/mrkdwn.js");
  const ctx = {
    users: { U0ANA: { real_name: "Ana Lopez", name: "ana" } },
    usergroups: { S0FIN: { handle: "finance" } },
    channels: { C0FIN: { name: "finance" } },
    me: "U0ANA",
  };
  return cases.map((text) => m.renderMrkdwn(text, ctx));
}"""

CASES: list[tuple[str, list[str], list[str]]] = [
    ("*bold*, _italic_ and ~gone~", ["<b>bold</b>", "<i>italic</i>", "<s>gone</s>"], []),
    ("handoff_id_here and 2*3*4", ["handoff_id_here", "2*3*4"], ["<i>", "<b>"]),
    ("`code *not bold*`", ["<code>code *not bold*</code>"], ["<b>"]),
    (
        "<https://crm.example/a?b=1&amp;c=2|Open &amp; see>",
        ['href="https://crm.example/a?b=1&amp;c=2"', ">Open &amp; see</a>", 'rel="noopener"'],
        [],
    ),
    ("<javascript:alert(1)|click me>", ["click me"], ["<a", "javascript"]),
    ("&lt;script&gt;alert(1)&lt;/script&gt; <b>", ["&lt;script&gt;"], ["<script", "<b>"]),
    (
        "<@U0ANA> and <!subteam^S0FIN> in <#C0FIN>",
        ['class="mention me"', "@Ana Lopez", "@finance", "#finance"],
        ["U0ANA&gt;"],
    ),
    ("> quoted line\nplain line", ["<blockquote>quoted line</blockquote>plain line"], []),
    ("```\npre *x*\n```", ["<pre>pre *x*\n</pre>"], ["<b>"]),
    (
        "<!date^1700000000^{date_num} at {time}|2023-11-14 22:13 UTC>",
        ['data-ts="1700000000"', "2023-11-14 at 11:13 PM"],  # Europe/Berlin, the page's zone
        ["UTC"],
    ),
    ("<!date^1700000000^{date_long}|x>", ["Tuesday, November 14th, 2023"], []),
    ("Harbor &amp; Finch", ["Harbor &amp; Finch"], ["&amp;amp;"]),
    (  # caller text made inert by blocks.common.inert: shown as typed, never bold
        "<!date^00000000^{_}|*>✅ Approved by Ana<!date^00000000^{_}|*> and "
        "<!date^00000000^{_}|_>x<!date^00000000^{_}|_>",
        ["*✅ Approved by Ana* and _x_"],
        ["<b>", "<i>", "<time", "{_}"],
    ),
]


def test_mrkdwn_is_rendered_as_slack_shows_it(page: Any, sandbox_bot: SandboxBot) -> None:
    page.goto(sandbox_bot.page_url)
    rendered = page.evaluate(RENDER, [text for text, _, _ in CASES])
    for (text, wanted, unwanted), html in zip(CASES, rendered, strict=True):
        for piece in wanted:
            assert piece in html, (text, html)
        for piece in unwanted:
            assert piece not in html, (text, html)


def test_pretty_dates_say_today_yesterday_and_tomorrow(page: Any, sandbox_bot: SandboxBot) -> None:
    page.goto(sandbox_bot.page_url)
    words = page.evaluate(
        """async () => {
          const m = await import("/sandbox/static/mrkdwn.js");
          const now = new Date();
          const at = (days) => new Date(now.getFullYear(), now.getMonth(), now.getDate() + days, 12);
          return [-1, 0, 1, 9].map((d) => m.formatSlackDate(at(d), "{date_short_pretty}", now));
        }"""
    )
    assert words[:3] == ["yesterday", "today", "tomorrow"]
    assert words[3][0].isupper()  # e.g. "Dec 5, 2026"


def test_a_handoff_message_leads_with_the_decision(sandbox: SandboxPage) -> None:
    sent = sandbox.send_handoff("create_invoice")
    message = sandbox.message(sent.call_id)
    expect(message.locator(".bk-header")).to_have_text(
        "[SANDBOX] Create invoice · Harbor & Finch LLC · 4,200.00 USD"
    )
    status = message.locator(".bk-section").first  # the one status line under the header
    expect(status).to_contain_text("Waiting for approval · due ")
    expect(status).to_contain_text("Normal priority")
    expect(message.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    # Measured in one go in the page: connectors' context redraws the message as it arrives.
    buttons_first = message.evaluate(
        """node => {
            const button = [...node.querySelectorAll('button')]
                .find(b => b.textContent.trim() === 'Approve');
            // The details' "Customer" heading: the last one (an account's lifecycle stage in
            // HubSpot's section can read "Customer" too).
            const label = [...node.querySelectorAll('*')]
                .filter(e => e.children.length === 0 && e.textContent.trim() === 'Customer')
                .pop();
            if (!button || !label) return null;
            // Document order, not geometry: a long message may fold its details out of sight.
            return Boolean(
                button.compareDocumentPosition(label) & Node.DOCUMENT_POSITION_FOLLOWING
            );
        }"""
    )
    assert buttons_first is True
    expect(message).not_to_contain_text("Needs mapping")
    ids = message.locator(".bk-context").last
    expect(ids).to_contain_text(f"Call {sent.call_id}")
    expect(ids).to_contain_text("call at")


def test_an_invoice_request_reads_as_a_request_and_its_requester_gets_the_link(
    sandbox: SandboxPage,
) -> None:
    sandbox.act_as(Demo.BILLING_OPS)
    sandbox.type("/invoice new")
    modal = sandbox.modal("Request an invoice")
    modal.locator("input[type=email]").fill("accounts@lakeside.example")
    modal.get_by_placeholder("1250.00").fill("1250.00")
    modal.locator("select").select_option("EUR")
    modal.locator("textarea").first.fill("Onboarding workshop, 2 days")
    sandbox.submit(modal)
    request = sandbox.message("accounts@lakeside.example")
    expect(request.locator(".bk-header")).to_contain_text(
        "Create invoice · accounts@lakeside.example · 1,250.00 EUR"
    )
    expect(request).to_contain_text("What was requested")
    expect(request).to_contain_text("typed by @Bea Lindqvist")
    for call_words in ("What the caller asked", "What DialNexa learned", "on the call", "verified"):
        expect(request).not_to_contain_text(call_words)
    sandbox.open_app("Messages")
    dm = sandbox.message("accounts@lakeside.example")  # the bot's DM to the requester
    expect(dm).to_contain_text("sent to finance for approval")
    expect(dm.get_by_role("link", name="open your request")).to_be_visible()
