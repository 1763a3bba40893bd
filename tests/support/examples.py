"""The repo's own example handoffs (examples/handoffs), loaded as dicts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLES_DIR", "SHARED_DIR", "example", "example_names", "fresh_call_id"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples" / "handoffs"
# The contracts folder beside the repo in the development workspace and in CI; absent in a clone.
SHARED_DIR = ROOT.parent / "shared"


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.json"))


def example(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def fresh_call_id(prefix: str) -> str:
    """A unique call ID without digits: a random hex id can hold a digit run that is a valid card
    number (about once in ten thousand), which the bot rightly refuses."""
    return f"{prefix}_{uuid.uuid4().hex.translate(_NO_DIGITS)}"
