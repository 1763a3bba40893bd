"""The formats callers and transcription engines really produce (issue #12), one row each.

Every row is the whole text in and the whole text out: what is removed, and that the words around
it are the caller's own, untouched.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.handoff_model import Handoff, SensitiveCategory
from services.redaction import holds_sensitive, redact_handoff, redact_text

CARD = SensitiveCategory.CARD_NUMBER
BANK = SensitiveCategory.BANK_DETAILS
TAX = SensitiveCategory.TAX_IDENTIFIER
VISA = "[card ending 1111]"

CASES = [
    # cards: separators, groupings, words between, glued prefixes
    ("card 4111/1111/1111/1111", f"card {VISA}"),
    ("4111_1111_1111_1111", VISA),
    ("4111,1111,1111,1111", VISA),
    ("4111.1111.1111.1111", VISA),
    ("4111\t1111\t1111\t1111", VISA),
    ("4111\n1111\n1111\n1111", VISA),
    ("4111\u200b1111\u200b1111\u200b1111", VISA),
    ("4111\u20601111\u20601111\u20601111", VISA),
    ("41 11 11 11 11 11 11 11", VISA),
    ("411 111 111 111 111 1", VISA),
    ("6011 1111 and then 1111 1117", "[card ending 1117]"),
    ("x4111111111111111 ok", f"x{VISA} ok"),
    # Unicode digits: detected on the folded text, replaced in the original
    ("card ٤١١١١١١١١١١١١١١١", f"card {VISA}"),
    ("card ４１１１ １１１１ １１１１ １１１１!", f"card {VISA}!"),
    ("card ४१११ ११११ ११११ ११११", f"card {VISA}"),
    # spoken digits, with "oh" and "double", mixed with numerals
    ("four one one one one one one one one one one one one one one one", VISA),
    ("it's four one one one 1111 double one 11 one one one one.", f"it's {VISA}."),
    ("six oh one one one one one one one one one one one one one seven", "[card ending 1117]"),
    # CVV and expiry next to a card or a cue word
    (
        "5555 5555 5555 4444 exp 04/27 cvv 123",
        "[card ending 4444] exp [expiry removed] cvv [security code removed]",
    ),
    ("4111111111111111 04/27 123", f"{VISA} [expiry removed] [security code removed]"),
    ("the CVC is one two three", "the CVC is [security code removed]"),
    ("Expires 11/2029", "Expires [expiry removed]"),
    # bank accounts after routing numbers, sort codes, BSB, cue words, any case, separators
    (
        "routing 021000021 account 1234-5678-9012",
        "routing [routing number removed] account [bank account removed]",
    ),
    ("ROUTING NUMBER 021 000 021", "ROUTING NUMBER [routing number removed]"),
    ("routing number 021000021 12345678", "routing number [routing number removed] [bank account removed]"),
    ("ACCT: 12345678", "ACCT: [bank account removed]"),
    ("wire to 1234 5678 9012 please", "wire to [bank account removed] please"),
    ("sort code 20-00-00 12345678", "sort code [sort code removed] [bank account removed]"),
    ("BSB 062-000 1234 5678", "BSB [sort code removed] [bank account removed]"),
    # IBANs split by newlines, lower case, spaced letters, fullwidth
    ("GB82 WEST\n1234 5698\n7654 32", "[GB IBAN removed]"),
    ("iban gb82west12345698765432", "iban [GB IBAN removed]"),
    ("G B 8 2 W E S T 1 2 3 4 5 6 9 8 7 6 5 4 3 2 thanks", "[GB IBAN removed] thanks"),
    ("ＧＢ８２ＷＥＳＴ１２３４５６９８７６５４３２", "[GB IBAN removed]"),
    # SSNs with spaces or dots, after a lower-case cue
    ("ssn 536 22 8726", "ssn [tax ID removed]"),
    ("536.22.8726", "[tax ID removed]"),
    ("ssn 536228726", "ssn [tax ID removed]"),
    ("my social is five three six two two eight seven two six", "my social is [tax ID removed]"),
    # VAT ids after a cue, checksum or not
    ("VAT number FR91 417776317", "VAT number [VAT number removed]"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_each_format_is_removed_and_the_rest_kept(text: str, expected: str) -> None:
    result = redact_text(text)
    assert result.text == expected
    assert result.found
    assert redact_text(result.text).text == result.text  # idempotent


BENIGN = [
    "call +44 20 7946 0958 on 2026-11-30",
    "Account in good standing. Quote Q-7710 approved by the customer on 2026-11-20.",
    "account overdue since 2026-11-30",
    "oh I see, one of them",
    "four invoices, two refunds",
    "pi_3N4x2Y5Z6a7b8c9dAbCdEf",
    "550e8400-e29b-41d4-a716-446655440000",
    "INV-2026-004511, ORD-88123, ZD-123456, #482133",
    "1Z999AA10123456784 and 9400111899223334445566",
    "+1-912-841-5868x3449",
    "$12,345.67 due 12/05/2026, 4200.00 EUR",
    "Flat 4, 12 High Street, SW1A 1AA",
    "ticket 1234 5678",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_identifiers_survive(text: str) -> None:
    assert redact_text(text).text == text
    assert not holds_sensitive(text)


def handoff(**changes: Any) -> Handoff:
    data: dict[str, Any] = {
        "schema_version": "1",
        "call_id": "dnx_call_7Q2M9K",
        "occurred_at": "2026-11-24T15:42:10Z",
        "caller_request": "Refund please.",
        "customer": {"name": "Marta", "email": "marta@example.com"},
        "links": {"crm_url": "https://crm.example/accounts/ACC-5512?tab=billing"},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Handoff.model_validate(data)


def test_a_link_keeps_host_and_path_and_loses_the_sensitive_value() -> None:
    result = redact_handoff(
        handoff(
            links={"crm_url": "https://crm.example/accounts/ACC-5512?acct=12345678&tab=billing"},
            affected_record={"url": "https://pay.example/cards/4111111111111111#cvv=123"},
        )
    )
    links = result.handoff.links
    record = result.handoff.affected_record
    assert links is not None and record is not None
    assert str(links.crm_url) == "https://crm.example/accounts/ACC-5512?acct=redacted&tab=billing"
    assert str(record.url) == "https://pay.example/cards/redacted#redacted"
    assert result.found == {BANK, CARD}


def test_an_email_whose_local_part_is_a_secret_is_dropped_and_named() -> None:
    for email in ("4111111111111111@example.com", "536-22-8726@example.com"):
        result = redact_handoff(handoff(customer={"email": email}))
        assert result.handoff.customer is not None
        assert result.handoff.customer.email is None
        assert result.dropped == ("customer.email",)
        assert result.found
    kept = redact_handoff(handoff(customer={"email": "inv-2026-004511@example.com"}))
    assert kept.dropped == () and kept.handoff.customer is not None
    assert kept.handoff.customer.email == "inv-2026-004511@example.com"


def test_billing_address_and_every_nested_string_is_suppressed() -> None:
    result = redact_handoff(
        handoff(
            customer={
                "billing_address": {
                    "line1": "card 4111 1111 1111 1111",
                    "postal_code": "ssn 536 22 8726",
                    "city": "Springfield",
                    "country": "US",
                }
            },
            agent={"id": "agent 6011111111111117"},
        )
    )
    customer = result.handoff.customer
    assert customer is not None and customer.billing_address is not None
    address = customer.billing_address
    assert (address.line1, address.postal_code, address.city) == (
        f"card {VISA}",
        "ssn [tax ID removed]",
        "Springfield",
    )
    assert result.handoff.agent is not None
    assert result.handoff.agent.id == "agent [card ending 1117]"


def test_field_limits_come_from_the_model() -> None:
    # customer.phone allows 32 characters; the marker is cut to fit, never through a marker.
    result = redact_handoff(handoff(customer={"phone": "4111111111111111,378282246310005"}))
    assert result.handoff.customer is not None
    assert result.handoff.customer.phone == "[card ending 1111],…"


@pytest.mark.parametrize(
    "call_id",
    ["dnx_4111111111111111", "dnx_GB82WEST12345698765432", "dnx_ssn_536228726", "536-22-8726"],
)
def test_a_call_id_holding_a_secret_is_refused(call_id: str) -> None:
    with pytest.raises(ValidationError) as refused:
        handoff(call_id=call_id)
    (error,) = refused.value.errors()
    assert error["loc"] == ("call_id",)
    assert "card number, bank detail or tax identifier" in error["msg"]


def test_a_benign_call_id_is_accepted() -> None:
    assert handoff(call_id="dnx_call_2026-11-30_000123").call_id == "dnx_call_2026-11-30_000123"


@pytest.mark.parametrize(
    "call_id",
    [
        # Generated hex ids whose digit runs pass the Luhn check but are no brand's card number.
        "dnx_pad_3304545465554da7958c971d0ccc2105",
        "dnx_pad_67d983c5607741779745a8ec1b382b61",
        "dnx_pad_1e10bda34246493182677419b9c44f89",
        "CA6114775439704716A95960AAC1D49B85",
    ],
)
def test_a_generated_hex_call_id_is_accepted(call_id: str) -> None:
    assert handoff(call_id=call_id).call_id == call_id


def test_a_card_glued_inside_a_hex_call_id_is_still_refused() -> None:
    with pytest.raises(ValidationError):
        handoff(call_id="dnx_call_a4111111111111111bcdeabcdeabcd")
