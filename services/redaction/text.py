"""Suppression of one text: the normalised-text pass, then the token pass, to a fixed point."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.handoff_model import SensitiveCategory
from services.redaction.clusters import digit_count, iban_starts, may_cue, redact_clusters
from services.redaction.clusters import may_find as clusters_may_find
from services.redaction.normalise import may_say_digits
from services.redaction.tokens import ALWAYS, redact_tokens
from services.redaction.tokens import may_find as tokens_may_find

__all__ = [
    "ALWAYS",
    "Redacted",
    "holds_sensitive",
    "identifier_holds_sensitive",
    "nothing_to_find",
    "redact",
    "redact_text",
    "too_few_digits",
]


@dataclass(frozen=True, slots=True)
class Redacted:
    """Text with sensitive values replaced by markers, and the categories that were removed."""

    text: str
    found: frozenset[SensitiveCategory]


def redact(
    text: str, active: frozenset[SensitiveCategory] = ALWAYS
) -> tuple[str, frozenset[SensitiveCategory]]:
    """``text`` with every sensitive value replaced, and the categories found."""
    # ASCII text without digit words reads the same normalised: each pass can say cheaply whether
    # it could find anything in it, and most texts are read no further.
    plain = text.isascii() and not may_say_digits(text)
    if plain and nothing_to_find(text):
        return text, frozenset()
    found: frozenset[SensitiveCategory] = frozenset()
    # Each round replaces digits by markers (which both passes read as nothing), so this ends;
    # it almost always does after one round.
    while True:
        if plain and not clusters_may_find(text):
            loose, loose_found = text, frozenset[SensitiveCategory]()
        else:
            loose, loose_found = redact_clusters(text)
        if plain and not loose_found and not tokens_may_find(text):
            return text, found
        cleaned, token_found = redact_tokens(loose, active)
        found |= loose_found | token_found
        if cleaned == text or not (loose_found or token_found):
            return cleaned, found
        text = cleaned


_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
# Every SSN both passes read without a cue word: 3-2-4 digits joined by a space, ".", "_" or "-".
_SSN_LIKE = re.compile(r"[0-9]{3}[ ._\-][0-9]{2}[ ._\-][0-9]{4}")


def too_few_digits(text: str) -> bool:
    """Whether ``text`` holds fewer than two ASCII digits."""
    first = _DIGIT.search(text)
    return first is None or _DIGIT.search(text, first.end()) is None


def nothing_to_find(text: str) -> bool:
    """Whether an ASCII text without digit words certainly holds nothing to remove.

    With fewer than two digits nothing can be found (an IBAN has its two check digits, everything
    else more). With fewer than five, only an IBAN (two letters, then its check digits) or a
    security code or expiry date after its cue word can be. Without a letter (a phone number, an
    amount, a date) there is no IBAN, cue or context word either: with fewer than 13 digits (a
    card's fewest) only an SSN written 3-2-4 with separators can be found.
    """
    if too_few_digits(text):
        return True
    digits = digit_count(text)
    if digits < 5:
        return not may_cue(text.lower()) and next(iban_starts(text), None) is None
    return digits < 13 and _LETTER.search(text) is None and _SSN_LIKE.search(text) is None


def redact_text(text: str, categories: frozenset[SensitiveCategory] = ALWAYS) -> Redacted:
    """Replace card numbers, bank details and tax identifiers in ``text`` with markers.

    ``categories`` is unioned with ``ALWAYS``: card numbers, bank details and tax identifiers are
    never kept, whatever the caller passes. ``PRIVATE_DOCUMENT`` has no text detector; it governs
    document links in ``redact_handoff``.
    """
    return Redacted(*redact(text, ALWAYS | categories))


def holds_sensitive(text: str) -> bool:
    """Whether ``text`` holds anything suppression would remove.

    Underscores also count as spaces, as identifiers join words with them ("dnx_ssn_536228726").
    """
    return bool(redact(text)[1]) or ("_" in text and bool(redact(text.replace("_", " "))[1]))


# A segment of an identifier that is a generated hex string (a UUID, a hash, an object id): long,
# hex only, with letters spread through it. Random hex holds a 13-19 digit run that passes the
# Luhn check about once in a thousand ids, so inside such a segment only a run that is a whole
# card of a real brand (prefix and length) counts; any other digit run there is taken as random.
_HEX_BLOB = re.compile(r"(?:[0-9a-f]{20,}|[0-9A-F]{20,})")
_DIGIT_RUN = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[_.:\-]")
_BRANDS: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = (
    (re.compile(r"4"), frozenset({16, 19})),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6][0-9]|7[01]|720)"), frozenset({16})),  # Mastercard
    (re.compile(r"3[47]"), frozenset({15})),  # American Express
    (re.compile(r"6(?:011|5|4[4-9])"), frozenset({16, 19})),  # Discover
    (re.compile(r"35(?:2[89]|[3-8][0-9])"), frozenset({16, 19})),  # JCB
    (re.compile(r"3(?:0[0-5]|[689])"), frozenset({14, 16})),  # Diners Club
)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _branded_card(digits: str) -> bool:
    return _luhn(digits) and any(
        prefix.match(digits) and len(digits) in lengths for prefix, lengths in _BRANDS
    )


def _hex_blob(segment: str) -> bool:
    return (
        _HEX_BLOB.fullmatch(segment) is not None
        and sum(not char.isdigit() for char in segment) >= 4
    )


def identifier_holds_sensitive(identifier: str) -> bool:
    """Whether an identifier (a call ID) holds a card number, bank detail or tax identifier.

    As ``holds_sensitive``, except that a generated hex segment only counts when a digit run in
    it is a whole branded card number: ``dnx_call_3304545465554da7958c971d0ccc2105`` is an
    ordinary id, ``dnx_4111111111111111`` and ``dnx_ssn_536228726`` are not.
    """
    kept: list[str] = []
    for segment in _SEPARATORS.split(identifier):
        if _hex_blob(segment):
            if any(_branded_card(run) for run in _DIGIT_RUN.findall(segment)):
                return True
            continue
        kept.append(segment)
    return holds_sensitive("_".join(kept)) if kept else False
