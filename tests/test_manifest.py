"""manifest.yml stays a valid Slack app manifest and in step with what the code registers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.examples import SHARED_DIR

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = SHARED_DIR / "schemas" / "slack-app-manifest.schema.1.0.0.json"


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    return data


@pytest.mark.skipif(
    not SCHEMA.is_file(),
    reason="the Slack manifest schema lives in ../shared/schemas, which is not beside this clone; CI has it",
)
def test_manifest_is_valid_against_slack_schema() -> None:
    from jsonschema import Draft7Validator

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(manifest())
    ]
    assert errors == []


def test_manifest_points_every_request_at_bolt() -> None:
    data = manifest()
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert data["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
    for command in data["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events")
        assert command["usage_hint"]


def test_manifest_commands_match_the_registered_commands() -> None:
    from handlers.commands import COMMANDS

    declared = {c["command"] for c in manifest()["features"]["slash_commands"]}
    assert declared == set(COMMANDS)


async def test_every_declared_command_is_answered_by_the_app(tmp_path: Path) -> None:
    """A signed request for each manifest command reaches a listener (Bolt answers 404 if none)."""
    from tests.support.harness import running_bot

    async with running_bot(tmp_path) as bot:
        for command in (c["command"] for c in manifest()["features"]["slash_commands"]):
            response, _key = await bot.command("U0APPROVER1", command, "help")
            assert response.status == 200, command


def test_manifest_declares_the_scopes_the_code_uses() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/update/postEphemeral, slash commands, conversations.open (DMs),
    # users.info + users.lookupByEmail, usergroups.users.list, conversations.history.
    assert {
        "chat:write",
        "commands",
        "im:write",
        "users:read",
        "users:read.email",
        "usergroups:read",
        "channels:history",
    } <= scopes
    assert "app_home_opened" in manifest()["settings"]["event_subscriptions"]["bot_events"]


def test_manifest_lets_people_talk_to_the_bot() -> None:
    """DMs, @mentions and thread replies reach the listeners that answer them."""
    from handlers.messages import EVENTS

    data = manifest()
    home = data["features"]["app_home"]
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert {e for subscriptions in EVENTS.values() for e in subscriptions} <= events
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "im:history", "channels:history", "groups:history"} <= scopes
