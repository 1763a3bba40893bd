from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from bench.redaction import ADVERSARIAL
from services.handoff_model import Handoff, SensitiveCategory
from services.redaction import ALWAYS, Redacted, redact_handoff, redact_text

CARD = SensitiveCategory.CARD_NUMBER
BANK = SensitiveCategory.BANK_DETAILS
TAX = SensitiveCategory.TAX_IDENTIFIER
PRIVATE = SensitiveCategory.PRIVATE_DOCUMENT


# (text, marker expected in the output, secret that must be gone, category reported)
REMOVED: list[tuple[str, str, str, SensitiveCategory]] = [
    ("my card 4111 1111 1111 1111 was charged twice", "[card ending 1111]", "4111 1111", CARD),
    ("card 4111-1111-1111-1111 declined", "[card ending 1111]", "4111-1111", CARD),
    ("card number:4111111111111111.", "[card ending 1111]", "4111111111111111", CARD),
    ("Mastercard 5555 5555 5555 4444 exp 12/28", "[card ending 4444]", "5555 5555", CARD),
    ("paid with 5105105105105100", "[card ending 5100]", "5105105105105100", CARD),
    ("Amex 3782 822463 10005 on file", "[card ending 0005]", "822463", CARD),
    ("amex 371449635398431", "[card ending 8431]", "371449635398431", CARD),
    ("Discover 6011-1111-1111-1117", "[card ending 1117]", "6011-1111", CARD),
    ("Diners 3056 930902 5904", "[card ending 5904]", "930902", CARD),
    ("old Visa 4222222222222 still on file", "[card ending 2222]", "4222222222222", CARD),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "[DE IBAN removed]", "3704 0044", BANK),
    ("iban: DE89370400440532013000", "[DE IBAN removed]", "DE8937040044", BANK),
    ("GB82 WEST 1234 5698 7654 32", "[GB IBAN removed]", "WEST 1234", BANK),
    ("gb82west12345698765432 (lower case)", "[GB IBAN removed]", "gb82west", BANK),
    ("FR14 2004 1010 0505 0001 3M02 606", "[FR IBAN removed]", "2004 1010", BANK),
    ("FR1420041010050500013M02606", "[FR IBAN removed]", "FR1420041010", BANK),
    ("NL91 ABNA 0417 1643 00 for the refund", "[NL IBAN removed]", "0417 1643", BANK),
    ("routing number 021000021", "[routing number removed]", "021000021", BANK),
    ("ABA: 026009593 for the wire", "[routing number removed]", "026009593", BANK),
    ("wire it to Wells, RTN 121000248", "[routing number removed]", "121000248", BANK),
    ("011000015 is the routing number", "[routing number removed]", "011000015", BANK),
    ("account number 12345678", "[bank account removed]", "12345678", BANK),
    ("acct 000123456789", "[bank account removed]", "000123456789", BANK),
    ("a/c no. 31926819 at Barclays", "[bank account removed]", "31926819", BANK),
    ("their bank account 9876543210 bounced", "[bank account removed]", "9876543210", BANK),
    ("die Kontonummer lautet 0532013000", "[bank account removed]", "0532013000", BANK),
    (
        "Agent: Can you read me the account number?\nCaller: Sure, it's 12345678.",
        "[bank account removed]",
        "12345678",
        BANK,
    ),
    ("sort code 12-34-56", "[sort code removed]", "12-34-56", BANK),
    ("sort code: 40 47 84", "[sort code removed]", "40 47 84", BANK),
    ("404784 is the sort code", "[sort code removed]", "404784", BANK),
    ("new VAT number DE136695976", "[VAT number removed]", "136695976", TAX),
    ("FR40303265045 on the invoice", "[VAT number removed]", "303265045", TAX),
    ("FR 40 303 265 045 on the invoice", "[VAT number removed]", "303 265 045", TAX),
    ("UK VAT GB980780684", "[VAT number removed]", "980780684", TAX),
    ("GB 980 7806 84", "[VAT number removed]", "980 7806", TAX),
    ("ATU13585627", "[VAT number removed]", "13585627", TAX),
    ("NL004495445B01", "[VAT number removed]", "004495445", TAX),
    ("IT00743110157", "[VAT number removed]", "00743110157", TAX),
    ("ESB58378431", "[VAT number removed]", "58378431", TAX),
    ("PL8567346215", "[VAT number removed]", "8567346215", TAX),
    ("my SSN is 123-45-6789", "[tax ID removed]", "123-45-6789", TAX),
    ("social security number 123 45 6789", "[tax ID removed]", "123 45 6789", TAX),
    ("SSN 123456789", "[tax ID removed]", "123456789", TAX),
    ("EIN 12-3456789", "[tax ID removed]", "3456789", TAX),
    ("employer identification number 12-3456789", "[tax ID removed]", "3456789", TAX),
    ("our tax id is 12-3456789", "[tax ID removed]", "3456789", TAX),
    ("ITIN on file: 912-70-1234", "[tax ID removed]", "912-70-1234", TAX),
    ("ITIN 912701234", "[tax ID removed]", "912701234", TAX),
    ("Steuernummer 181/815/08155", "[tax ID removed]", "08155", TAX),
    ("USt-IdNr. 136695976", "[tax ID removed]", "136695976", TAX),
    ("VAT number 136695976 (no prefix)", "[tax ID removed]", "136695976", TAX),
    ("SIRET 732 829 320 00074", "[tax ID removed]", "00074", TAX),
    ("NIF 12345678Z", "[tax ID removed]", "12345678Z", TAX),
    ("UTR 1955839661", "[tax ID removed]", "1955839661", TAX),
]


@pytest.mark.parametrize(
    ("text", "marker", "secret", "category"),
    REMOVED,
    ids=[
        "visa-spaces", "visa-dashes", "visa-plain", "mastercard-spaces", "mastercard-plain",
        "amex-spaces", "amex-plain", "discover-dashes", "diners", "visa-13",
        "iban-de-spaces", "iban-de-compact", "iban-gb-spaces", "iban-gb-lower",
        "iban-fr-spaces", "iban-fr-compact", "iban-nl-then-words",
        "routing-before", "routing-aba", "routing-rtn", "routing-after",
        "account-number", "account-acct", "account-a/c", "account-bank", "account-kontonummer",
        "account-next-line", "sort-code-dashes", "sort-code-spaces", "sort-code-after",
        "vat-de", "vat-fr", "vat-fr-spaces", "vat-gb", "vat-gb-spaces", "vat-at", "vat-nl",
        "vat-it", "vat-es", "vat-pl", "ssn-dashed", "ssn-spaced-context", "ssn-plain-context",
        "ein", "ein-employer", "ein-tax-id", "itin-dashed", "itin-context", "de-steuernummer",
        "de-ust-idnr", "vat-without-prefix", "fr-siret", "es-nif", "gb-utr",
    ],
)  # fmt: skip
def test_removes(text: str, marker: str, secret: str, category: SensitiveCategory) -> None:
    result = redact_text(text)
    assert marker in result.text
    assert secret not in result.text
    assert result.found == {category}


SURVIVES = [
    "Two payments for invoice INV-20931 eleven minutes apart",
    "Reissue INV-2026-000123 to the auditor",
    "Call back on +14155550142",
    "UK office +44 20 7946 0958",
    "US desk (415) 555-0142 or 415-555-0142",
    "Due 2026-11-26, promised 26/11/2026 or 26.11.2026 at 09:05",
    # Two dates whose 16 digits happen to pass Luhn: the grouping keeps them from reading as a card.
    "Instalments on 2026-11-01 2026-11-05",
    "Renewal of 18,500.00 EUR, charge of 240.00 USD, Betrag 1.234,56",
    "Customer account ACC-5512, subscription SUB-9001",
    "account ACC-5512 number",
    "Call dnx_call_7Q2M9K, payment pay_88213",
    "Send it to marta@okafor-design.example",
    "See https://crm.example/accounts/ACC-5512 and https://plisio.example/invoice/INV-20931",
    "Ship to ZIP 94107 or 94107-1234",
    "Order 1234567890123 shipped",
    "Reference 4111 1111 1111 1112 fails the checksum",
    "Reference 1234567812345678 fails the checksum",
    "Plisio txn 65f1a2b3c4d5e6f7a8b9c0d1",
    "Invoice 021000021 is overdue",
    "Paid by bank transfer for invoice 021000021",
    "I paid from my bank account. Invoice 12345678 is still open.",
    "Caller's bank account was debited on 2026-11-26",
    "VAT 19% on 1,200.00 EUR due 2026-11-26",
    "Reference 12-3456789 with no context",
    "SSN-shaped but invalid area 666-12-3456 and 000-12-3456",
    "[card ending 1111] [DE IBAN removed] [routing number removed] [bank account removed]",
    "[sort code removed] [tax ID removed] [VAT number removed]",
]


@pytest.mark.parametrize(
    "text",
    SURVIVES,
    ids=[
        "invoice-number", "invoice-number-long", "phone-e164", "phone-uk", "phone-us",
        "dates-and-time", "luhn-valid-dates", "amounts", "customer-and-subscription-ids",
        "customer-id-with-context", "call-and-payment-ids", "email", "urls", "zip-codes",
        "order-number", "luhn-invalid-grouped", "luhn-invalid-plain", "plisio-txn-id",
        "nine-digits-without-bank-context", "nine-digits-named-invoice",
        "invoice-after-bank-sentence", "date-after-bank-context", "amounts-after-vat",
        "ein-shape-without-context", "invalid-ssn-areas", "markers", "more-markers",
    ],
)  # fmt: skip
def test_leaves_alone(text: str) -> None:
    assert redact_text(text) == Redacted(text, frozenset())


def test_luhn_valid_dates_are_a_real_risk() -> None:
    # Guards the "luhn-valid-dates" case above: the digits must really pass, or it proves nothing.
    assert luhn.is_valid("2026110120261105")


def test_lists_after_one_context_word_are_all_removed() -> None:
    result = redact_text("account numbers 12345678 and 87654321")
    assert result.text == "account numbers [bank account removed] and [bank account removed]"


def test_checksum_match_beats_context_match() -> None:
    result = redact_text("tax id 4111 1111 1111 1111")
    assert result.text == "tax id [card ending 1111]"
    assert result.found == {CARD}


def test_nearer_context_wins() -> None:
    result = redact_text("VAT refund goes to bank account 12345678")
    assert result.text == "VAT refund goes to bank account [bank account removed]"
    assert result.found == {BANK}


def test_fewer_categories_still_remove_everything() -> None:
    text = "card 4111111111111111, IBAN DE89370400440532013000, VAT DE136695976"
    assert redact_text(text, frozenset()) == redact_text(text)
    assert redact_text(text, frozenset({PRIVATE})).found == ALWAYS


@pytest.mark.parametrize("text", [case[0] for case in REMOVED] + SURVIVES)
def test_idempotent_on_table(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once.text) == Redacted(once.text, frozenset())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_text_finishes_and_stays_stable(text: str) -> None:
    # Backtracking would take minutes here (the timeout stops it); how fast linear work is
    # measured by ``python -m bench.redaction`` (bench/results/redaction.json), never here.
    once = redact_text(text[:8000])
    assert redact_text(once.text) == Redacted(once.text, frozenset())


FRAGMENTS = [
    " ", "\n", "-", "/", ".", ",", "#", "(", ")", "+", "[", "]",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "DE89 3704 0044 0532 0130 00",
    "DE136695976", "routing", "account number", "sort code", "VAT", "SSN", "EIN", "tax id",
    "123-45-6789", "12-34-56", "021000021", "invoice", "INV-20931", "[card ending 1111]",
]  # fmt: skip


def _luhn_valid(prefix: int) -> str:
    body = f"{prefix:015d}"
    return body + luhn.calc_check_digit(body)


text_pieces = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=30),
    st.from_regex(r"[0-9]{1,19}", fullmatch=True),
    st.integers(min_value=0, max_value=10**15 - 1).map(_luhn_valid),
)
# ":" and "@" are left out so no URL or e-mail (which redaction leaves alone) hides a number.
random_text = (
    st.lists(text_pieces, max_size=400)
    .map(lambda pieces: "".join(pieces)[:8000])
    .map(lambda text: text.replace(":", " ").replace("@", " "))
)
STANDALONE_16 = re.compile(r"(?<![\w+\-/.])[0-9]{16}(?![\w\-/.])")


@settings(max_examples=150, deadline=2000)
@given(random_text)
def test_random_text_is_redacted_safely(text: str) -> None:
    result = redact_text(text)
    assert redact_text(result.text) == Redacted(result.text, frozenset())
    survivors = [run for run in STANDALONE_16.findall(result.text) if luhn.is_valid(run)]
    assert survivors == []


@settings(max_examples=50, deadline=2000)
@given(st.text(max_size=8000))
def test_any_unicode_text_never_raises(text: str) -> None:
    result = redact_text(text)
    assert redact_text(result.text).text == result.text


# --- redact_handoff -------------------------------------------------------------------------


def handoff(**fields: Any) -> Handoff:
    base: dict[str, Any] = {
        "schema_version": "1",
        "call_id": "dnx_call_7Q2M9K",
        "occurred_at": "2026-11-24T15:42:10Z",
        "caller_request": "Caller says the November charge of 240.00 USD was taken twice.",
        "customer": {
            "name": "Marta Okafor",
            "account_id": "ACC-5512",
            "email": "marta@okafor-design.example",
            "phone": "+14155550142",
            "tax_region": "US-CA",
        },
        "billing": {
            "invoice_number": "INV-20931",
            "payment_id": "pay_88213",
            "amount": "240.00",
            "currency": "USD",
            "payment_status": "disputed",
            "dispute_reason": "Duplicate charge",
        },
        "follow_up": {"finance_owner": "ap-lead@acme.example", "next_step": "Reverse one charge"},
        "affected_record": {
            "system": "plisio",
            "object": "invoice",
            "id": "INV-20931",
            "url": "https://plisio.example/invoice/INV-20931",
        },
        "links": {
            "transcript_url": "https://app.dialnexa.example/calls/dnx_call_7Q2M9K/transcript",
            "recording_url": "https://app.dialnexa.example/calls/dnx_call_7Q2M9K/recording",
            "crm_url": "https://crm.example/accounts/ACC-5512",
        },
    }
    base.update(fields)
    return Handoff.model_validate(base)


def test_card_in_transcript_removed_without_sensitive_flags() -> None:
    original = handoff(transcript_excerpt="...my card 4111 1111 1111 1111 was charged twice...")
    assert original.sensitive is None
    result = redact_handoff(original)
    assert result.handoff.transcript_excerpt == "...my card [card ending 1111] was charged twice..."
    assert result.found == {CARD}
    assert result.hidden_links == ()


def test_vat_id_in_findings_removed() -> None:
    result = redact_handoff(handoff(findings="Caller gave the new VAT number DE136695976."))
    assert result.handoff.findings == "Caller gave the new VAT number [VAT number removed]."
    assert result.found == {TAX}


def test_every_text_field_is_redacted() -> None:
    card = "4111111111111111"
    original = handoff(
        caller_request=f"refund to card {card}",
        agent={"id": "agent_billing_01", "name": f"agent {card}"},
        customer={"name": f"name {card}", "account_id": card},
        billing={
            "invoice_number": card,
            "payment_id": card,
            "subscription_id": card,
            "refund_reason": card,
            "dispute_reason": card,
            "credit_request": card,
        },
        follow_up={"escalation_reason": card, "next_step": card, "finance_owner": card},
        affected_record={"system": card, "object": card, "id": card},
    )
    dumped = redact_handoff(original).handoff.model_dump_json()
    assert card not in dumped
    assert dumped.count("[card ending 1111]") == 16


def test_structured_fields_untouched() -> None:
    original = handoff(findings="account number 12345678")
    cleaned = redact_handoff(original).handoff
    assert cleaned.findings == "account number [bank account removed]"
    assert cleaned.model_dump(exclude={"findings"}) == original.model_dump(exclude={"findings"})


def test_private_document_hides_links_and_excerpt() -> None:
    original = handoff(
        transcript_excerpt="the usual chat",
        sensitive={"suppress": True, "categories": ["private_document"]},
    )
    result = redact_handoff(original)
    assert result.hidden_links == (
        "links.transcript_url",
        "links.recording_url",
        "affected_record.url",
        "transcript_excerpt",
    )
    assert result.found == {PRIVATE}
    cleaned = result.handoff
    assert cleaned.transcript_excerpt is None
    assert cleaned.affected_record is not None
    assert cleaned.affected_record.url is None
    assert cleaned.affected_record.id == "INV-20931"
    assert cleaned.links is not None
    assert (cleaned.links.transcript_url, cleaned.links.recording_url) == (None, None)
    assert str(cleaned.links.crm_url) == "https://crm.example/accounts/ACC-5512"


def test_private_document_reports_only_links_present() -> None:
    original = handoff(
        links={"transcript_url": "https://app.dialnexa.example/calls/x/transcript"},
        affected_record=None,
        sensitive={"categories": ["private_document", "card_number"]},
    )
    result = redact_handoff(original)
    assert result.hidden_links == ("links.transcript_url",)
    assert result.found == {PRIVATE}


def test_clean_handoff_comes_back_unchanged() -> None:
    original = handoff(sensitive={"suppress": True, "categories": ["card_number"]})
    result = redact_handoff(original)
    assert result.found == frozenset()
    assert result.hidden_links == ()
    assert result.handoff == original


def test_marker_growth_is_cut_to_the_field_limit() -> None:
    request = ("ABA 021000021 " * 142).strip()
    assert len(request) <= 2000
    result = redact_handoff(handoff(caller_request=request))
    cleaned = result.handoff.caller_request
    assert len(cleaned) <= 2000
    assert cleaned.endswith("…")
    assert "021000021" not in cleaned
    # Cut before a marker, never through one.
    assert cleaned.removesuffix("…").rstrip().endswith(("ABA", "[routing number removed]"))
    assert result.found == {BANK}


def test_result_validates_and_is_idempotent() -> None:
    original = handoff(
        findings="IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789",
        transcript_excerpt="card 5555 5555 5555 4444",
        sensitive={"categories": ["bank_details"]},
    )
    first = redact_handoff(original)
    assert first.found == {CARD, BANK, TAX}
    assert Handoff.model_validate(first.handoff.model_dump(mode="json")) == first.handoff
    second = redact_handoff(first.handoff)
    assert second.handoff == first.handoff
    assert second.found == frozenset()


@settings(max_examples=60, deadline=2000)
@given(random_text, random_text)
def test_random_handoffs_stay_valid_and_idempotent(findings: str, excerpt: str) -> None:
    first = redact_handoff(
        handoff(
            findings=findings[:4000],
            transcript_excerpt=excerpt,
            caller_request=("x" + findings)[:2000],
        )
    )
    Handoff.model_validate(first.handoff.model_dump(mode="json"))
    assert redact_handoff(first.handoff).handoff == first.handoff


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111  1111  1111  1111", "card [card ending 1111]"),
        ("card 4111\u00a01111\u00a01111\u00a01111", "card [card ending 1111]"),
        ("card 4111.1111.1111.1111", "card [card ending 1111]"),
        ("exp 4111 1111 1111 1111/12", "exp [card ending 1111]/12"),
        ("IBAN DE89-3704-0044-0532-0130-00", "IBAN [DE IBAN removed]"),
        ("dates 2026-11-01 2026-11-05", "dates 2026-11-01 2026-11-05"),
        ("version 1.2.3.4 on 2026.11.26", "version 1.2.3.4 on 2026.11.26"),
        ("call +44 20 7946 0958", "call +44 20 7946 0958"),
        ("see https://x.example/4111.1111.1111.1111", "see https://x.example/[card ending 1111]"),
    ],
    ids=[
        "two-spaces",
        "nbsp",
        "dots",
        "expiry",
        "dashed-iban",
        "dates",
        "versions",
        "phone",
        "url",
    ],
)
def test_loosely_separated_secrets(text: str, expected: str) -> None:
    assert redact_text(text).text == expected
