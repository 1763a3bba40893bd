"""The plain-words parser, pinned by a table of phrasings (typos, word order, unknown input)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.intents import Intent, Kind, canonical, parse
from services.when import parse_until, parse_when

# Wednesday 25 November 2026, 14:00 UTC = 09:00 in New York.
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
NY = "America/New_York"
K = Kind

# (typed, kind, the one field that matters: call id / customer / email / user, or None)
TABLE: list[tuple[str, Kind, str | None]] = [
    # status by call ID
    ("status dnx_call_123", K.STATUS, "dnx_call_123"),
    ("STATUS DNX_CALL_123", K.STATUS, "DNX_CALL_123"),
    ("dnx_call_123 status?", K.STATUS, "dnx_call_123"),
    ("stauts dnx_call_123", K.STATUS, "dnx_call_123"),
    ("statsu dnx_call_7", K.STATUS, "dnx_call_7"),
    ("what's the status of dnx_call_42", K.STATUS, "dnx_call_42"),
    ("whats happening with dnx_call_42?!", K.STATUS, "dnx_call_42"),
    ("dnx_call_42", K.STATUS, "dnx_call_42"),
    ("show me dnx_call_42 please", K.STATUS, "dnx_call_42"),
    ("where is dnx_call_42 at", K.STATUS, "dnx_call_42"),
    ("lookup req_2026_001", K.STATUS, "req_2026_001"),
    # customer by name
    ("what's happening with Harbor & Finch", K.CUSTOMER, "Harbor & Finch"),
    ("What’s happening with Harbor &amp; Finch?", K.CUSTOMER, "Harbor & Finch"),
    ("Harbor & Finch status", K.CUSTOMER, "Harbor & Finch"),
    ("status of Harbor & Finch", K.CUSTOMER, "Harbor & Finch"),
    ("how's Harbor & Finch going?", K.CUSTOMER, "Harbor & Finch"),
    ("any update on Northwind Traders", K.CUSTOMER, "Northwind Traders"),
    ("progress on Acme", K.CUSTOMER, "Acme"),
    ("stattus Acme Corp", K.CUSTOMER, "Acme Corp"),
    ("find Globex", K.CUSTOMER, "Globex"),
    # invoices by email
    ("invoices for ap@x.example", K.INVOICES, "ap@x.example"),
    ("Invoices for AP@X.EXAMPLE", K.INVOICES, "AP@X.EXAMPLE"),
    ("invocies for ap@x.example", K.INVOICES, "ap@x.example"),
    ("ap@x.example invoices", K.INVOICES, "ap@x.example"),
    ("invoice ap@x.example", K.INVOICES, "ap@x.example"),
    ("invoices for <mailto:ap@x.example|ap@x.example>", K.INVOICES, "ap@x.example"),
    ("show invoices of billing@harbor-finch.example", K.INVOICES, "billing@harbor-finch.example"),
    ("what did ap@x.example get billed", K.INVOICES, "ap@x.example"),
    ("ap@x.example", K.INVOICES, "ap@x.example"),
    ("any invoices for ap+eu@x.example?", K.INVOICES, "ap+eu@x.example"),
    # overdue
    ("what's overdue", K.OVERDUE, None),
    ("What's overdue for me?", K.OVERDUE, None),
    ("overdue", K.OVERDUE, None),
    ("OVERDUE!!", K.OVERDUE, None),
    ("overdeu", K.OVERDUE, None),
    ("ovredue?", K.OVERDUE, None),
    ("anything late?", K.OVERDUE, None),
    ("what am I behind on", K.OVERDUE, None),
    ("which handoffs are past due", K.OVERDUE, None),
    ("overdue for me", K.OVERDUE, None),
    # my queue
    ("my queue", K.MY_QUEUE, None),
    ("queue", K.MY_QUEUE, None),
    ("My Queue.", K.MY_QUEUE, None),
    ("queu", K.MY_QUEUE, None),
    ("what's on my plate", K.MY_QUEUE, None),
    ("what is assigned to me", K.MY_QUEUE, None),
    ("my handoffs", K.MY_QUEUE, None),
    ("show my tasks", K.MY_QUEUE, None),
    ("queue mine", K.MY_QUEUE, None),
    ("my stuff", K.MY_QUEUE, None),
    # waiting for me (approvals)
    ("waiting for me", K.WAITING, None),
    ("what's waiting for my approval", K.WAITING, None),
    ("What needs my approval?", K.WAITING, None),
    ("approvals", K.WAITING, None),
    ("pending", K.WAITING, None),
    ("wiating for me", K.WAITING, None),
    ("anything awaiting me?", K.WAITING, None),
    ("me waiting for", K.WAITING, None),
    # help
    ("help", K.HELP, None),
    ("HELP!", K.HELP, None),
    ("hlep", K.HELP, None),
    ("hi", K.HELP, None),
    ("hello there", K.HELP, None),
    ("what can you do?", K.HELP, None),
    ("commands", K.HELP, None),
    ("", K.HELP, None),
    ("status", K.STATUS, None),
    # snooze and remind
    ("snooze 2h", K.SNOOZE, None),
    ("Snooze 2H", K.SNOOZE, None),
    ("snoze 2h", K.SNOOZE, None),
    ("2h snooze", K.SNOOZE, None),
    ("snooze for 30m", K.SNOOZE, None),
    ("snooze until tomorrow 9am", K.SNOOZE, None),
    ("snooze it till friday", K.SNOOZE, None),
    ("remind me friday", K.SNOOZE, None),
    ("remnid me tomorrow", K.SNOOZE, None),
    ("remind me in 2 hours", K.SNOOZE, None),
    ("postpone to monday 10am", K.SNOOZE, None),
    ("later", K.SNOOZE, None),
    ("snooze", K.SNOOZE, None),
    ("snooze dnx_call_9 4h", K.SNOOZE, "dnx_call_9"),
    # assign
    ("assign <@U0BEN>", K.ASSIGN, "U0BEN"),
    ("assign to <@U0BEN|ben>", K.ASSIGN, "U0BEN"),
    ("asign <@U0BEN>", K.ASSIGN, "U0BEN"),
    ("reassign <@U0BEN>", K.ASSIGN, "U0BEN"),
    ("<@U0BEN> assign", K.ASSIGN, "U0BEN"),
    ("give it to <@U0BEN>", K.ASSIGN, "U0BEN"),
    ("hand this to <@W0BEN> please", K.ASSIGN, "W0BEN"),
    ("assign to ben", K.ASSIGN, None),
    # done
    ("done", K.DONE, None),
    ("DONE.", K.DONE, None),
    ("dnoe", K.DONE, None),
    ("mark done", K.DONE, None),
    ("mark as done", K.DONE, None),
    ("mark it complete", K.DONE, None),
    ("resolved", K.DONE, None),
    ("close it", K.DONE, None),
    # money-moving: never acted on
    ("approve", K.APPROVE, None),
    ("approve dnx_call_123", K.APPROVE, "dnx_call_123"),
    ("aprove it", K.APPROVE, None),
    ("please authorize this", K.APPROVE, None),
    ("decline", K.DECLINE, None),
    ("reject dnx_call_123", K.DECLINE, "dnx_call_123"),
    ("create an invoice for ap@x.example", K.CREATE_INVOICE, "ap@x.example"),
    ("new invoice", K.CREATE_INVOICE, None),
    ("send an invoice to ap@x.example for 120 EUR", K.CREATE_INVOICE, "ap@x.example"),
    ("invoice ap@x.example $50", K.CREATE_INVOICE, "ap@x.example"),
    ("creat invoce", K.CREATE_INVOICE, None),
    # unknown
    ("blah blah", K.UNKNOWN, None),
    ("what is the meaning of life", K.UNKNOWN, None),
    ("lunch?", K.UNKNOWN, None),
    ("1234", K.UNKNOWN, None),
    ("none", K.UNKNOWN, None),
    ("note", K.UNKNOWN, None),
    ("🙂", K.UNKNOWN, None),
    ("the cat sat on the mat", K.UNKNOWN, None),
]


def _field(intent: Intent) -> str | None:
    return intent.call_id or intent.customer or intent.email or intent.user


def test_the_table_has_at_least_a_hundred_phrasings() -> None:
    assert len(TABLE) >= 100
    assert len({typed for typed, _, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("typed", "kind", "field"), TABLE)
def test_phrasing(typed: str, kind: Kind, field: str | None) -> None:
    intent = parse(typed, now=NOW, tz=NY)
    assert intent.kind is kind
    if kind in {K.STATUS, K.CUSTOMER, K.INVOICES, K.ASSIGN} or field is not None:
        assert _field(intent) == field


def test_a_mention_of_the_bot_is_not_read_as_a_person() -> None:
    intent = parse("<@U0BOT> assign <@U0BEN>", now=NOW, bot_user="U0BOT")
    assert (intent.kind, intent.user, intent.text) == (K.ASSIGN, "U0BEN", "assign @U0BEN")
    assert parse("<@U0BOT> what's overdue", now=NOW, bot_user="U0BOT").kind is K.OVERDUE


# A plain reply in a handoff's thread: short commands act, everything else is a note.
REPLIES = [
    ("snooze 2h", K.SNOOZE),
    ("done", K.DONE),
    ("Done!", K.DONE),
    ("mark done", K.DONE),
    ("assign <@U0BEN>", K.ASSIGN),
    ("remind me friday", K.SNOOZE),
    ("approve", K.APPROVE),
    ("status", K.STATUS),
    ("Customer agreed to pay 500 EUR by friday, Ben owns it", K.NOTE),
    ("Done. They paid by wire and it's all sorted now, nothing else to do", K.NOTE),
    ("ok thanks", K.NOTE),
    ("I will snooze this later", K.NOTE),
    ("card 4111 1111 1111 1111 exp 12/29", K.NOTE),
    ("what's overdue", K.NOTE),
]


@pytest.mark.parametrize(("typed", "kind"), REPLIES)
def test_thread_replies(typed: str, kind: Kind) -> None:
    assert parse(typed, now=NOW, tz=NY, reply=True).kind is kind


def test_money_is_parsed_for_the_prefilled_form_only() -> None:
    intent = parse("create an invoice for ap@x.example 1,250.50 eur", now=NOW)
    assert (intent.amount, intent.currency) == (Decimal("1250.50"), "EUR")
    assert parse("invoice ap@x.example $50", now=NOW).currency == "USD"


def local(hour: int, minute: int = 0, day: int = 25) -> datetime:
    """A New York wall-clock time in November 2026 (UTC-5) as UTC."""
    return datetime(2026, 11, 25, hour + 5, minute, tzinfo=UTC) + timedelta(days=day - 25)


WHEN = [
    ("2h", NOW + timedelta(hours=2)),
    ("30m", NOW + timedelta(minutes=30)),
    ("1h30m", NOW + timedelta(minutes=90)),
    ("for 90 minutes", NOW + timedelta(minutes=90)),
    ("an hour", NOW + timedelta(hours=1)),
    ("half an hour", NOW + timedelta(minutes=30)),
    ("2 days", NOW + timedelta(days=2)),
    ("tomorrow", local(9, day=26)),
    ("until tomorrow 9am", local(9, day=26)),
    ("tomorrow at 2:30pm", local(14, 30, day=26)),
    ("until 5pm", local(17)),
    ("5 pm", local(17)),
    ("17:00", local(17)),
    ("8am", local(8, day=26)),  # 8am has passed in New York: tomorrow's
    ("friday", local(9, day=27)),
    ("fri 3pm", local(15, day=27)),
    ("wednesday", local(9, day=25 + 7)),  # today is Wednesday: next week's
    ("next week", local(9, day=30)),
    ("noon", local(12)),
    ("eod", local(17)),
]


@pytest.mark.parametrize(("typed", "expected"), WHEN)
def test_when_in_the_persons_time_zone(typed: str, expected: datetime) -> None:
    assert parse_when(typed, now=NOW, tz=NY) == expected


def test_when_without_a_time_or_with_an_unknown_zone() -> None:
    assert parse_when("whenever", now=NOW, tz=NY) is None
    assert parse_when("tomorrow", now=NOW, tz="Mars/Olympus") == datetime(
        2026, 11, 26, 9, tzinfo=UTC
    )
    assert parse_when("9 am", now=NOW) == datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("word", "key"),
    [("snoze", "snooze"), ("asign", "assign"), ("none", None), ("gone", None), ("cat", None)],
)
def test_one_typo_is_forgiven_but_real_words_are_not_corrected(word: str, key: str | None) -> None:
    assert canonical(word) == key


# Monday 30 November 2026, 10:00 UTC (11:00 in Madrid).
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
MADRID = "Europe/Madrid"


def madrid(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    """A Madrid wall-clock time (UTC+1 in winter, UTC+2 in summer) as UTC."""
    offset = 2 if 4 <= month <= 9 else 1
    return datetime(year, month, day, hour - offset, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "delegate", "until"),
    [
        ("I'm away until Friday, delegate to <@U0BEN>", "U0BEN", madrid(12, 4, 18)),
        ("away until 2026-12-10 delegate to <@U0BEN>", "U0BEN", madrid(12, 10, 18)),
        ("I am on vacation till Dec 10, <@U0BEN> approves", "U0BEN", madrid(12, 10, 18)),
        ("out of office until 10 December 2pm; <@U0BEN> covers", "U0BEN", madrid(12, 10, 14)),
        ("OOO until tomorrow noon, delegate to <@U0BEN>", "U0BEN", madrid(12, 1, 12)),
        ("away until Jan 5 delegate <@U0BEN>", "U0BEN", madrid(1, 5, 18, year=2027)),
        ("I'm away until Friday", None, madrid(12, 4, 18)),
        ("away, delegate to <@U0BEN>", "U0BEN", None),
    ],
)
def test_away_in_plain_words(typed: str, delegate: str | None, until: datetime | None) -> None:
    intent = parse(typed, now=MONDAY, tz=MADRID)
    assert (intent.kind, intent.user, intent.until) == (K.AWAY, delegate, until)


@pytest.mark.parametrize(
    "typed", ["I'm back", "im back", "I’m back!", "back now", "end my delegation"]
)
def test_back_in_plain_words(typed: str) -> None:
    assert parse(typed, now=MONDAY, tz=MADRID).kind is K.BACK


def test_a_mention_id_is_never_read_as_a_time() -> None:
    # "U012H" would read as 12 hours if mentions were not taken out first.
    intent = parse("away until friday, delegate to <@U012H>", now=MONDAY, tz=MADRID)
    assert intent.until == madrid(12, 4, 18)


def test_calendar_dates_snooze_too_and_roll_into_next_year() -> None:
    assert parse_when("snooze until dec 10", now=MONDAY, tz=MADRID) == madrid(12, 10, 9)
    assert parse_when("remind me 2026-12-02 3pm", now=MONDAY, tz=MADRID) == madrid(12, 2, 15)
    assert parse_until("until nov 2", now=MONDAY, tz=MADRID) == madrid(11, 2, 18, year=2027)
    assert parse_until("until feb 30", now=MONDAY, tz=MADRID) is None
    assert parse_until("for 3 days", now=MONDAY) == MONDAY + timedelta(days=3)
    assert parse_until("whenever", now=MONDAY) is None
