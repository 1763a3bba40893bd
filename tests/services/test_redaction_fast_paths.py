"""Cases at the edges of redaction's fast paths, where skipping work would wrongly keep a secret.

Redaction skips a text, or a detector, when the text has too few digits for it to find anything.
These pin the smallest inputs each of those shortcuts must still read.
"""

from __future__ import annotations

from typing import Any

import pytest
from stdnum import iban

from services.handoff_model import Handoff, SensitiveCategory
from services.redaction import Redacted, redact_handoff, redact_text

BANK = SensitiveCategory.BANK_DETAILS
PRIVATE = SensitiveCategory.PRIVATE_DOCUMENT

# Qatar's BBAN is four letters and 21 alphanumerics: this IBAN holds no digit but its check digits.
QA_IBAN = "QA69DOHBABCDEFGHIJKLMNOPQRSTU"
# Valid once its non-ASCII check digits are dropped, as the loose pre-pass drops them.
QA_LETTERS_ONLY = "QAYDNCGAPUEXIVGVOMKUIIUUHHBSZ"


def test_the_iban_fixtures_are_valid() -> None:
    assert iban.is_valid(QA_IBAN)
    assert sum(ch.isdigit() for ch in QA_IBAN) == 2
    assert iban.is_valid(QA_LETTERS_ONLY)


@pytest.mark.parametrize(
    "text",
    [
        f"IBAN {QA_IBAN}",
        "IBAN QA69 DOHB ABCD EFGH IJKL MNOP QRST U",
        f"IBAN {QA_IBAN.lower()}",
        # Arabic-Indic check digits: two digits to \d, none to [0-9].
        "IBAN QA٥٨ YDNC GAPU EXIV GVOM KUII UUHH BSZ",
    ],
    ids=["compact", "spaced", "lower-case", "unicode-check-digits"],
)
def test_iban_with_only_two_digits_is_removed(text: str) -> None:
    assert redact_text(text) == Redacted("IBAN [QA IBAN removed]", frozenset({BANK}))


@pytest.mark.parametrize(
    ("digits", "removed"),
    [("12345", False), ("123456", True), ("1" * 30, True), ("1" * 31, False)],
    ids=["5-digits", "6-digits", "30-digits", "31-digits"],
)
def test_account_number_length_bounds(digits: str, removed: bool) -> None:
    text = f"account number {digits}"
    expected = "account number [bank account removed]" if removed else text
    assert redact_text(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A 9-digit routing number glued to a marker is still its own 9-digit run.
        (
            "routing [card ending 1111]021000021",
            "routing [card ending 1111][routing number removed]",
        ),
        ("sort code 12-34-56", "sort code [sort code removed]"),
        ("sort code 12 34 56", "sort code [sort code removed]"),
    ],
    ids=["routing-after-marker", "sort-code-dashed-pairs", "sort-code-spaced-pairs"],
)
def test_numbers_next_to_masked_spans_and_in_pairs(text: str, expected: str) -> None:
    assert redact_text(text).text == expected


def _handoff(**fields: Any) -> Handoff:
    data: dict[str, Any] = {
        "schema_version": "1",
        "call_id": "dnx_call_FAST1",
        "occurred_at": "2026-11-24T15:42:10Z",
        "caller_request": "Resend the receipt, please.",
    }
    data.update(fields)
    return Handoff.model_validate(data)


def test_clean_handoff_is_returned_equal() -> None:
    original = _handoff(
        findings="Paid 240.00 USD on 2026-11-20.", customer={"phone": "+14155550142"}
    )
    result = redact_handoff(original)
    assert result.handoff == original
    assert result.handoff.model_dump_json() == original.model_dump_json()
    assert (result.found, result.hidden_links) == (frozenset(), ())


def test_private_document_drops_a_link_set_to_null() -> None:
    # Nothing to hide or redact, but the null link still leaves the copy (as it always has).
    original = _handoff(
        links={"transcript_url": None, "crm_url": "https://crm.example/accounts/ACC-1"},
        sensitive={"categories": ["private_document"]},
    )
    result = redact_handoff(original)
    assert result.hidden_links == ()
    assert result.found == frozenset()
    assert result.handoff.links is not None
    assert result.handoff.links.model_fields_set == {"crm_url"}
