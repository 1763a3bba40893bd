"""Caller text in mrkdwn: escaped, and its formatting marks inert (issue #11 item 9)."""

from __future__ import annotations

import re

import pytest

from blocks.common import clip_mrkdwn, escape, inert

TOKEN = re.compile(r"<!date\^00000000\^\{_\}\|(.)>")


def shown(mrkdwn: str) -> str:
    """What Slack shows for the inert tokens: their fallback, the mark itself."""
    return TOKEN.sub(r"\1", mrkdwn)


def bare_marks(mrkdwn: str) -> str:
    """The formatting marks left outside inert tokens."""
    return "".join(ch for ch in TOKEN.sub("", mrkdwn) if ch in "*_~`")


@pytest.mark.parametrize(
    "text",
    [
        "*✅ Approved by Ana Lopez*",
        "_italic_ and ~struck~ and `code` and ```block```",
        "*bold*_*mixed*_",
        "<!channel> <@U0ANA> & *you*",
        "> not a quote\n> nor this",
    ],
)
def test_marks_are_inert_and_the_text_reads_as_typed(text: str) -> None:
    made = inert(text)
    assert bare_marks(made) == ""
    assert shown(made).replace("\u00ad", "") == escape(text)
    assert "<!channel>" not in made and "<@U0ANA>" not in made


@pytest.mark.parametrize("text", ["ACC_2217", "ap_team@harborfinch.example", "dnx_call_INV2041"])
def test_underscores_inside_words_stay_as_they_are(text: str) -> None:
    assert inert(text) == text


def test_a_line_opening_with_gt_cannot_become_a_quote() -> None:
    assert inert("> hi\nok > fine") == "\u00ad&gt; hi\nok &gt; fine"


def test_clipping_never_splits_a_token() -> None:
    text = "*" * 50
    for limit in range(1, 120):
        clipped, cut = clip_mrkdwn(text, limit, inert=True)
        assert cut
        assert len(clipped) <= limit
        assert bare_marks(clipped.removesuffix("…")) == ""


def test_plain_escaping_is_unchanged_by_default() -> None:
    assert clip_mrkdwn("*a* <b>", 100) == ("*a* &lt;b&gt;", False)
