"""The README's finance FAQ points at tests that prove each answer: every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`")


def _faq() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Finance FAQ")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_every_faq_answer_names_a_test_and_every_named_test_exists() -> None:
    answers = _faq().split("\n- **")[1:]
    assert len(answers) == 8
    for answer in answers:
        question = answer.split("**", 1)[0]
        cited = CITED.findall(answer)
        assert cited, f"no test named for {question!r}"
        current: Path | None = None
        for path, name, name_only in cited:
            if path:
                current = ROOT / path
                assert current.is_file(), f"{path} ({question!r}) does not exist"
            test = name or name_only
            if test:
                assert current is not None, f"::{test} follows no file in {question!r}"
                source = current.read_text(encoding="utf-8")
                assert re.search(rf"def {test}\(", source), f"{current.name} has no {test}"
