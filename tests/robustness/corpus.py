"""A seeded corpus of sensitive strings and benign identifiers, and a leak finder that reads both.

Sensitive values come from Faker's providers (credit cards, IBAN, BBAN, SSN, ABA routing numbers,
VAT ids) over several locales plus hand-written shapes, each written the way callers and
transcription engines write them (separators, Unicode digits, spoken digits, cue words). Benign
identifiers are the ids a finance call is full of: invoice, order, ticket and tracking numbers,
phone numbers in many national formats, dates, amounts, UUIDs, Stripe, Plisio and Zendesk ids,
postcodes and street addresses. Everything is generated at test time from fixed seeds.

``leaks`` is written independently of ``services.redaction`` (its own Unicode folding and spoken
digit reading), so a blind spot in suppression is not repeated in the check.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faker import Faker

__all__ = ["BENIGN", "SENSITIVE", "Sensitive", "leaks", "string_fields"]

SEED = 20261130


@dataclass(frozen=True)
class Sensitive:
    kind: str
    text: str  # as planted
    digits: tuple[str, ...] = ()  # digit strings that must not appear in any spacing
    alnum: tuple[str, ...] = ()  # letters and digits that must not appear, separators removed
    patterns: tuple[str, ...] = ()  # regular expressions that must not match (CVV next to cue)
    # Lower-case strings one of which starts every match of every pattern (where to look), each
    # followed in a match by at least three characters.
    anchors: tuple[str, ...] = ()


# ---- how numbers are written -----------------------------------------------------------------

_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
_DEVANAGARI = "०१२३४५६७८९"
_FULLWIDTH_OFFSET = 0xFF10 - ord("0")


def _groups(digits: str, size: int) -> list[str]:
    return [digits[i : i + size] for i in range(0, len(digits), size)]


def _spoken(digits: str, *, oh: bool = False, double: bool = False) -> str:
    words: list[str] = []
    index = 0
    while index < len(digits):
        digit = digits[index]
        if double and index + 1 < len(digits) and digits[index + 1] == digit:
            words.append(f"double {_WORDS[int(digit)]}")
            index += 2
            continue
        words.append("oh" if oh and digit == "0" else _WORDS[int(digit)])
        index += 1
    return " ".join(words)


def _fullwidth(text: str) -> str:
    return "".join(
        chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else "\u3000" if ch == " " else ch for ch in text
    )


def _digits_in(alphabet: str, digits: str) -> str:
    return "".join(alphabet[int(d)] if d.isdigit() else d for d in digits)


_CARD_SHAPES: list[Callable[[str], str]] = [
    lambda d: d,
    lambda d: " ".join(_groups(d, 4)),
    lambda d: "-".join(_groups(d, 4)),
    lambda d: "/".join(_groups(d, 4)),
    lambda d: "_".join(_groups(d, 4)),
    lambda d: ",".join(_groups(d, 4)),
    lambda d: ".".join(_groups(d, 4)),
    lambda d: "\t".join(_groups(d, 4)),
    lambda d: "\n".join(_groups(d, 4)),
    lambda d: "\u200b".join(_groups(d, 4)),
    lambda d: "\u2060".join(_groups(d, 4)),
    lambda d: "\u00a0".join(_groups(d, 4)),
    lambda d: " ".join(_groups(d, 2)),
    lambda d: " ".join(_groups(d, 3)),
    lambda d: f"{d[:8]} and then {d[8:]}",
    lambda d: f"{d[:4]} {d[4:8]} uh {d[8:12]} {d[12:]}",
    lambda d: f"x{d}",
    lambda d: f"#{d}",
    lambda d: _digits_in(_ARABIC_INDIC, d),
    lambda d: _fullwidth(" ".join(_groups(d, 4))),
    lambda d: _digits_in(_DEVANAGARI, " ".join(_groups(d, 4))),
    lambda d: _spoken(d),
    lambda d: _spoken(d, oh=True, double=True),
    lambda d: f"{d[:4]} {_spoken(d[4:], oh=True)}",
    lambda d: f"{_spoken(d[:8])} {' '.join(_groups(d[8:], 4))}",
]
_CARD_CONTEXT = ["{}", "card {}", "my Visa is {}", "Card number: {}", "it's {}, thanks"]
_CARD_TYPES = [
    "visa16",
    "visa13",
    "visa19",
    "mastercard",
    "amex",
    "discover",
    "diners",
    "jcb15",
    "jcb16",
]  # fmt: skip; Maestro's 12-digit numbers are left out: see the README's known limits


def _cards(fake: Faker) -> list[Sensitive]:
    found: list[Sensitive] = []
    for index in range(len(_CARD_SHAPES) * 5):
        card_type = _CARD_TYPES[index % len(_CARD_TYPES)]
        number = fake.credit_card_number(card_type=card_type)
        shape = _CARD_SHAPES[index % len(_CARD_SHAPES)]
        context = _CARD_CONTEXT[(index // len(_CARD_SHAPES)) % len(_CARD_CONTEXT)]
        found.append(Sensitive(f"card:{card_type}", context.format(shape(number)), (number,)))
    # With the expiry date and security code read out after it.
    for index in range(20):
        number = fake.credit_card_number(card_type=_CARD_TYPES[index % len(_CARD_TYPES)])
        expiry = fake.credit_card_expire()  # MM/YY
        code = fake.credit_card_security_code(card_type="visa16")
        forms = [
            f"card {' '.join(_groups(number, 4))} exp {expiry} cvv {code}",
            f"{number} {expiry} {code}",
            f"card {number}, expires {expiry}, CVC {code}",
            f"{_spoken(number)} expiry {expiry} security code {_spoken(code)}",
        ]
        found.append(
            Sensitive(
                "card+cvv",
                forms[index % len(forms)],
                (number,),
                patterns=(
                    rf"(?i)(?:cvv|cvc|security code)\W{{0,3}}{code}\b",
                    rf"(?i)(?:\bexp(?:iry|ires)?|card ending \d{{4}}\]|\b{number})"
                    rf"\W{{0,3}}{re.escape(expiry)}",
                ),
                anchors=("cvv", "cvc", "security code", "exp", "card ending", number),
            )
        )
    return found


_IBAN_LOCALES = [
    "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "pl_PL", "pt_PT", "en_GB", "de_AT", "fr_CH",
    "en_IE", "da_DK", "fi_FI", "cs_CZ", "ro_RO", "sk_SK", "el_GR",
]  # fmt: skip
_IBAN_SHAPES: list[Callable[[str], str]] = [
    lambda i: i,
    lambda i: " ".join(_groups(i, 4)),
    lambda i: i.lower(),
    lambda i: " ".join(_groups(i.lower(), 4)),
    lambda i: "\n".join(_groups(i, 8)),
    lambda i: " ".join(i),
    lambda i: _fullwidth(i),
    lambda i: "-".join(_groups(i, 4)),
]


def _ibans() -> list[Sensitive]:
    found: list[Sensitive] = []
    for index, locale in enumerate(_IBAN_LOCALES):
        fake = Faker(locale)
        fake.seed_instance(SEED + index)
        for shape_index, shape in enumerate(_IBAN_SHAPES[:4] if index % 2 else _IBAN_SHAPES[3:]):
            value = fake.iban()
            context = ("IBAN {}", "{}", "refund to {} please")[shape_index % 3]
            found.append(Sensitive(f"iban:{locale}", context.format(shape(value)), alnum=(value,)))
    return found


def _bbans() -> list[Sensitive]:
    found: list[Sensitive] = []
    contexts = ["account number {}", "acct {}", "wire to {}", "ACCOUNT {}", "bank account: {}"]
    for index, locale in enumerate(_IBAN_LOCALES):
        fake = Faker(locale)
        fake.seed_instance(SEED + 100 + index)
        value = fake.bban()
        found.append(
            Sensitive(
                f"bban:{locale}", contexts[index % len(contexts)].format(value), alnum=(value,)
            )
        )
    return found


def _ssns(fake: Faker) -> list[Sensitive]:
    found: list[Sensitive] = []
    shapes: list[Callable[[str], str]] = [
        lambda d: f"ssn {d}",
        lambda d: f"SSN {d[:3]}-{d[3:5]}-{d[5:]}",
        lambda d: f"{d[:3]} {d[3:5]} {d[5:]}",
        lambda d: f"{d[:3]}.{d[3:5]}.{d[5:]}",
        lambda d: f"social security number is {d[:3]} {d[3:5]} {d[5:]}",
        lambda d: f"Ssn: {_spoken(d)}",
        lambda d: f"my social is {d}",
        lambda d: f"ssn {_digits_in(_ARABIC_INDIC, d)}",
    ]
    for index in range(48):
        digits = fake.ssn().replace("-", "")
        found.append(Sensitive("ssn", shapes[index % len(shapes)](digits), (digits,)))
    return found


def _bank(fake: Faker) -> list[Sensitive]:
    found: list[Sensitive] = []
    for index in range(30):
        routing = fake.aba()
        account = fake.numerify("#" * (8 + index % 5))
        spaced = f"{routing[:3]} {routing[3:6]} {routing[6:]}"
        dashed = "-".join(_groups(account, 4))
        forms = [
            f"routing {routing} account {account}",
            f"ABA {spaced} acct {dashed}",
            f"ROUTING NUMBER {routing}, ACCOUNT {account}",
            f"routing number {routing} {account}",
            f"Routing: {_spoken(routing)}, account {_spoken(account)}",
            f"wire to {dashed}, routing {spaced}",
        ]
        found.append(Sensitive("routing+account", forms[index % len(forms)], (routing, account)))
    for index in range(24):
        sort_code = fake.numerify("######")
        account = fake.numerify("########")
        forms = [
            f"sort code {sort_code[:2]}-{sort_code[2:4]}-{sort_code[4:]} account {account}",
            f"Sort Code {sort_code} {account}",
            f"BSB {sort_code[:3]}-{sort_code[3:]} acct {account[:4]} {account[4:]}",
            f"bsb {sort_code} {account}",
        ]
        found.append(Sensitive("sort/bsb+account", forms[index % len(forms)], (sort_code, account)))
    return found


_VAT_LOCALES = [
    "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "pl_PL", "pt_PT", "en_GB", "de_AT", "fr_CH",
    "en_IE", "cs_CZ", "ro_RO", "sk_SK", "el_GR", "bg_BG", "hr_HR", "lt_LT", "lv_LV", "et_EE",
]  # fmt: skip


def _vats() -> list[Sensitive]:
    found: list[Sensitive] = []
    contexts = ["VAT {}", "VAT number {}", "vat id: {}", "USt-IdNr. {}", "our VAT reg is {}"]
    for index, locale in enumerate(_VAT_LOCALES):
        fake = Faker(locale)
        fake.seed_instance(SEED + 200 + index)
        value = fake.vat_id()
        found.append(
            Sensitive(
                f"vat:{locale}", contexts[index % len(contexts)].format(value), alnum=(value,)
            )
        )
    return found


def _codes(fake: Faker) -> list[Sensitive]:
    found: list[Sensitive] = []
    for index in range(12):
        code = fake.credit_card_security_code(card_type="visa16")
        expiry = fake.credit_card_expire()
        forms = [f"cvv {code}", f"CVC is {code}", f"exp {expiry} cvv {code}"]
        found.append(
            Sensitive(
                "cvv",
                forms[index % 3],
                patterns=(rf"(?i)(?:cvv|cvc)\W{{0,6}}(?:is\W+)?{code}\b",),
                anchors=("cvv", "cvc"),
            )
        )
    return found


def _sensitive() -> list[Sensitive]:
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    return [
        *_cards(fake),
        *_ibans(),
        *_bbans(),
        *_ssns(fake),
        *_bank(fake),
        *_vats(),
        *_codes(fake),
    ]


# ---- benign ----------------------------------------------------------------------------------

_PHONE_LOCALES = [
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_BR", "ja_JP",
    "en_AU", "en_IN", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "ro_RO", "el_GR", "tr_TR", "ko_KR",
]  # fmt: skip


def _benign() -> list[str]:
    fake = Faker("en_US")
    fake.seed_instance(SEED + 1)
    found: list[str] = []
    for index, locale in enumerate(_PHONE_LOCALES):
        local = Faker(locale)
        local.seed_instance(SEED + 300 + index)
        found += [local.phone_number() for _ in range(5)]
        found.append(local.postcode())
        found.append(local.street_address().replace("\n", ", "))
    for _ in range(25):
        year = fake.random_int(2020, 2027)
        found += [
            f"INV-{year}-{fake.numerify('######')}",
            f"ORD-{fake.numerify('#####')}",
            f"#{fake.numerify('######')}",
            f"ZD-{fake.numerify('######')}",
        ]
    for _ in range(15):
        found += [
            fake.uuid4(),
            f"pi_3{fake.bothify('?#??#?#??#?###??#?#??#', letters='ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz')}",
            f"cus_{fake.bothify('??#?#???#?##??', letters='ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz')}",
            fake.hexify("^" * 24),  # a Plisio txn_id
            f"1Z{fake.bothify('###??#########', letters='ABCDEFGHJKLMNPRSTUVWXY')}",  # UPS
            f"94{fake.numerify('#' * 20)}",  # USPS, written as one number
        ]
    for _ in range(20):
        day = fake.date_between("-3y", "+1y")
        found += [
            day.isoformat(),
            day.strftime("%d/%m/%Y"),
            day.strftime("%b %d, %Y"),
            day.strftime("%d.%m.%Y"),
            f"${fake.pydecimal(left_digits=5, right_digits=2, positive=True):,}",
            f"{fake.pydecimal(left_digits=4, right_digits=2, positive=True)} EUR",
        ]
    return found


SENSITIVE: tuple[Sensitive, ...] = tuple(_sensitive())
BENIGN: tuple[str, ...] = tuple(dict.fromkeys(_benign()))


# ---- the leak finder -------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), " ")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\[ntr]")
_NUMBER_WORDS = {word: str(i) for i, word in enumerate(_WORDS)} | {"oh": "0"}
_SPOKEN = re.compile(
    r"(?i)\b(?:(double|triple)\s+)?(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b"
)
_FILLER = re.compile(r"(?i)\b(?:and then|and|then|uh)\b")
_DIGIT_RUN = re.compile(r"[0-9](?:[^A-Za-z0-9\[\]]{0,4}[0-9])*")
# No word boundary in front: in the SQLite file a stored time is often glued to the column before
# it ("bot2026-11-30 06:47:47.762996") or to the time before it ("...39.9580222026-11-30 ..."),
# and a missed one leaves six random digits that now and then match a planted sort code.
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|(?<![0-9])\d{10}\.\d{6}(?![0-9])"
)


def _plain(haystack: str) -> str:
    """The haystack with escapes undone, digits in ASCII, spoken digits and fillers as digits."""
    text = _JSON_ESCAPE.sub(
        lambda m: chr(int(m.group(1), 16)) if m.group(1) else " ", haystack
    ).translate(_INVISIBLE)
    table = {}
    for ch in set(text):
        if ch.isascii():
            continue
        if ch.isdecimal():
            table[ord(ch)] = str(unicodedata.decimal(ch))
        else:
            folded = unicodedata.normalize("NFKC", ch)
            if folded.isascii():
                table[ord(ch)] = folded
    text = text.translate(table)

    def word(match: re.Match[str]) -> str:
        times = {"double": 2, "triple": 3}.get((match.group(1) or "").lower(), 1)
        return _NUMBER_WORDS[match.group(2).lower()] * times

    return _FILLER.sub(" ", _SPOKEN.sub(word, text))


def leaks(haystack: str, secrets: tuple[Sensitive, ...] = SENSITIVE) -> list[Sensitive]:
    """The secrets that appear in ``haystack`` in any spacing, script or spoken form."""
    # Times the bot and its fakes write themselves (ISO datetimes with microseconds, Slack's
    # "1796005495.461261" message ts) end in six random digits: left in, one would now and then
    # end a run exactly like a planted sort code. No planted secret is written in these shapes.
    plain = _TIMESTAMP.sub("[time]", _plain(haystack))
    # Each run of digits (separators dropped), the runs kept apart by "|". A needle of ten digits
    # or more may sit anywhere in a run; a shorter one (an account, a sort code) must start or end
    # one, or any few megabytes of digits would hold it by chance.
    runs = (
        "|" + "|".join(re.sub(r"[^0-9]", "", m.group()) for m in _DIGIT_RUN.finditer(plain)) + "|"
    )

    def seen(needle: str) -> bool:
        if len(needle) >= 10:
            return needle in runs
        return f"|{needle}" in runs or f"{needle}|" in runs

    squeezed = re.sub(r"[^A-Za-z0-9]", "", plain).upper()
    lowered = _ascii_lowered(plain)

    def matches(pattern: str, anchors: tuple[str, ...]) -> bool:
        # A case-insensitive pattern whose letters are all lower case finds the same in the ASCII
        # copy, searched case-sensitively. With its anchors, it is tried only where one of them
        # starts, up to where what may follow an anchor in a match (digits, non-word characters,
        # "is", "iry", "ires") ends, and one character more for a closing word boundary.
        if not pattern.startswith("(?i)") or _UPPER_LITERAL.search(_ESCAPED.sub("", pattern[4:])):
            return re.search(pattern, plain) is not None
        compiled = re.compile(pattern[4:])
        if not anchors:
            return compiled.search(lowered) is not None
        return any(
            compiled.search(lowered, start, reach) is not None
            for anchor in anchors
            for start, reach in windows(anchor)
        )

    found_windows: dict[str, list[tuple[int, int]]] = {}

    def windows(anchor: str) -> list[tuple[int, int]]:
        if anchor not in found_windows:
            spans: list[tuple[int, int]] = []
            start = lowered.find(anchor)
            while start != -1:
                follow = start + len(anchor)
                after = _REACH.match(lowered, follow)  # always matches, maybe empty
                reach = after.end() if after else follow
                if reach - follow >= 3:  # every match has three characters after its anchor
                    spans.append((start, reach + 1))
                start = lowered.find(anchor, start + 1)
            found_windows[anchor] = spans
        return found_windows[anchor]

    found: list[Sensitive] = []
    for secret in secrets:
        if (
            any(seen(d) for d in secret.digits)
            or any(re.sub(r"[^A-Za-z0-9]", "", a).upper() in squeezed for a in secret.alnum)
            or any(matches(p, secret.anchors) for p in secret.patterns)
        ):
            found.append(secret)
    return found


_ESCAPED = re.compile(r"\\.")
_REACH = re.compile(r"(?:[\W\d]|iry|ires|is)*")
# A capital, a set (which (?i) would widen), or a character the ASCII copy stands in with.
_UPPER_LITERAL = re.compile(r"[A-Z\[q\x01]")
# Letters no pattern holds: what any other word character becomes in the ASCII copy.
_OTHER_LETTER = "q"


def _ascii_lowered(plain: str) -> str:
    r"""``plain`` in lower-case ASCII that reads the same to a case-insensitive pattern.

    Each other character becomes one in its class: one that (?i) equates with an ASCII letter
    ("K" Kelvin, long "ſ") that letter, another digit "0", another word character "q" (no
    pattern's letter), anything else "\x01" (no pattern's character). So word boundaries, ``\W``
    and ``\d`` fall where they did, and a literal matches no more than before (a "0" at most).
    """
    table: dict[int, str] = {}
    for ch in set(plain):
        if ch.isascii():
            continue
        letter = next(
            (a for a in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(f"(?i){a}", ch)), None
        )
        if letter is not None:
            table[ord(ch)] = letter
        elif re.fullmatch(r"\d", ch):
            table[ord(ch)] = "0"
        elif re.fullmatch(r"\w", ch):
            table[ord(ch)] = _OTHER_LETTER
        else:
            table[ord(ch)] = "\x01"
    return plain.translate(table).lower()


def string_fields(schema: dict[str, Any]) -> list[tuple[tuple[str, ...], int, str]]:
    """Every string field of the handoff schema: its path, length limit and format ("" for text).

    Read from the model's own JSON Schema, so a field added to the model is planted too.
    """
    defs = schema.get("$defs", {})
    fields: list[tuple[tuple[str, ...], int, str]] = []

    def visit(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for name, prop in node.get("properties", {}).items():
            options = prop.get("anyOf", [prop])
            for option in options:
                if "$ref" in option:
                    visit(defs[option["$ref"].split("/")[-1]], (*path, name))
                elif option.get("type") == "string" and "pattern" not in option:
                    if (
                        "enum" in option
                        or "const" in option
                        or option.get("format")
                        in {
                            "date",
                            "date-time",
                        }
                    ):
                        continue
                    limit = option.get("maxLength", 2048)
                    fields.append(((*path, name), limit, option.get("format", "")))

    visit(schema, ())
    return fields
