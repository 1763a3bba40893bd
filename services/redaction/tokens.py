"""Token detectors: card numbers, bank details and tax identifiers written as tidy tokens.

This is the second pass of ``services.redaction`` (after ``clusters``, which reads normalised text
with loose separators and spoken digits). A detector finds a candidate by its
shape, confirms it with a python-stdnum checksum where one exists and, where the shape alone is too
common (a bare 9-digit number may be an invoice id), also needs a context word nearby. Each value
removed becomes a marker such as ``[card ending 1111]``.

How text is read:

- Candidates are whole tokens: runs of word characters joined by ``-``, ``/`` or ``.``. So
  ``ACC-5512``, ``INV-2026-000123`` and ``dnx_call_7Q2M9K`` are tokens containing letters and never
  read as bare numbers; ``4111 1111 1111 1111`` is a run of tokens separated by single spaces.
  A token straight after ``+`` is a phone number.
- Markers, URLs and e-mail addresses are opaque: detectors never look inside them, so markers are
  not re-detected and links and addresses are left as they are.
- A context word covers a number that starts at most 40 characters after it (for routing numbers
  and sort codes, also one that ends 40 characters before it), unless the words just before the
  number name another kind of id ("... invoice 123456789"). When two detectors claim the same text,
  a checksum-only match beats a context match, and otherwise the nearer context wins.
- Redaction repeats until the text stops changing, which makes it idempotent. It stops because
  every replacement takes out more digits than its marker puts in.

Most text holds nothing to remove, so work that cannot find anything is skipped, without changing
any result: a text with too few digits for any detector comes back as it is, a detector runs only
on a text with the digits it needs, detectors visit only the tokens where a match can start, and
context words are looked for only when a candidate needs one.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Final, NamedTuple

from stdnum import iban, luhn
from stdnum.de import idnr as de_idnr
from stdnum.de import stnr as de_stnr
from stdnum.de import vat as de_vat
from stdnum.es import cif as es_cif
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.es import nif as es_nif
from stdnum.eu import vat as eu_vat
from stdnum.fr import nif as fr_nif
from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret
from stdnum.fr import tva as fr_tva
from stdnum.gb import utr as gb_utr
from stdnum.gb import vat as gb_vat
from stdnum.it import codicefiscale as it_codicefiscale
from stdnum.it import iva as it_iva
from stdnum.nl import btw as nl_btw
from stdnum.pl import nip as pl_nip
from stdnum.pt import nif as pt_nif
from stdnum.us import ein as us_ein
from stdnum.us import itin as us_itin
from stdnum.us import rtn as us_rtn
from stdnum.us import ssn as us_ssn
from stdnum.us import tin as us_tin
from stdnum.util import get_cc_module

from services.handoff_model import SensitiveCategory
from services.redaction import markers
from services.redaction.markers import MARKER as _MARKER

__all__ = ["ALWAYS", "may_find", "redact_tokens"]

_CARD = SensitiveCategory.CARD_NUMBER
_BANK = SensitiveCategory.BANK_DETAILS
_TAX = SensitiveCategory.TAX_IDENTIFIER

# Removed whatever the handoff's own `sensitive` flags say.
ALWAYS: Final = frozenset({_CARD, _BANK, _TAX})

_ROUTING_MARKER = markers.ROUTING
_ACCOUNT_MARKER = markers.ACCOUNT
_SORT_CODE_MARKER = markers.SORT_CODE
_TAX_MARKER = markers.TAX
_VAT_MARKER = markers.VAT

# The e-mail look-behind starts a match only at the start of a word, so a long run with no "@"
# is scanned once rather than from every position inside it (linear time on 8000 characters).
_OPAQUE = re.compile(
    _MARKER.pattern
    + r"|(?i:\b(?:https?|ftp)://\S+)"
    + r"|(?<![\w.+-])[\w.+-]+@\w[\w-]*(?:\.[\w-]+)+"
)
_TOKEN = re.compile(r"\w+(?:[-/.]\w+)*")
_CHAIN = re.compile(rf"{_TOKEN.pattern}(?: {_TOKEN.pattern})*")  # tokens one space apart
_LETTERS = re.compile(r"[^\W\d_]+")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")

_WINDOW = 40  # characters between a context word and the number it covers

# Words that, just before a number, say it is some other id, whatever bank or tax word came earlier.
_OTHER_IDS = frozenset(
    {
        "invoice", "inv", "order", "ticket", "case", "subscription", "receipt", "quote",
        "contract", "policy", "phone", "tel", "telephone", "mobile", "cell", "fax", "call",
        "customer", "client", "member", "transaction", "txn", "zip", "postcode", "tracking",
        "booking", "reservation", "confirmation",
    }
)  # fmt: skip
_FILLERS = frozenset(
    {
        "number", "numbers", "no", "nr", "num", "id", "is", "was", "are", "it", "its", "s",
        "the", "a", "an", "our", "my", "your", "their", "his", "her", "of",
    }
)  # fmt: skip

# Shapes, all ASCII so that python-stdnum only ever sees digits and letters it understands.
_DIGIT_GROUPS = re.compile(r"[0-9]+(?:-[0-9]+)*")
_DIGIT = re.compile(r"[0-9]")
_DIGITS = re.compile(r"[0-9]+")
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_IBAN_HEAD = re.compile(r"[A-Za-z]{2}[0-9]{2}[A-Za-z0-9]*")
_VAT_HEAD = re.compile(r"[A-Za-z]{2}")
_VAT_PART = re.compile(r"[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*")
_SSN_SHAPE = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")
_ROUTING_SHAPE = re.compile(r"[0-9]{9}")
_ACCOUNT_SHAPE = re.compile(r"[0-9]{6,17}")
_SORT_CODE_SHAPE = re.compile(r"[0-9]{2}-[0-9]{2}-[0-9]{2}|[0-9]{6}")
_PAIR = re.compile(r"[0-9]{2}")
_TAX_PART = re.compile(r"[A-Za-z0-9]+(?:[-/.][A-Za-z0-9]+)*")
# Dates, amounts and internal ids (INV-..., ACC-...) are never tax identifiers.
_NOT_TAX = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}"
    r"|[0-9]+\.[0-9]{1,2}|[0-9]{1,3}(?:\.[0-9]{3})+|[A-Za-z]{3,}[-/.].*"
)
# stdnum lists Greece as GR but Greek VAT numbers carry EL; GB (checked with stdnum.gb.vat) has
# left the EU list while XI, Northern Ireland, is still on it.
_VAT_COUNTRIES = frozenset({cc.upper() for cc in eu_vat.MEMBER_STATES} | {"EL", "GB"})

_ROUTING_WORDS = re.compile(r"(?i)\b(?:routing|aba|rtn|transit|wire[ds]?|wiring|bank(?:ing|s)?)\b")
_ROUTING_STRONG_WORDS = re.compile(r"(?i)\b(?:routing|aba|rtn|transit)\b")
_SORT_CODE_WORDS = re.compile(r"(?i)\bsort[\s-]?codes?\b")
_ACCOUNT_WORDS = re.compile(
    r"""(?ix)
      \b(?:bank|checking|savings|current|business)\s+(?:account|acct)s?\b
        (?:\s*(?:number|num|no|nr)s?\b\.?)?
    | \b(?:account|acct|acc)\.?\s*(?:number|num|no|nr)s?\b\.?
    | \b(?:account|acct)\s*\#
    | \bacct\b\.?
    | \ba/c\b
    | \bkonto(?:nummer|nr)?\b\.?
    | \bnum[ée]ro\s+de\s+compte\b
    | \bn[úu]mero\s+de\s+cuenta\b
    """
)

_Validator = Callable[[str], bool]


def _national_vat_checks() -> tuple[_Validator, ...]:
    # A VAT number given without its country prefix: try each member state's own format.
    modules = (get_cc_module(cc, "vat") for cc in sorted(eu_vat.MEMBER_STATES - {"xi"}))
    return tuple(module.is_valid for module in modules if module is not None)


_GENERIC_TAX_CHECKS: Final[tuple[_Validator, ...]] = (
    eu_vat.is_valid,
    gb_vat.is_valid,
    gb_utr.is_valid,
    us_tin.is_valid,
    *_national_vat_checks(),
)

# Context words for tax identifiers, each with the checks a number after it must pass. Acronyms
# match in capitals only because several are everyday words in lower case (tin, nie, ein, btw).
_TAX_KINDS: Final[tuple[tuple[str, str, tuple[_Validator, ...]], ...]] = (
    ("ssn", r"\bSSNs?\b|(?i:\bsocial\s+security\b)", (us_ssn.is_valid, us_itin.is_valid)),
    ("itin", r"\bITINs?\b", (us_itin.is_valid,)),
    ("ein", r"\bF?EINs?\b|(?i:\bemployer\s+id(?:entification)?\b)", (us_ein.is_valid,)),
    ("de_vat", r"(?i:\bUSt\.?-?Id(?:\.?-?Nr)?\b\.?|\bumsatzsteuer-?id\w*)", (de_vat.is_valid,)),
    ("de_idnr", r"(?i:\bsteuer-?id(?:entifikationsnummer)?\b)|\bIdNr\b", (de_idnr.is_valid,)),
    ("de_stnr", r"(?i:\bsteuer-?(?:nummer|nr)\b\.?|\bSt\.?-?Nr\b\.?)", (de_stnr.is_valid,)),
    ("fr_siret", r"\bSIRET\b", (fr_siret.is_valid,)),
    ("fr_siren", r"\bSIREN\b", (fr_siren.is_valid,)),
    ("fr_tva", r"\bTVA\b", (fr_tva.is_valid, eu_vat.is_valid)),
    ("nif", r"\bNIF\b", (es_nif.is_valid, fr_nif.is_valid, pt_nif.is_valid)),
    ("es_cif", r"\bCIF\b", (es_cif.is_valid,)),
    ("es_nie", r"\bNIE\b", (es_nie.is_valid,)),
    ("es_dni", r"\bDNI\b", (es_dni.is_valid,)),
    ("it_iva", r"(?i:\bpartita\s+iva\b)|\bP\.?\s?IVA\b", (it_iva.is_valid,)),
    ("it_cf", r"(?i:\bcodice\s+fiscale\b)", (it_codicefiscale.is_valid,)),
    ("nl_btw", r"\bBTW\b", (nl_btw.is_valid,)),
    ("pl_nip", r"\bNIP\b", (pl_nip.is_valid,)),
    ("gb_utr", r"\bUTR\b", (gb_utr.is_valid,)),
    (
        "generic",
        r"\bTINs?\b|(?i:\bVAT\b|\btax(?:payer)?[\s-]*"
        r"(?:id(?:entification)?|number|no|nr|code|reg(?:istration)?|ref(?:erence)?)\b)",
        _GENERIC_TAX_CHECKS,
    ),
)
# Every word above starts at a word boundary with a letter. Saying so once up front lets the scan
# skip most positions with one test instead of trying all the alternatives at each (3-5x faster);
# the matches are the same.
_TAX_WORDS = re.compile(
    r"\b(?=[^\W\d_])(?:"
    + "|".join(f"(?P<{name}>{pattern})" for name, pattern, _ in _TAX_KINDS)
    + ")"
)
_TAX_CHECKS: Final[Mapping[str, tuple[_Validator, ...]]] = {
    name: checks for name, _, checks in _TAX_KINDS
}


_new_tuple = tuple.__new__


class _Token(NamedTuple):
    start: int
    end: int
    text: str


class _Hit(NamedTuple):
    start: int
    end: int
    marker: str
    distance: int  # characters to the context word; -1 when the checksum alone decided


def _checks(validators: tuple[_Validator, ...], value: str) -> bool:
    for validator in validators:
        try:
            if validator(value):
                return True
        except Exception:  # noqa: S112 - a checksum helper choking on odd input means "not this kind"
            continue
    return False


def _may_hold_opaque(text: str) -> bool:
    """Whether ``text`` can contain a marker, link or address (each needs one of these)."""
    return "[" in text or "@" in text or "://" in text


class _View:
    """The text as detectors see it: opaque spans blanked out, and the tokens that matter."""

    def __init__(self, text: str) -> None:
        masked = text
        if _may_hold_opaque(text):
            masked = _OPAQUE.sub(lambda m: "\0" * len(m.group()), text)
        self.masked = masked
        # Every match is a token holding a digit or a run of tokens one space apart that holds
        # one, so only chains of such tokens with a digit in them are split into tokens: in a
        # sentence that is a few tokens rather than every word. Tokens are the same as if the whole
        # text were split, and two chains are never one space apart, so runs stay inside one.
        self.tokens: list[_Token] = []
        for chain in _CHAIN.finditer(masked):
            start, end = chain.span()
            if _DIGIT.search(masked, start, end):
                # tuple.__new__ builds the named tuples without a Python-level call each.
                self.tokens += [
                    _new_tuple(_Token, (m.start(), m.end(), m.group()))
                    for m in _TOKEN.finditer(masked, start, end)
                ]
        # Indices of the tokens holding an ASCII digit, in order. Every candidate but a prefixed
        # VAT number starts at one, so detectors visit only these rather than every word.
        # (``isalpha`` is a cheap first test: most tokens are words.)
        self.numbers = [
            index
            for index, token in enumerate(self.tokens)
            if not token.text.isalpha() and _DIGIT.search(token.text)
        ]

    def near_numbers(self, reach: int) -> list[int]:
        """Indices of the tokens at most ``reach`` tokens before one holding a digit, in order."""
        indices: list[int] = []
        for number in self.numbers:
            first = max(number - reach, indices[-1] + 1 if indices else 0)
            indices.extend(range(first, number + 1))
        return indices

    def after_plus(self, token: _Token) -> bool:
        return token.start > 0 and self.masked[token.start - 1] == "+"

    def run(self, index: int, limit: int, shape: re.Pattern[str]) -> list[_Token]:
        """Up to ``limit`` tokens from ``index`` fitting ``shape``, one space apart."""
        run: list[_Token] = []
        for token in self.tokens[index : index + limit]:
            if run and (token.start - run[-1].end != 1 or self.masked[run[-1].end] != " "):
                break
            if not shape.fullmatch(token.text):
                break
            run.append(token)
        return run


class _Context:
    """Where one family of context words occurs, for nearest-word look-ups."""

    def __init__(self, pattern: re.Pattern[str], masked: str) -> None:
        self._masked = masked
        self._matches = list(pattern.finditer(masked))
        self._starts = [m.start() for m in self._matches]
        self._ends = [m.end() for m in self._matches]

    def before(self, start: int) -> tuple[int, re.Match[str]] | None:
        """The nearest context word ending within the window before ``start``, and its distance."""
        index = bisect_right(self._ends, start) - 1
        if index < 0:
            return None
        match = self._matches[index]
        gap = self._masked[match.end() : start]
        if len(gap) > _WINDOW or _names_other_id(gap):
            return None
        return len(gap), match

    def after(self, start: int, end: int) -> int | None:
        """Distance to the nearest context word starting within the window after ``end``."""
        index = bisect_left(self._starts, end)
        if index == len(self._starts):
            return None
        distance = self._starts[index] - end
        lead_in = self._masked[max(0, start - _WINDOW) : start]
        if distance > _WINDOW or _names_other_id(lead_in):
            return None
        return distance


def _names_other_id(before: str) -> bool:
    """Whether the last real word before a number names another kind of id ("invoice", ...)."""
    for word in reversed(_LETTERS.findall(before)):
        lowered = word.lower()
        if lowered not in _FILLERS:
            return lowered in _OTHER_IDS
    return False


class _Found:
    """A family of context words, looked for in a text the first time a detector asks.

    Like ``functools.cached_property`` (the result is stored on the instance, which then answers
    directly), without the lock that makes that costly on Python 3.11.
    """

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, contexts: _Contexts, owner: type | None = None) -> _Context:
        context = _Context(self._pattern, contexts.masked)
        contexts.__dict__[self._name] = context
        return context


class _Contexts:
    """The context words of one text, each family found only when a detector first asks for it.

    Scanning for context words is the costliest part of reading a text, and most texts hold no
    number that needs one, so nothing is scanned up front.
    """

    routing = _Found(_ROUTING_WORDS)
    routing_strong = _Found(_ROUTING_STRONG_WORDS)
    account = _Found(_ACCOUNT_WORDS)
    sort_code = _Found(_SORT_CODE_WORDS)
    tax = _Found(_TAX_WORDS)

    def __init__(self, masked: str) -> None:
        self.masked = masked

    @classmethod
    def of(cls, masked: str) -> _Contexts:
        return cls(masked)


def _digit_count(run: list[_Token]) -> int:
    """How many ASCII digits the tokens of ``run`` hold."""
    return sum(map(len, _DIGITS.findall(" ".join(token.text for token in run))))


def _longest(run: list[_Token], accept: Callable[[str], bool]) -> int:
    """How many tokens of ``run`` form the longest accepted value (0 when none is)."""
    for count in range(len(run), 0, -1):
        if accept(" ".join(token.text for token in run[:count])):
            return count
    return 0


def _is_iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    return 15 <= len(compact) <= 34 and iban.is_valid(compact)


# The detectors below visit only tokens that can start a match (see ``_View.numbers``), in order.
# Where a match consumes several tokens, the next visit is to a token after it ("resume").


def _find_ibans(view: _View, _: _Contexts) -> Iterator[_Hit]:
    tokens, resume = view.tokens, 0
    for index in view.numbers:  # an IBAN starts with its check digits: "DE89"
        if index < resume or not _IBAN_HEAD.fullmatch(tokens[index].text):
            continue
        count = _longest(view.run(index, 9, _ALNUM), _is_iban)
        if count:
            first, last = tokens[index], tokens[index + count - 1]
            yield _Hit(first.start, last.end, f"[{first.text[:2].upper()} IBAN removed]", -1)
            resume = index + count


def _is_card(groups: list[str]) -> bool:
    digits = "".join(groups)
    if not 13 <= len(digits) <= 19:
        return False
    # Printed cards group as 4-4-4-4(-3), 4-6-5 or 4-6-4; other groupings are dates and phones.
    if len(groups) > 1 and not (
        len(groups[0]) == 4
        and all(4 <= len(group) <= 6 for group in groups[1:-1])
        and len(groups[-1]) <= 6
    ):
        return False
    return bool(luhn.is_valid(digits))


def _card_length(view: _View, index: int) -> int:
    """How many tokens from ``index`` make up a card number (0 when they do not)."""
    token = view.tokens[index]
    if view.after_plus(token) or not _DIGIT_GROUPS.fullmatch(token.text):
        return 0
    if "-" in token.text:
        return 1 if _is_card(token.text.split("-")) else 0
    run = view.run(index, 6, _DIGITS)
    # Shortest first: a CVV or a further number read out after the card stays out of the match.
    for count in range(1, len(run) + 1):
        if _is_card([token.text for token in run[:count]]):
            return count
    return 0


def _find_cards(view: _View, _: _Contexts) -> Iterator[_Hit]:
    tokens, resume = view.tokens, 0
    for index in view.numbers:
        count = _card_length(view, index) if index >= resume else 0
        if count:
            first, last = tokens[index], tokens[index + count - 1]
            digits = "".join(ch for ch in view.masked[first.start : last.end] if ch.isdigit())
            yield _Hit(first.start, last.end, f"[card ending {digits[-4:]}]", -1)
            resume = index + count


def _vat_acceptor(country: str) -> Callable[[str], bool]:
    def accept(value: str) -> bool:
        compact = _NOT_ALNUM.sub("", value).upper()
        if len(compact) > 16 or sum(ch.isdigit() for ch in compact) < 5:
            return False
        return bool(gb_vat.is_valid(compact) if country == "GB" else eu_vat.is_valid(compact))

    return accept


def _find_prefixed_vat(view: _View, _: _Contexts) -> Iterator[_Hit]:
    tokens, resume = view.tokens, 0
    # The number may follow its country code as separate tokens ("DE 136 695 976", "ATU 1358..."),
    # but its digits are within the run of six tokens from the code.
    for index in view.near_numbers(5):
        if index < resume:
            continue
        token, count = tokens[index], 0
        head = _VAT_HEAD.match(token.text)
        if (
            head
            and head.group().upper() in _VAT_COUNTRIES
            and _VAT_PART.fullmatch(token.text)
            # "DE 136 695 976" needs the capitals; glued to its number any case will do.
            and (len(token.text) > 2 or head.group().isupper())
        ):
            run = view.run(index, 6, _VAT_PART)
            # The acceptor wants five digits: a run with fewer cannot hold a VAT number.
            if _digit_count(run) >= 5:
                count = _longest(run, _vat_acceptor(head.group().upper()))
        if count:
            yield _Hit(token.start, tokens[index + count - 1].end, _VAT_MARKER, -1)
            resume = index + count


def _find_dashed_ssn(view: _View, _: _Contexts) -> Iterator[_Hit]:
    for token in map(view.tokens.__getitem__, view.numbers):
        if (
            _SSN_SHAPE.fullmatch(token.text)
            and not view.after_plus(token)
            and _checks((us_ssn.is_valid, us_itin.is_valid), token.text)
        ):
            yield _Hit(token.start, token.end, _TAX_MARKER, -1)


def _find_routing(view: _View, contexts: _Contexts) -> Iterator[_Hit]:
    for token in map(view.tokens.__getitem__, view.numbers):
        if not _ROUTING_SHAPE.fullmatch(token.text) or view.after_plus(token):
            continue
        if not us_rtn.is_valid(token.text):
            continue
        near = contexts.routing.before(token.start)
        distance = near[0] if near else contexts.routing_strong.after(token.start, token.end)
        if distance is not None:
            yield _Hit(token.start, token.end, _ROUTING_MARKER, distance)


def _find_sort_codes(view: _View, contexts: _Contexts) -> Iterator[_Hit]:
    tokens, resume = view.tokens, 0
    for index in view.numbers:
        if index < resume:
            continue
        token, count = tokens[index], 0
        if _SORT_CODE_SHAPE.fullmatch(token.text):
            count = 1
        elif _PAIR.fullmatch(token.text) and len(view.run(index, 3, _PAIR)) == 3:
            count = 3
        if count and not view.after_plus(token):
            end = tokens[index + count - 1].end
            near = contexts.sort_code.before(token.start)
            distance = near[0] if near else contexts.sort_code.after(token.start, end)
            if distance is not None:
                yield _Hit(token.start, end, _SORT_CODE_MARKER, distance)
                resume = index + count


def _find_accounts(view: _View, contexts: _Contexts) -> Iterator[_Hit]:
    for token in map(view.tokens.__getitem__, view.numbers):
        if _ACCOUNT_SHAPE.fullmatch(token.text) and not view.after_plus(token):
            near = contexts.account.before(token.start)
            if near is not None:
                yield _Hit(token.start, token.end, _ACCOUNT_MARKER, near[0])


def _tax_part(text: str) -> bool:
    return bool(_TAX_PART.fullmatch(text)) and not _NOT_TAX.fullmatch(text)


def _find_tax_by_context(view: _View, contexts: _Contexts) -> Iterator[_Hit]:
    tokens, resume = view.tokens, 0
    # Where the first letter is: "is there a word before this number" is then one comparison,
    # not a search from the start for every number (quadratic on a long run of digits).
    letter = _LETTERS.search(view.masked)
    first_letter = letter.start() if letter is not None else len(view.masked)
    for index in view.numbers:
        if index < resume:
            continue
        token, count, distance = tokens[index], 0, 0
        # _is_tax_id wants five digits, so a run with fewer ("Q-7710 approved by the customer") is
        # dropped before the context words are looked up, which is what costs the most. The run is
        # at most the next five tokens: fewer digits than five in those rule it out cheaply.
        last = tokens[min(index + 4, len(tokens) - 1)]
        if (
            _tax_part(token.text)
            and any(ch.isdigit() for ch in token.text)
            and len(_DIGIT.findall(view.masked, token.start, last.end)) >= 5
        ):
            run = _tax_run(view, index)
            # A context word before the number holds letters: with none before it ("+1312..."
            # alone in a phone field) there is no word to look for.
            near = None
            if _digit_count(run) >= 5 and first_letter < token.start:
                near = contexts.tax.before(token.start)
            if near is not None:
                distance, match = near
                checks = _TAX_CHECKS[match.lastgroup or "generic"]
                count = _longest(run, partial(_is_tax_id, checks=checks))
        if count:
            yield _Hit(token.start, tokens[index + count - 1].end, _TAX_MARKER, distance)
            resume = index + count


def _tax_run(view: _View, index: int) -> list[_Token]:
    run = view.run(index, 5, _TAX_PART)
    for position, token in enumerate(run):
        if _NOT_TAX.fullmatch(token.text):
            return run[:position]
    return run


def _is_tax_id(value: str, *, checks: tuple[_Validator, ...]) -> bool:
    compact = _NOT_ALNUM.sub("", value)
    if len(compact) > 20 or sum(ch.isdigit() for ch in compact) < 5:
        return False
    return _checks(checks, compact)


_Detector = Callable[[_View, _Contexts], Iterator[_Hit]]

# In priority order: when spans overlap, checksum-only matches win in this order, then the match
# with the nearest context word.
_DETECTORS: Final[tuple[tuple[SensitiveCategory, _Detector], ...]] = (
    (_BANK, _find_ibans),
    (_CARD, _find_cards),
    (_TAX, _find_prefixed_vat),
    (_TAX, _find_dashed_ssn),
    (_BANK, _find_routing),
    (_BANK, _find_sort_codes),
    (_BANK, _find_accounts),
    (_TAX, _find_tax_by_context),
)

_ANY_DIGITS = re.compile(r"\d+")
# "[A-Za-z]{2}\d{2}" written digits first, so the search jumps from digit to digit (twice as fast).
_IBAN_START = re.compile(r"\d\d(?<=[A-Za-z]{2}\d\d)")


class _Digits(NamedTuple):
    """The digits in a text, for telling cheaply which detectors could find anything in it.

    Finding candidates is costly and most texts (names, e-mail addresses, a sentence with a date)
    cannot hold any, so each detector runs only on a text that has what it needs (``_Needs``).
    Digits count as ``\\d`` does, Unicode digits ("١٢٣") included, as the loose pre-pass reads
    them. The token detectors read ASCII digits only, and a run of them that makes up a token or a
    dash-separated group of one is a whole run here too: its neighbours are never digits, masked
    spans included (a marker starts with "[", a link or address cannot start or end against a
    word character). So no text is skipped that a detector could find something in.
    """

    total: int  # digits in the whole text
    runs: frozenset[int]  # the lengths of its unbroken runs of digits
    iban_start: bool  # two ASCII letters just before two digits ("DE89"), as every IBAN starts

    @classmethod
    def of(cls, text: str) -> _Digits:
        lengths = [len(run) for run in _ANY_DIGITS.findall(text)]
        if not lengths:
            return cls(0, frozenset(), False)
        return cls(sum(lengths), frozenset(lengths), _IBAN_START.search(text) is not None)

    def suit(self, needs: _Needs) -> bool:
        return (
            self.total >= needs.total
            and (needs.runs is None or not self.runs.isdisjoint(needs.runs))
            and (self.iban_start or not needs.iban_start)
        )


class _Needs(NamedTuple):
    """What a detector needs in a text before it can find anything in it."""

    total: int  # at least this many digits
    runs: frozenset[int] | None = None  # a run of digits of one of these lengths
    iban_start: bool = False  # an IBAN's start: two letters then two digits


# Read off each detector's shapes and checks: the card checks want 13 digits and the VAT and tax-ID
# checks 5; an SSN is 3-2-4 digits, a routing number a token of 9 and an account number one of 6
# to 17; a sort code is a token of 6 or groups of 2. An IBAN can hold no digits but its two check
# digits (Qatar, Latvia, Romania and others have an alphanumeric BBAN), so IBANs are looked for
# whenever the text has a "DE89"-like start.
_NEEDS: Final[Mapping[_Detector, _Needs]] = {
    _find_ibans: _Needs(total=2, iban_start=True),
    _find_cards: _Needs(total=13),
    _find_prefixed_vat: _Needs(total=5),
    _find_dashed_ssn: _Needs(total=9, runs=frozenset({4})),
    _find_routing: _Needs(total=9, runs=frozenset({9})),
    _find_sort_codes: _Needs(total=6, runs=frozenset({2, 6})),
    _find_accounts: _Needs(total=6, runs=frozenset(range(6, 18))),
    _find_tax_by_context: _Needs(total=5),
}
# Below this many digits, and with no IBAN start, no detector can find anything (nor can the loose
# pre-pass, which wants what the card and IBAN detectors want).
_FEWEST_DIGITS: Final = min(needs.total for needs in _NEEDS.values() if not needs.iban_start)
# The detectors with what each needs, in priority order.
_PLAN: Final = tuple(
    (order, category, detect, _NEEDS[detect]) for order, (category, detect) in enumerate(_DETECTORS)
)


# A prefixed VAT number is a run of tokens one space apart, each of ASCII letters, digits, "."
# and "-", the first starting with its country's letters (a token starts after a character that
# is not a word character), with five digits in it. Such a run lies inside one chain of words
# made of those characters, so a text none of whose chains holds five digits and such a start
# holds no VAT number.
_VAT_CHAIN = re.compile(r"[A-Za-z0-9.\-]+(?: [A-Za-z0-9.\-]+)*")
_WORD_HEAD = re.compile(r"(?<!\w)[A-Za-z]{2}")


def _may_hold_vat(text: str) -> bool:
    for chain in _VAT_CHAIN.finditer(text):
        if sum(map(chain.group().count, "0123456789")) >= 5 and any(
            head.group().upper() in _VAT_COUNTRIES
            for head in _WORD_HEAD.finditer(text, chain.start(), chain.end())
        ):
            return True
    return False


_SSN_LIKE = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")
# Every routing, sort code and tax context word above starts with one of these (in lower case):
# a cheap first test, several times faster than the context patterns themselves. Account words
# ("account" alone is not one: "account number" is) are looked for whole once their hint is seen.
_CONTEXT_HINT = re.compile(
    r"\b(?=[a-z])(?:ssn|social|itin|f?ein|employer|ust|umsatzsteuer|steuer|idnr|st\.?-?nr"
    r"|sire[tn]|tva|nif|cif|nie|dni|partita|p\.?\s?iva|codice|btw|nip|utr|tin|vat|tax"
    r"|routing|aba|rtn|transit|wir|bank|sort)"
)
_ACCOUNT_HINT = re.compile(r"\b(?:acc|a/c|konto|num)")


def may_find(text: str) -> bool:
    """Whether ``redact_tokens`` may find anything in ASCII ``text`` (false: it certainly won't).

    A cheap superset of every detector's needs, for texts with fewer than 13 digits (no card):
    an IBAN's start, a dashed SSN, a VAT country code followed by five digits, or one of the
    context words the routing, sort code, account and tax detectors read (searched in the text
    itself: masking links, addresses and markers only takes words away).
    """
    digits = sum(map(text.count, "0123456789"))
    if digits >= 13 or _IBAN_START.search(text) is not None:
        return True
    return digits >= _FEWEST_DIGITS and (
        _SSN_LIKE.search(text) is not None
        or _CONTEXT_HINT.search(lowered := text.lower()) is not None
        or (_ACCOUNT_HINT.search(lowered) is not None and _ACCOUNT_WORDS.search(text) is not None)
        or _may_hold_vat(text)
    )


def _redact_once(
    text: str, active: frozenset[SensitiveCategory], digits: _Digits
) -> tuple[str, frozenset[SensitiveCategory]]:
    runnable = [
        (order, category, detect)
        for order, category, detect, needs in _PLAN
        if category in active and digits.suit(needs)
    ]
    if not runnable:
        return text, frozenset()
    view = _View(text)
    contexts = _Contexts.of(view.masked)
    ranked: list[tuple[int, int, _Hit, SensitiveCategory]] = []
    for order, category, detect in runnable:
        ranked.extend((hit.distance, order, hit, category) for hit in detect(view, contexts))
    if not ranked:
        return text, frozenset()
    ranked.sort(key=lambda item: (item[0], item[1], item[2].start))

    claimed = bytearray(len(text))
    chosen: list[_Hit] = []
    found: set[SensitiveCategory] = set()
    for _, _, hit, category in ranked:
        if claimed.find(1, hit.start, hit.end) == -1:
            claimed[hit.start : hit.end] = b"\1" * (hit.end - hit.start)
            chosen.append(hit)
            found.add(category)

    pieces: list[str] = []
    position = 0
    for hit in sorted(chosen):
        pieces += [text[position : hit.start], hit.marker]
        position = hit.end
    pieces.append(text[position:])
    return "".join(pieces), frozenset(found)


def redact_tokens(
    text: str, active: frozenset[SensitiveCategory]
) -> tuple[str, frozenset[SensitiveCategory]]:
    digits = _Digits.of(text)
    # Most fields (names, addresses, a sentence with a date) hold too few digits for any detector:
    # they leave here as they are, without being read any further.
    if digits.total < _FEWEST_DIGITS and not digits.iban_start:
        return text, frozenset()
    loosened, loose = _redact_loose(text, digits)
    found: set[SensitiveCategory] = set(loose)
    if loosened != text:
        text, digits = loosened, _Digits.of(loosened)
    # Repeat to a fixed point so a second call changes nothing. Each round that changes the text
    # removes digits (a marker holds at most 4, every match at least 9 or 13), so this ends.
    while True:
        cleaned, round_found = _redact_once(text, active, digits)
        found |= round_found
        if cleaned == text:
            return text, frozenset(found)
        text, digits = cleaned, _Digits.of(cleaned)


# Card numbers and IBANs typed with looser separators than the token detectors join: several
# spaces, no-break or thin spaces, dots, dashes inside an IBAN, or a card glued to an expiry
# ("4111 1111 1111 1111/12"). Groups after a first group of four keep the card shape (4 to 6
# digits, the last 1 to 6) so dates and phone numbers never join into a candidate.
_SEP = r"[ \u00a0\u2007\u202f.\-]{1,3}"
_LOOSE_CARD = re.compile(rf"(?<![\w.])\d{{4}}(?:{_SEP}\d{{4,6}}){{1,3}}(?:{_SEP}\d{{1,6}})?(?!\d)")
_LOOSE_IBAN = re.compile(
    rf"(?<![\w])[A-Za-z]{{2}}\d{{2}}(?:{_SEP}?[A-Za-z0-9]{{1,4}}){{3,8}}(?![\w])"
)
_GROUP = re.compile(r"\d+")


def _loose_card(match: re.Match[str]) -> str | None:
    """The card marker for the shortest Luhn-valid run of groups, or None."""
    groups = [g.group() for g in _GROUP.finditer(match.group())]
    for count in range(2, len(groups) + 1):
        digits = "".join(groups[:count])
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            rest = match.group()[len(_joined_prefix(match.group(), count)) :]
            return f"[card ending {digits[-4:]}]{rest}"
    return None


def _joined_prefix(text: str, groups: int) -> str:
    """The leading part of ``text`` holding its first ``groups`` digit groups."""
    ends = [g.end() for g in _GROUP.finditer(text)]
    return text[: ends[groups - 1]]


def _redact_loose(
    text: str, digits: _Digits | None = None
) -> tuple[str, frozenset[SensitiveCategory]]:
    """Remove loosely separated cards and IBANs outside URLs, emails and markers.

    ``digits`` describes ``text`` when the caller has it already.
    """
    if digits is None:
        digits = _Digits.of(text)
    found: set[SensitiveCategory] = set()
    # A loose IBAN starts like any other; a loose card is replaced only when it has 13 digits.
    find_ibans = digits.suit(_NEEDS[_find_ibans])
    find_cards = digits.suit(_NEEDS[_find_cards])
    if not (find_ibans or find_cards):
        return text, frozenset()

    def segment(part: str) -> str:
        def iban_marker(match: re.Match[str]) -> str:
            compact = re.sub(r"[^A-Za-z0-9]", "", match.group()).upper()
            if iban.is_valid(compact):
                found.add(SensitiveCategory.BANK_DETAILS)
                return f"[{compact[:2]} IBAN removed]"
            return match.group()

        def card_marker(match: re.Match[str]) -> str:
            marker = _loose_card(match)
            if marker is None:
                return match.group()
            found.add(SensitiveCategory.CARD_NUMBER)
            return marker

        if find_ibans:
            part = _LOOSE_IBAN.sub(iban_marker, part)
        return _LOOSE_CARD.sub(card_marker, part) if find_cards else part

    if not _may_hold_opaque(text):
        cleaned = segment(text)
        return cleaned, frozenset(found)
    pieces: list[str] = []
    position = 0
    for opaque in _OPAQUE.finditer(text):
        pieces += [segment(text[position : opaque.start()]), opaque.group()]
        position = opaque.end()
    pieces.append(segment(text[position:]))
    return "".join(pieces), frozenset(found)
