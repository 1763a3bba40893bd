"""First pass: numbers as callers say them, read in normalised text.

``tokens`` finds tidy values ("4111 1111 1111 1111", "DE89 3704 ..."). This pass reads the text
as ``normalise`` folds it (Unicode digits, fullwidth letters, zero-width characters, spoken digits)
and finds what is written loosely:

- card numbers: a *cluster* is digits joined by up to three separators (space, tab, newline, ``-``
  ``/`` ``_`` ``,`` ``.``) or by a few filler words ("and then", "uh"); a card is a run of its
  groups with 13 to 19 digits that passes Luhn, starts like a card (2-6, or 1800) and is grouped
  like one (one group; 4 then groups of 4-6; or equal groups of 1-4 with a shorter last one; any
  grouping when it was spoken), not straight after ``+`` (a phone number). A letter glued in front
  ("x4111...") does not hide it. An expiry date and a 3-4 digit security code just after a card
  (with words such as "exp", "cvv" between) go with it;
- IBANs with letters spaced out, in lower case, split over lines, in fullwidth: the country's
  length is read from python-stdnum's registry and the checksum and format decide;
- values after a cue word, in any case, with separators: routing/ABA (9 digits, checksum), sort
  code and BSB (6 digits), bank account ("account", "acct", "a/c", "wire to", or straight after a
  routing number, sort code or BSB: 6-30 digits, letters allowed as in a BBAN), SSN ("ssn",
  "social security": 9 digits), CVV/CVC (3-4 digits), expiry ("exp", "expires", "valid thru":
  MM/YY), VAT ("vat", "USt-IdNr", "TVA", "BTW", "IVA", "NIP": 7 or more digits with their
  country letters, checksum or not: a misread VAT number is still the customer's);
- SSNs written 3-2-4 with spaces or dots ("536 22 8726"), checked with python-stdnum.

Only the words between a cue and its value that say nothing else ("number", "is", "my", ":") are
skipped, so "account overdue since 2026-11-30" keeps its date.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Final, NamedTuple

from stdnum import iban
from stdnum.us import itin as us_itin
from stdnum.us import rtn as us_rtn
from stdnum.us import ssn as us_ssn

from services.handoff_model import SensitiveCategory
from services.redaction import markers
from services.redaction.normalise import Normalised, normalise
from services.redaction.tokens import ALWAYS, redact_tokens

__all__ = ["digit_count", "iban_starts", "may_cue", "may_find", "redact_clusters"]

_CARD = SensitiveCategory.CARD_NUMBER
_BANK = SensitiveCategory.BANK_DETAILS
_TAX = SensitiveCategory.TAX_IDENTIFIER

_SEP = r"[ \t\n\r\f\v\-/_,.]"
_FILLER = r"(?:and|then|uh|um+|er|erm|ah|so|ok|okay|sorry|again|the|rest|is)"
_CLUSTER: Final = re.compile(
    rf"(?i)[0-9]+(?:{_SEP}{{1,3}}(?:{_FILLER}{_SEP}{{1,3}}){{0,3}}[0-9]+)*"
)
_DIGITS: Final = re.compile(r"[0-9]+")

# After a card: what may sit between it and its expiry date or security code.
_TAIL_GAP: Final = re.compile(
    r"(?i)(?:[\s,;:.()\-]|(?:and|then|exp(?:iry|ires|iration)?|date|valid|thru|through|until"
    r"|cvv2?|cvc2?|cvn|csc|cid|security|code|the|is|uh|um|on|back|its|it's)(?![a-z]))*"
)
_EXPIRY_VALUE: Final = re.compile(
    r"(?:0?[1-9]|1[0-2]) ?[/\-.] ?(?:20)?[0-9]{2}(?![0-9])|(?:0[1-9]|1[0-2])(?:20)?[0-9]{2}(?![0-9])"
)
_CODE_VALUE: Final = re.compile(r"[0-9]{3,4}(?![0-9]|[ \-/.][0-9])")

_CUE_PATTERN: Final = r"""(?x)\b(?=[abcersvwiunt])(?:
      (?P<routing>routing(?:\s+(?:number|num|no|nr))?|aba|rtn|transit\s+(?:number|no))
    | (?P<sort>sort[\s-]?code|bsb)
    | (?P<account>(?:bank\s+)?(?:account|acct)(?:\s*(?:number|num|no|nr))?|a/c
        |wire[ds]?(?:\s+(?:it|them|the\s+money|the\s+funds|funds|money|payment))?\s+to)
    | (?P<ssn>ssn|social\s+security(?:\s+(?:number|no))?|social)
    | (?P<cvv>cvv2?|cvc2?|cvn|csc|security\s+code|card\s+verification(?:\s+(?:code|value|number))?)
    | (?P<expiry>exp(?:iry|ires|iration)?(?:\s+date)?|valid\s+(?:thru|through|until|till)|expiring)
    | (?P<vat>vat(?:\s*(?:id|number|no|reg(?:istration)?(?:\s+number)?))?|ust-?id(?:-?nr)?\.?
        |tva|btw|iva|nip)
    )(?![a-z])"""
# On lower-cased ASCII text the pattern runs case-sensitively (several times faster than (?i));
# text that is not ASCII after folding keeps its case and uses the (?i) form.
_CUE: Final = re.compile(_CUE_PATTERN)
_CUE_ANY_CASE: Final = re.compile(_CUE_PATTERN, re.IGNORECASE)
_CUE_GAP: Final = re.compile(
    r"(?i)(?:[\s:#=.,;()\-]|(?:number|num|no|nr|is|it's|its|was|the|my|our|to|ending|in|of"
    r"|please|uh|um|code|on|file|at|then)(?![a-z]))*"
)
# Between a routing number, sort code or BSB and the account number read out after it.
_ACCOUNT_GAP: Final = re.compile(
    r"(?i)(?:[\s:#=,;.\-/()]|(?:and|then|account|acct|number|num|no|is|the|a/c)(?![a-z]))+"
)
_VALUE: Final = re.compile(r"[0-9]+(?:[ \-./_,]{1,2}[0-9]+)*")
# A national account number (BBAN) may hold letters: "PAMN90743915000806", "U6317066907439...".
_ALNUM_VALUE: Final = re.compile(
    r"[A-Za-z0-9]*[0-9][A-Za-z0-9]*(?:[ \-./][A-Za-z0-9]*[0-9][A-Za-z0-9]*)*"
)
# A VAT number may have its country letters apart ("FR 40 303 265 045").
_VAT_VALUE: Final = re.compile(rf"(?:[A-Za-z]{{2,4}} ?)?{_ALNUM_VALUE.pattern}")
_MAX_BBAN: Final = 30  # the longest national account number in the IBAN registry
_NOT_ACCOUNT: Final = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}"
    r"|[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+\.[0-9]{2}"
)
_WINDOW: Final = 30  # characters between a cue word and its value
_SSN_LIKE: Final = re.compile(r"[0-9]{3}[ ._\-][0-9]{2}[ ._\-][0-9]{4}")
_SSN_SPACED: Final = re.compile(
    r"(?<![0-9+.\-/])([0-9]{3})([ ._\-])([0-9]{2})\2([0-9]{4})(?![0-9]|[ ._\-/][0-9])"
)
# An IBAN starts with two letters and two digits, maybe spaced out ("G B 8 2"). Looked for from
# the digits, which are far fewer than the letters in most text.
_PAIR: Final = re.compile(r"[0-9] ?[0-9]")
_LETTERS_BEFORE: Final = re.compile(r"(?i)[^a-z0-9]([a-z] ?[a-z] ?)$")
_IBAN_BODY: Final = re.compile(r"(?i)[a-z0-9](?:[ \t\n\r\-.]{0,3}[a-z0-9]){0,33}")
_ALNUM: Final = re.compile(r"(?i)[a-z0-9]")


def _iban_lengths() -> dict[str, int]:
    """Each IBAN country's length, from python-stdnum's registry ("4!a6!n8!n" -> 4 + 18)."""
    lengths: dict[str, int] = {}
    for first in string.ascii_uppercase:
        for second in string.ascii_uppercase:
            info = iban._ibandb.info(f"{first}{second}00")[0][1]
            if bban := info.get("bban"):
                lengths[first + second] = 4 + sum(int(n) for n in re.findall(r"[0-9]+", bban))
    return lengths


_IBAN_LENGTHS: Final = _iban_lengths()


class _Hit(NamedTuple):
    start: int  # in the normalised text
    end: int
    marker: str
    category: SensitiveCategory


# Every cue word holds one of these: a cheap first test before the cue pattern itself.
_CUE_HINT: Final = re.compile(
    r"\b(?:rout|aba|rtn|transit|sort|bsb|acct|account|a/c|wire|ssn|social|cv|csc|secur|card"
    r"|exp|valid|vat|ust|tva|btw|iva|nip)"
)


def may_cue(lowered: str) -> bool:
    """Whether lower-cased ``lowered`` may hold a cue word (false means it certainly holds none)."""
    return _CUE_HINT.search(lowered) is not None


def digit_count(text: str) -> int:
    """How many ASCII digits ``text`` holds."""
    return sum(map(text.count, "0123456789"))


def may_find(text: str) -> bool:
    """Whether ``redact_clusters`` may find anything in ``text`` (false: it certainly won't).

    Only for ASCII text without digit words, which reads the same normalised: a card wants 13
    digits, an IBAN its start and a spaced SSN nine digits in 3-2-4; a cued value is looked for.
    """
    digits = digit_count(text)
    if digits < 3:
        return False
    if (
        digits >= 13
        or next(iban_starts(text), None) is not None
        or (digits >= 9 and _SSN_LIKE.search(text) is not None)
    ):
        return True
    # Only a value after a cue word is left: read the cues as ``redact_clusters`` does.
    if not may_cue(text.lower()):
        return False
    if "[" in text:
        text = markers.MARKER.sub(lambda m: "\0" * len(m.group()), text)
    lowered = text.lower()
    return _CUE.search(lowered) is not None and next(_cued(lowered, _CUE), None) is not None


def redact_clusters(text: str) -> tuple[str, frozenset[SensitiveCategory]]:
    """Replace loosely written, spoken or Unicode-digit secrets in ``text`` with markers."""
    norm = normalise(text)
    folded = norm.text
    digits = digit_count(folded)
    if digits < 3:
        return text, frozenset()
    if "[" in folded:  # markers already in the text are read as nothing
        folded = markers.MARKER.sub(lambda m: "\0" * len(m.group()), folded)
    hits: list[_Hit] = []
    # An IBAN first: its country format and checksum say more than Luhn's one digit in ten.
    hits += _ibans(folded)
    if digits >= 13:
        hits += _cards(folded, norm)
    lowered = folded.lower()
    if folded.isascii():
        if may_cue(lowered) and _CUE.search(lowered):
            hits += _cued(lowered, _CUE)
    elif _CUE_ANY_CASE.search(folded):
        hits += _cued(folded, _CUE_ANY_CASE)
    if digits >= 9:
        hits += _spaced_ssns(folded)
    if not hits:
        return text, frozenset()
    chosen: list[_Hit] = []
    for hit in hits:  # in priority order: the first claim on a span wins
        if all(hit.end <= c.start or c.end <= hit.start for c in chosen):
            chosen.append(hit)
    pieces: list[str] = []
    position = 0
    for hit in sorted(chosen):
        start, end = norm.span(hit.start, hit.end)
        pieces += [text[position:start], hit.marker]
        position = end
    pieces.append(text[position:])
    return "".join(pieces), frozenset(hit.category for hit in chosen)


def _card_shape(lengths: list[int], *, said: bool) -> bool:
    if len(lengths) == 1:
        return True
    if said and min(lengths) >= 4:  # "6511 0769 and then 5 9854 9046": halves as they were read
        return True
    if lengths[0] == 4 and all(4 <= n <= 6 for n in lengths[1:-1]) and lengths[-1] <= 6:
        return True
    first = lengths[0]
    return first <= 4 and all(n == first for n in lengths[:-1]) and lengths[-1] <= first


def _after_plus(text: str, start: int) -> bool:
    before = text[max(0, start - 2) : start]
    return before.endswith("+") or before == "+("


def _cards(text: str, norm: Normalised) -> Iterator[_Hit]:
    for cluster in _CLUSTER.finditer(text):
        groups = [m.span() for m in _DIGITS.finditer(text, cluster.start(), cluster.end())]
        if sum(end - start for start, end in groups) < 13:
            continue
        # Read out (spoken, or with words between the groups): grouping says nothing then.
        spoken = norm.has_spoken(cluster.start(), cluster.end())
        said = _has_letters(cluster.group())
        index = 0
        while index < len(groups):
            found = _card_from(text, groups, index, spoken=spoken, said=said)
            if found is None:
                index += 1
                continue
            last, number = found
            start, end = groups[index][0], groups[last][1]
            yield _Hit(start, end, markers.card(number), _CARD)
            yield from _tail(text, end)
            index = last + 1


def _card_from(
    text: str, groups: list[tuple[int, int]], index: int, *, spoken: bool, said: bool
) -> tuple[int, str] | None:
    """The last group and the digits of the shortest card starting at group ``index``."""
    start = groups[index][0]
    if text[start] not in "123456" or _after_plus(text, start):
        return None
    number = ""
    for last in range(index, len(groups)):
        number += text[groups[last][0] : groups[last][1]]
        if len(number) > 19 or (len(number) >= 4 and number[0] == "1" and number[:4] != "1800"):
            return None
        if (
            len(number) >= 13
            and (spoken or _card_shape([e - s for s, e in groups[index : last + 1]], said=said))
            and _luhn(number)
        ):
            return last, number
    return None


_DOUBLED: Final = tuple((2 * d) // 10 + (2 * d) % 10 for d in range(10))


def _luhn(number: str) -> bool:
    """The Luhn check (as ``stdnum.luhn.is_valid`` on ASCII digits, without its overhead)."""
    digits = [ord(ch) - 48 for ch in reversed(number)]
    total = sum(digits[0::2]) + sum(_DOUBLED[d] for d in digits[1::2])
    return total % 10 == 0


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _tail(text: str, position: int) -> Iterator[_Hit]:
    """An expiry date and a security code read out just after a card."""
    for _ in range(2):
        gap = _TAIL_GAP.match(text, position)
        start = gap.end() if gap else position
        if start - position > _WINDOW:
            return
        if expiry := _EXPIRY_VALUE.match(text, start):
            yield _Hit(start, expiry.end(), markers.EXPIRY, _CARD)
            position = expiry.end()
        elif code := _CODE_VALUE.match(text, start):
            yield _Hit(start, code.end(), markers.SECURITY_CODE, _CARD)
            position = code.end()
        else:
            return


def iban_starts(text: str) -> Iterator[tuple[int, str]]:
    """Where each "GB82"-like start is, and its country letters."""
    for pair in _PAIR.finditer(text):
        start = pair.start()
        if start > 0 and "0" <= text[start - 1] <= "9":
            continue
        window = (" " if start <= 6 else "") + text[max(0, start - 6) : start]
        if letters := _LETTERS_BEFORE.search(window):
            yield start - len(letters.group(1)), letters.group(1).replace(" ", "").upper()


def _ibans(text: str) -> Iterator[_Hit]:
    position = 0
    for start, country in iban_starts(text):
        length = _IBAN_LENGTHS.get(country)
        if length is None or start < position:
            continue
        body = _IBAN_BODY.match(text, start)
        if body is None:  # pragma: no cover - the start itself matches
            continue
        chars = [(m.group(), m.end()) for m in _ALNUM.finditer(text, body.start(), body.end())]
        if len(chars) < length:
            continue
        candidate = "".join(char for char, _ in chars[:length]).upper()
        if iban.is_valid(candidate):
            end = chars[length - 1][1]
            yield _Hit(start, end, markers.iban(candidate), _BANK)
            position = end


def _value_start(text: str, cue_end: int) -> int | None:
    gap = _CUE_GAP.match(text, cue_end)
    start = gap.end() if gap else cue_end
    return None if start - cue_end > _WINDOW else start


def _prefix(value: re.Match[str], wanted: int) -> tuple[int, int] | None:
    """The end of the first groups of ``value`` holding exactly ``wanted`` digits, and the rest."""
    count = 0
    for group in _DIGITS.finditer(value.string, value.start(), value.end()):
        count += group.end() - group.start()
        if count == wanted:
            return group.end(), count
        if count > wanted:
            return None
    return None


def _cued(text: str, cues: re.Pattern[str]) -> Iterator[_Hit]:
    """Values after cue words; ``text`` is lower-cased unless ``cues`` ignores case."""
    for cue in cues.finditer(text):
        kind = cue.lastgroup
        start = _value_start(text, cue.end())
        if start is None or kind is None:
            continue
        if kind in {"routing", "sort", "ssn"}:
            value = _VALUE.match(text, start)
            if value is None:
                continue
            wanted = 9 if kind != "sort" else 6
            prefix = _prefix(value, wanted)
            if prefix is None:
                continue
            end = prefix[0]
            number = "".join(_DIGITS.findall(text, start, end))
            if kind == "routing" and not us_rtn.is_valid(number):
                continue
            if kind == "ssn" and _NOT_ACCOUNT.fullmatch(text, start, end):
                continue
            marker = {"routing": markers.ROUTING, "sort": markers.SORT_CODE, "ssn": markers.TAX}
            yield _Hit(start, end, marker[kind], _TAX if kind == "ssn" else _BANK)
            if kind != "ssn":
                yield from _account_after(text, end)
        elif kind == "account":
            hit = _account(text, start)
            if hit is not None:
                yield hit
        elif kind == "vat":
            vat = _VAT_VALUE.match(text, start)
            if (
                vat
                and digit_count(vat.group()) >= 7
                and len(vat.group()) <= 20
                # One that ``tokens`` removes whole (its checksum passes) is left to it: it names
                # the kind of id more precisely.
                and not _tokens_take_all(text[cue.start() : vat.end()], vat.start() - cue.start())
            ):
                yield _Hit(start, vat.end(), markers.VAT, _TAX)
        elif kind == "cvv":
            if code := _CODE_VALUE.match(text, start):
                yield _Hit(start, code.end(), markers.SECURITY_CODE, _CARD)
        elif expiry := _EXPIRY_VALUE.match(text, start):
            yield _Hit(start, expiry.end(), markers.EXPIRY, _CARD)


def _tokens_take_all(text: str, value_start: int) -> bool:
    """Whether the token pass replaces all of ``text`` from ``value_start`` (a cue, then a value)."""
    cleaned, found = redact_tokens(text, ALWAYS)
    rest = cleaned[value_start:]
    return bool(found) and not any(ch.isdigit() for ch in markers.MARKER.sub("", rest))


def _account(text: str, start: int) -> _Hit | None:
    """An account number (6 to 30 digits, letters allowed as in a BBAN) starting at ``start``."""
    value = _ALNUM_VALUE.match(text, start)
    if value is None:
        return None
    count = digit_count(value.group())
    if not 6 <= count <= _MAX_BBAN or _NOT_ACCOUNT.fullmatch(value.group()):
        return None
    return _Hit(value.start(), value.end(), markers.ACCOUNT, _BANK)


def _account_after(text: str, position: int) -> Iterator[_Hit]:
    """The account number read out straight after a routing number, sort code or BSB."""
    gap = _ACCOUNT_GAP.match(text, position)
    if gap is None or gap.end() - position > _WINDOW:
        return
    if (hit := _account(text, gap.end())) is not None:
        yield hit


def _spaced_ssns(text: str) -> Iterator[_Hit]:
    for match in _SSN_SPACED.finditer(text):
        number = match.group(1) + match.group(3) + match.group(4)
        if us_ssn.is_valid(number) or us_itin.is_valid(number):
            yield _Hit(match.start(), match.end(), markers.TAX, _TAX)
