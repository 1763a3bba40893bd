"""Events API bodies for what people type: ``message`` (DMs, thread replies) and ``app_mention``.

Built as Slack sends them: an ``event_callback`` with ``event_id``, ``event_time``, ``team_id`` and
``api_app_id`` around the event. ``signed`` signs a body with a signing secret exactly as Slack
does (``v0=`` HMAC of ``v0:{timestamp}:{body}``), with the ``X-Slack-Retry-Num`` header Slack adds
when it redelivers an event; ``sandbox.forward.BotLink`` signs the sandbox's own.
"""

from __future__ import annotations

import json
import re
import secrets
import time

from slack_sdk.signature import SignatureVerifier

from sandbox.slack_objects import JsonDict, Message

__all__ = ["event_callback", "events_for", "mentions", "message_event", "signed"]

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def event_callback(
    event: JsonDict,
    *,
    team_id: str,
    api_app_id: str,
    bot_user_id: str,
    event_id: str | None = None,
    event_time: int | None = None,
) -> JsonDict:
    """The envelope Slack wraps every event in."""
    return {
        "token": "sandbox-legacy-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(8).upper(),
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def message_event(
    message: Message, *, team_id: str, channel_type: str, kind: str = "message"
) -> JsonDict:
    """A ``message`` (or ``app_mention``) event for a message a person posted."""
    event: JsonDict = {
        "type": kind,
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "channel": message.channel,
        "event_ts": message.ts,
        "team": team_id,
    }
    if kind == "message":
        event["channel_type"] = channel_type
    if message.thread_ts is not None and message.thread_ts != message.ts:
        event["thread_ts"] = message.thread_ts
    if message.blocks:
        event["blocks"] = message.blocks
    return event


def mentions(text: str) -> list[str]:
    """The user ids ``<@U…>`` mentions in ``text``."""
    return _MENTION.findall(text)


def events_for(
    message: Message, *, team_id: str, api_app_id: str, bot_user_id: str, is_im: bool
) -> list[JsonDict]:
    """Every callback Slack sends the bot for one message a person posted where it listens.

    A DM is ``message.im``; in a channel, a reply is ``message.channels`` and a message that
    mentions the bot is ``app_mention`` as well. Top-level channel messages without a mention
    are sent too (the bot subscribes to ``message.channels``) and it ignores them.
    """

    def wrap(event: JsonDict) -> JsonDict:
        return event_callback(
            event, team_id=team_id, api_app_id=api_app_id, bot_user_id=bot_user_id
        )

    channel_type = "im" if is_im else "channel"
    found = [wrap(message_event(message, team_id=team_id, channel_type=channel_type))]
    if not is_im and bot_user_id in mentions(message.text):
        mention = message_event(
            message, team_id=team_id, channel_type=channel_type, kind="app_mention"
        )
        found.append(wrap(mention))
    return found


def signed(
    body: JsonDict, secret: str, *, timestamp: int | None = None, retry: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The JSON bytes and the headers Slack sends them with."""
    raw = json.dumps(body, separators=(",", ":"))
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=raw)
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return raw.encode(), headers
