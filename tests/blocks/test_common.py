from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from blocks.common import (
    button,
    clip_mrkdwn,
    escape,
    format_money,
    humanize_duration,
    link,
    section,
    slack_date,
    truncate,
    validate_blocks,
    validate_view,
    who,
)


def test_escape_neutralises_mentions_links_and_dates() -> None:
    assert escape("<!channel> & <@U123> <http://evil|x>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;http://evil|x&gt;"
    )


def test_truncate_ends_with_an_ellipsis() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdef", 4) == "abc…"
    assert len(truncate("x" * 500, 75)) == 75


def test_clip_mrkdwn_never_splits_an_entity() -> None:
    text, cut = clip_mrkdwn("&" * 10, 12)
    assert cut
    assert text == "&amp;&amp;…"
    assert clip_mrkdwn("a<b", 10) == ("a&lt;b", False)


def test_who_mentions_only_real_ids() -> None:
    assert who("U0FINLEAD") == "<@U0FINLEAD>"
    assert who("S0FINANCE") == "<!subteam^S0FINANCE>"
    assert who("ap-lead@acme.example") == "ap-lead@acme.example"
    assert who("<!here>") == "&lt;!here&gt;"


def test_link_cannot_break_out() -> None:
    assert link("https://x.example/a|b>c", "<b>") == "<https://x.example/a%7Cb%3Ec|&lt;b&gt;>"


def test_slack_date_uses_unix_time_and_a_utc_fallback() -> None:
    at = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert slack_date(at) == (
        "<!date^1795712400^{date_short_pretty} at {time}|2026-11-26 17:00 UTC>"
    )
    paris = at.astimezone(timezone(timedelta(hours=1)))
    assert slack_date(paris) == slack_date(at)
    with pytest.raises(ValueError, match="aware"):
        slack_date(datetime(2026, 11, 26, 17, 0))


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("18500", "EUR", "18,500.00 EUR"),
        ("1180.5", "USD", "1,180.50 USD"),
        ("0.00012345", "BTC", "0.00012345 BTC"),
        ("-350.00", "EUR", "-350.00 EUR"),
        ("999999999999.99999999", "USDT", "999,999,999,999.99999999 USDT"),
    ],
)
def test_money_is_exact(amount: str, currency: str, shown: str) -> None:
    assert format_money(Decimal(amount), currency) == shown


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=20), "1 min"),
        (timedelta(minutes=59), "59 min"),
        (timedelta(hours=2, minutes=5), "2 h"),
        (timedelta(hours=47, minutes=59), "47 h"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=9, hours=23), "9 days"),
    ],
)
def test_humanize_duration(delta: timedelta, shown: str) -> None:
    assert humanize_duration(delta) == shown


def test_validate_blocks_accepts_good_blocks() -> None:
    validate_blocks([section("hi"), {"type": "actions", "elements": [button("Go", "a1")]}])


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([section("x")] * 51, "51 blocks"),
        (
            [{**section("a"), "block_id": "b"}, {**section("c"), "block_id": "b"}],
            "duplicate block_id",
        ),
        (
            [
                {"type": "actions", "elements": [button("A", "same")]},
                {"type": "actions", "elements": [button("B", "same")]},
            ],
            "duplicate action_id",
        ),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "150"),
        ([section("x" * 3001)], "3000"),
        (
            [{"type": "actions", "elements": [button("x", "a", url="https://x/" + "y" * 3000)]}],
            "url",
        ),
        ([{"type": "no_such_block"}], "unknown type"),
    ],
)
def test_validate_blocks_refuses_what_slack_would(
    blocks: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_blocks(blocks)


def test_validate_view_checks_modal_limits() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "t" * 25},
        "blocks": [section("x")],
    }
    with pytest.raises(ValueError, match="title"):
        validate_view(view)
