"""Golden-file comparison and Slack limit checks shared by the builder tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from blocks.common import validate_blocks

__all__ = ["GOLDEN_DIR", "assert_golden", "assert_within_limits"]

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def assert_golden(name: str, payload: Any) -> None:
    """Compare a whole payload to tests/fixtures/golden/<name>.json; UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN_DIR / f"{name}.json"
    rendered = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} is missing: run UPDATE_GOLDEN=1 pytest tests/blocks"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(rendered) == expected, (
        f"{name} no longer matches {path.name}; if the change is intended, rerun with "
        "UPDATE_GOLDEN=1 and read the diff"
    )


def _texts(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") in {"mrkdwn", "plain_text"} else []
        return found + [t for child in node.values() for t in _texts(child)]
    if isinstance(node, list):
        return [t for child in node for t in _texts(child)]
    return []


def assert_within_limits(message: dict[str, Any], *, max_blocks: int = 50) -> None:
    """Every Block Kit limit this project relies on, checked by hand and by slack_sdk."""
    blocks = message["blocks"]
    assert len(blocks) <= max_blocks
    assert message.get("text", "x"), "a message needs a text fallback"
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert len(block["text"]["text"]) <= 150
        if kind == "section":
            assert "text" not in block or len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if kind == "context":
            assert len(block["elements"]) <= 10
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75
                assert len(element.get("url", "")) <= 3000
                assert len(element.get("value", "")) <= 2000
                confirm = element.get("confirm")
                if confirm:
                    assert len(confirm["title"]["text"]) <= 100
                    assert len(confirm["text"]["text"]) <= 300
                    assert len(confirm["confirm"]["text"]) <= 30
                    assert len(confirm["deny"]["text"]) <= 30
            for option in element.get("options", []):
                assert len(option["text"]["text"]) <= 75
                assert len(option["value"]) <= 150
    for text in _texts(blocks):
        assert text["text"], "Slack refuses empty text objects"
    validate_blocks(blocks, max_blocks=max_blocks)
