"""Each pass's "may find" test never says no where the pass finds something.

``redact`` lets a plain ASCII text through a pass when ``clusters.may_find`` or
``tokens.may_find`` says the pass cannot find anything in it. Those tests are cheap supersets of
what the passes read; these run the passes themselves on every corpus string, each alone, inside
a sentence, and every piece of up to four of its words (where a superset is most easily wrong),
and require that whenever a pass finds something its test said it might.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.redaction import clusters, tokens
from services.redaction.normalise import may_say_digits
from services.redaction.text import nothing_to_find, redact
from services.redaction.tokens import ALWAYS
from tests.robustness.corpus import BENIGN, SENSITIVE

# Hand-written shapes at the edges of each test: no letter, a cue word without a value, a VAT
# country code in a run, a context word's hint only, separators of an SSN.
EDGES = [
    "536-22-8726",
    "536 22 8726",
    "536.22.8726",
    "536_22_8726",
    "+1 312 555 0187",
    "4200.00",
    "2026-11-20",
    "Account in good standing. Quote Q-7710 approved on 2026-11-20.",
    "account 12345678",
    "account number 12345678",
    "acct# 12345678",
    "a/c 12345678",
    "routing 021000021",
    "sort code 20-00-00 account 12345678",
    "bsb 448127 45400051",
    "VAT DE136695976",
    "DE 136 695 976",
    "de136695976",
    "ATU 1358 0108",
    "pl 526 000 12 46",
    "plan 526 000 12 46",
    "SSN 536228726",
    "TIN 536228726",
    "Steuer-Nr. 181/815/08155",
    "St.-Nr. 181/815/08155",
    "P.IVA 07643520567",
    "cvv 123",
    "exp 04/27",
    "konto 12345678",
    "numero de compte 12345678",
    "wired to 12345678",
]


def _texts() -> Iterator[str]:
    for text in [*(s.text for s in SENSITIVE), *BENIGN, *EDGES]:
        yield text
        yield f"Caller said: {text}. Thanks."
        words = text.split()
        for start in range(len(words)):
            for end in range(start + 1, min(start + 4, len(words)) + 1):
                yield " ".join(words[start:end])


PLAIN = sorted({t for t in _texts() if t.isascii() and not may_say_digits(t)})


def test_there_are_plenty_of_plain_texts() -> None:
    assert len(PLAIN) > 1000


@pytest.mark.parametrize("chunk", range(8))
def test_a_pass_that_finds_something_was_said_to_maybe(chunk: int) -> None:
    missed: list[tuple[str, str]] = []
    for text in PLAIN[chunk::8]:
        in_clusters = bool(clusters.redact_clusters(text)[1])
        in_tokens = bool(tokens.redact_tokens(text, ALWAYS)[1])
        if in_clusters and not clusters.may_find(text):
            missed.append(("clusters", text))
        if in_tokens and not tokens.may_find(text):
            missed.append(("tokens", text))
        if (in_clusters or in_tokens) and nothing_to_find(text):
            missed.append(("nothing_to_find", text))
    assert missed == []


def test_redact_finds_what_either_pass_finds_in_the_edges() -> None:
    for text in EDGES:
        found = clusters.redact_clusters(text)[1] | tokens.redact_tokens(text, ALWAYS)[1]
        assert found <= redact(text)[1], text
