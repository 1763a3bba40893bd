"""The Events API bodies the sandbox sends for typed messages: shaped and signed as Slack does."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.signature import SignatureVerifier

from sandbox.events import events_for, signed
from sandbox.slack_state import Demo
from sandbox.slack_workspace import SlackWorkspace


def _bodies(
    ws: SlackWorkspace, channel: str, text: str, thread: str | None = None
) -> list[dict[str, Any]]:
    message = ws.post_message(channel, text=text, user=Demo.AP_LEAD, thread_ts=thread)
    is_im = ws.resolve_channel(message.channel).is_im
    return events_for(
        message, team_id=ws.team_id, api_app_id=ws.app_id, bot_user_id=ws.bot_user_id, is_im=is_im
    )


def test_a_dm_is_one_message_im_event() -> None:
    ws = SlackWorkspace.demo()
    dm, _ = ws.open_im(Demo.AP_LEAD)
    [body] = _bodies(ws, dm.id, "what's overdue")
    assert body["type"] == "event_callback" and body["event_id"].startswith("Ev")
    assert (body["team_id"], body["api_app_id"]) == (ws.team_id, ws.app_id)
    assert isinstance(body["event_time"], int)
    event = body["event"]
    assert (event["type"], event["channel_type"], event["user"]) == ("message", "im", Demo.AP_LEAD)


def test_a_thread_reply_mentioning_the_bot_is_a_message_and_an_app_mention() -> None:
    ws = SlackWorkspace.demo()
    parent = ws.post_message(Demo.FINANCE, text="handoff")
    bodies = _bodies(ws, Demo.FINANCE, f"<@{ws.bot_user_id}> snooze 2h", parent.ts)
    assert [b["event"]["type"] for b in bodies] == ["message", "app_mention"]
    assert {b["event"]["thread_ts"] for b in bodies} == {parent.ts}
    assert len({b["event_id"] for b in bodies}) == 2


def test_signed_like_slack_with_the_retry_header() -> None:
    raw, headers = signed({"type": "event_callback"}, "secret", timestamp=1700000000, retry=1)
    assert json.loads(raw) == {"type": "event_callback"}
    assert headers["X-Slack-Retry-Num"] == "1"
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    fresh_raw, fresh = signed({"type": "event_callback"}, "secret")
    assert SignatureVerifier("secret").is_valid(
        fresh_raw.decode(), fresh["X-Slack-Request-Timestamp"], fresh["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other").is_valid(
        fresh_raw.decode(), fresh["X-Slack-Request-Timestamp"], fresh["X-Slack-Signature"]
    )
