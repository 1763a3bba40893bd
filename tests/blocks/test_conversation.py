"""The conversation's answers: help, lists, the prefilled invoice form and its button value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from blocks.common import validate_blocks
from blocks.conversation import (
    create_invoice_message,
    decode_prefill,
    encode_prefill,
    help_message,
    note_saved_message,
    prefilled_invoice_form,
)
from blocks.invoices import FIAT_CURRENCIES, invoice_request_modal

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_help_lists_the_phrases_and_quotes_what_was_not_understood() -> None:
    message = help_message("<lunch> & *stuff*")
    validate_blocks(message["blocks"])
    dumped = json.dumps(message, ensure_ascii=False)
    assert "what's overdue" in dumped and "snooze 2h" in dumped
    assert "&lt;lunch&gt; &amp;" in dumped  # escaped, never markup


def test_the_prefill_round_trips_and_malformed_values_are_refused() -> None:
    value = encode_prefill(
        email="ap@x.example", amount=Decimal("1250.5"), currency="EUR", call_id=None
    )
    assert decode_prefill(value) == {"email": "ap@x.example", "amount": "1250.5", "currency": "EUR"}
    assert len(value) <= 2000
    assert decode_prefill(encode_prefill(email=None, amount=None, currency=None)) == {}
    for bad in ("", "not json", "[1, 2]", '{"email": 5}', '{"surprise": "x"}'):
        with pytest.raises(ValueError, match="form button"):
            decode_prefill(bad)


@pytest.mark.parametrize(
    ("prefill", "email", "amount", "currency"),
    [
        (
            {"email": "ap@x.example", "amount": "1250.5", "currency": "EUR"},
            "ap@x.example",
            "1250.50",
            "EUR",
        ),
        ({"amount": "abc", "currency": "XYZ"}, None, None, FIAT_CURRENCIES[0]),
    ],
)
def test_the_form_starts_with_what_was_typed(
    prefill: dict[str, str], email: str | None, amount: str | None, currency: str
) -> None:
    form = invoice_request_modal(FIAT_CURRENCIES)
    filled = prefilled_invoice_form(form, prefill, FIAT_CURRENCIES)
    inputs = {b["block_id"]: b["element"] for b in filled["blocks"] if b["type"] == "input"}
    assert inputs["invoice_email"].get("initial_value") == email
    assert inputs["invoice_amount"].get("initial_value") == amount
    assert inputs["invoice_currency"]["initial_option"]["value"] == currency
    assert "initial_value" not in json.dumps(form)  # the builder's own view is untouched


def test_the_invoice_answer_is_a_button_never_an_invoice() -> None:
    message = create_invoice_message(email="ap@x.example", amount=Decimal("50"), currency="USD")
    validate_blocks(message["blocks"])
    assert "50.00 USD" in message["text"] and "/invoice new" in message["text"]


def test_note_receipts() -> None:
    assert note_saved_message([], prompt=False) is None
    removed = note_saved_message(["card_number", "bank_details"], prompt=False)
    assert removed is not None
    assert removed["text"] == (
        "I removed bank details and a card number from your note before saving it."
    )
    prompted = note_saved_message([], prompt=True)
    assert prompted is not None and prompted["text"].startswith("Saved as a note")
