"""Read text the way a detector should: ASCII digits and letters, spoken digits as digits.

Callers and transcription engines write the same number many ways: fullwidth or Arabic-Indic
digits, zero-width spaces inside it, "four one one one", "double five", "oh" for zero. Detection
runs on a normalised copy and every match is mapped back to the span of the original text it came
from, so what is removed (and what is kept) is always the caller's own text.

- Each character is folded on its own, so folding keeps every index: a Unicode decimal digit
  (``unicodedata.decimal``: Arabic-Indic, Devanagari, fullwidth, any ``Nd``) becomes its ASCII
  digit, a character whose NFKC form is one ASCII character becomes that (fullwidth letters and
  punctuation), dashes become ``-``, and spaces and invisible joiners (zero-width space, word
  joiner, soft hyphen, BOM) become a plain space, which detectors read as a separator.
- English digit words become digits: ``zero``/``oh``/``one``..``nine``/``niner``, ``double`` and
  ``triple`` before one of them. A run of them is written as one group of digits ("four one one
  one" -> ``4111``). A run is read only when it says at least two digits or sits next to a numeral
  ("four" alone in "four invoices" stays a word), and "oh" only inside such a run.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["Normalised", "may_say_digits", "normalise"]

_INVISIBLE: Final = frozenset({0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})


class _Fold(dict[int, int]):
    """A ``str.translate`` table that works out each code point the first time it is seen."""

    def __missing__(self, code: int) -> int:
        char = chr(code)
        value = unicodedata.decimal(char, None)
        if value is not None:
            folded = 48 + value
        elif code in _INVISIBLE or char.isspace():
            folded = 32
        elif unicodedata.category(char) == "Pd":
            folded = 45
        else:
            nfkc = unicodedata.normalize("NFKC", char)
            folded = ord(nfkc) if len(nfkc) == 1 and nfkc.isascii() else code
        self[code] = folded
        return folded


_FOLD: Final = _Fold({code: code for code in range(128)})

_WORDS: Final = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "niner": "9",
}  # fmt: skip
_WORD = "(?:zero|oh|one|two|three|four|five|six|seven|eight|niner|nine)"
_ITEM = rf"(?:(?:double|triple)[\s-]+{_WORD}|{_WORD})"
_RUN: Final = re.compile(rf"(?i)\b{_ITEM}(?:[\s,-]+{_ITEM})*\b")
_PART: Final = re.compile(rf"(?i)(?:(double|triple)[\s-]+)?({_WORD})")
# Cheap first test: every digit word holds one of these.
_HINT: Final = re.compile("zero|oh|one|two|thr|four|five|six|seven|eight|nine")


def may_say_digits(text: str) -> bool:
    """Whether ``text`` may hold a spoken digit (false means it certainly holds none)."""
    # Lower-casing first and searching case-sensitively is several times faster than (?i).
    return _HINT.search(text.lower()) is not None


_NUMERAL_NEAR: Final = re.compile(r"[0-9][\s,-]{0,3}$")
_NUMERAL_AFTER: Final = re.compile(r"[\s,-]{0,3}[0-9]")


class Normalised:
    """A normalised copy of a text and the way back from its indices to the original's."""

    __slots__ = ("_ends", "_starts", "spoken", "text")

    def __init__(
        self,
        text: str,
        starts: list[int] | None = None,
        ends: list[int] | None = None,
        spoken: list[tuple[int, int]] | None = None,
    ) -> None:
        self.text = text
        self._starts = starts
        self._ends = ends
        self.spoken = spoken or []  # spans of the normalised text that were spoken digits

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that normalised ``[start, end)`` came from."""
        if self._starts is None or self._ends is None:
            return start, end
        return self._starts[start], self._ends[end - 1]

    def has_spoken(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in self.spoken)


def normalise(text: str) -> Normalised:
    """The text folded to ASCII digits and letters, with spoken digits written as digits."""
    folded = text if text.isascii() else text.translate(_FOLD)
    if not may_say_digits(folded):
        return Normalised(folded)
    runs = [run for run in _RUN.finditer(folded) if _is_number(folded, run)]
    if not runs:
        return Normalised(folded)
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    spoken: list[tuple[int, int]] = []
    position = 0
    for run in runs:
        pieces.append(folded[position : run.start()])
        starts.extend(range(position, run.start()))
        ends.extend(range(position + 1, run.start() + 1))
        first = len(starts)
        for part in _PART.finditer(folded, run.start(), run.end()):
            times = {"double": 2, "triple": 3}.get((part.group(1) or "").lower(), 1)
            digit = _WORDS[part.group(2).lower()]
            pieces.append(digit * times)
            starts.extend([part.start()] * times)
            ends.extend([part.end()] * times)
        spoken.append((first, len(starts)))
        position = run.end()
    pieces.append(folded[position:])
    starts.extend(range(position, len(folded)))
    ends.extend(range(position + 1, len(folded) + 1))
    return Normalised("".join(pieces), starts, ends, spoken)


def _is_number(text: str, run: re.Match[str]) -> bool:
    """Whether a run of digit words says a number rather than "one" or "oh" in a sentence."""
    words = [part.group(2).lower() for part in _PART.finditer(run.group())]
    said = sum(2 if part.group(1) else 1 for part in _PART.finditer(run.group()))
    if said >= 2 and any(word != "oh" for word in words):
        return True
    before = text[max(0, run.start() - 4) : run.start()]
    return bool(
        words != ["oh"] and (_NUMERAL_NEAR.search(before) or _NUMERAL_AFTER.match(text, run.end()))
    )
