"""Build Slack interaction and slash-command requests, signed as Slack signs them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

__all__ = [
    "block_action",
    "signed_form",
    "slash_command",
    "view_submission",
]


def signed_form(
    fields: dict[str, str], secret: str, *, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = urlencode(fields)
    timestamp = str(int(at if at is not None else time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
    }
    return body.encode(), headers


def _payload(payload: dict[str, Any]) -> dict[str, str]:
    return {"payload": json.dumps(payload)}


def block_action(
    *,
    user: str,
    action_id: str,
    value: str,
    channel: str,
    message_ts: str | None,
    response_url: str = "",
    selected: bool = False,
) -> dict[str, str]:
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "b",
        "type": "button",
        "action_ts": str(time.time()),
    }
    if selected:
        action["type"] = "static_select"
        action["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": value}}
    else:
        action["value"] = value
    return _payload(
        {
            "type": "block_actions",
            "team": {"id": "T0SANDBOX", "domain": "sandbox"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
            "api_app_id": "A0BOT",
            "token": "legacy",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": f"trigger-{uuid.uuid4().hex}",
            "channel": {"id": channel, "name": channel},
            "message": {"ts": message_ts, "type": "message"},
            "response_url": response_url,
            "actions": [action],
        }
    )


def view_submission(
    *, user: str, callback_id: str, private_metadata: str, values: dict[str, dict[str, Any]]
) -> dict[str, str]:
    return _payload(
        {
            "type": "view_submission",
            "team": {"id": "T0SANDBOX", "domain": "sandbox"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
            "api_app_id": "A0BOT",
            "token": "legacy",
            "trigger_id": f"trigger-{uuid.uuid4().hex}",
            "view": {
                "id": "V0TEST",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
                "hash": "h",
            },
        }
    )


def slash_command(
    *, user: str, command: str, text: str, channel: str, response_url: str
) -> dict[str, str]:
    return {
        "token": "legacy",
        "team_id": "T0SANDBOX",
        "team_domain": "sandbox",
        "channel_id": channel,
        "channel_name": channel,
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0BOT",
        "response_url": response_url,
        "trigger_id": f"trigger-{uuid.uuid4().hex}",
    }
