"""Signed but malformed Slack bodies get a 4xx, never a 5xx, and change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, running_bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        yield harness


@pytest.mark.parametrize(
    "fields",
    [
        {"payload": "{not json"},
        {
            "payload": json.dumps(
                {"type": "block_actions", "user": {"id": "U0APPROVER1"}, "actions": []}
            )
        },
        {
            "payload": json.dumps(
                {"type": "block_actions", "user": {"id": "U0APPROVER1"}, "actions": "x"}
            )
        },
        {
            "payload": json.dumps(
                {
                    "type": "view_submission",
                    "user": {"id": "U0APPROVER1"},
                    "view": {"callback_id": "handoff_decline_modal"},
                }
            )
        },
        {"command": "/handoff", "text": "dnx_1", "user_id": "U0APPROVER1"},
    ],
    ids=[
        "not-json",
        "no-actions",
        "actions-not-list",
        "view-without-state",
        "command-without-response-url",
    ],
)
async def test_signed_malformed_bodies_are_not_5xx(bot: Harness, fields: dict[str, str]) -> None:
    response = await bot.slack_post(fields)
    assert response.status < 500
    assert "Traceback" not in await response.text()
