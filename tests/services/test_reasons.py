"""What a decision modal's reason and note become before they are stored."""

from __future__ import annotations

import pytest

from services.reasons import (
    MAX_REASON,
    NO_REASON,
    TOO_LONG,
    clean_email_text,
    clean_note,
    clean_reason,
    email_text_problem,
    reason_problem,
)

CARD = "4111 1111 1111 1111"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (None, None),
        ("", None),
        ("   \n\t ", None),
        (["not", "text"], None),
        ("  duplicate charge  ", "duplicate charge"),
        ("refund\nagreed", "refund\nagreed"),
    ],
)
def test_clean_reason(typed: object, stored: str | None) -> None:
    assert clean_reason(typed) == stored


def test_card_numbers_in_a_reason_are_redacted() -> None:
    stored = clean_reason(f"  customer read out {CARD} on the call ")
    assert stored is not None
    assert "4111" not in stored
    assert stored.startswith("customer read out ")
    assert not stored.endswith(" ")


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        (None, NO_REASON),
        ("ok", None),
        ("x" * MAX_REASON, None),
        ("x" * (MAX_REASON + 1), TOO_LONG),
    ],
)
def test_reason_problem(reason: str | None, problem: str | None) -> None:
    assert reason_problem(reason) == problem


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(None, None), ("", ""), ("  please call back  ", "  please call back  "), (3, None)],
)
def test_clean_note_keeps_text_as_typed(typed: object, stored: str | None) -> None:
    assert clean_note(typed) == stored


def test_card_numbers_in_a_note_are_redacted() -> None:
    note = clean_note(f"card {CARD}")
    assert note is not None
    assert "4111" not in note


def test_email_text_is_tidied_and_suppressed() -> None:
    typed = "Hello Rosa,\r\n\r\nPay with card 4111 1111 1111 1111 please.   \r\nThanks  "
    stored = clean_email_text(typed)
    assert stored is not None
    assert stored.startswith("Hello Rosa,\n\nPay with card ")
    assert "4111" not in stored and "\r" not in stored
    assert stored.endswith("please.\nThanks")
    assert clean_email_text("   ") is None
    assert clean_email_text(None) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "Write the email, or untick sending it."),
        ("too short", "Write at least 20 characters, or untick sending it."),
        ("x" * 3001, "Keep the email under 3000 characters."),
        ("A perfectly good follow-up email.", None),
    ],
)
def test_email_text_problem(text: str | None, problem: str | None) -> None:
    assert email_text_problem(text) == problem
