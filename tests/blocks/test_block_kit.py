"""Every builder payload is valid Block Kit: slack_sdk's models parse it, drop nothing from it,
and every text fits Slack's limits. The golden files are the builders' payloads (the golden
tests keep them current), so walking them covers every builder and every workflow × state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from blocks.common import validate_view
from tests.blocks.checks import GOLDEN_DIR, assert_within_limits

GOLDEN = sorted(GOLDEN_DIR.glob("*.json"))


def _payloads(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every message or view in a golden file (some hold several, by name)."""
    if isinstance(node, dict) and isinstance(node.get("blocks"), list):
        yield where, node
    elif isinstance(node, dict):
        for key, child in node.items():
            yield from _payloads(child, f"{where}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _payloads(child, f"{where}[{index}]")


def test_there_are_goldens_for_every_builder_family() -> None:
    stems = {path.stem.split("_")[0] for path in GOLDEN}
    assert {"handoff", "modal", "home", "nudge", "digest", "audit", "status"} <= stems


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: Path(p).stem)
def test_every_golden_payload_is_valid_block_kit(path: Path) -> None:
    found = list(_payloads(json.loads(path.read_text(encoding="utf-8")), path.stem))
    assert found, f"{path.name} holds no Block Kit payload"
    for where, payload in found:
        if payload.get("type") in {"modal", "home"}:
            validate_view(payload)
            assert View(**payload).to_dict()["blocks"] == payload["blocks"], where
            assert_within_limits({"text": "view", **payload}, max_blocks=100)
            continue
        assert payload.get("text"), f"{where}: a message needs a text fallback"
        assert len(payload["text"]) <= 3000, where
        assert_within_limits(payload)
        for block in payload["blocks"]:  # nothing we send is silently dropped by the model
            parsed = Block.parse(block)
            assert parsed is not None and parsed.to_dict() == block, where
