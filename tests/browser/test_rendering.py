"""The page's mrkdwn renderer, run in the browser: formatting, mentions, dates, and escaping."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.sandbox_bot import SandboxBot

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
