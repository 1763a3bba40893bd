"""The repo's own example handoffs (examples/handoffs), loaded as dicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLES_DIR", "SHARED_DIR", "example", "example_names"]

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
