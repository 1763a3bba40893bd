"""The request bodies Slack sends an app, built from the sandbox workspace's own state.

Shapes follow Slack's interaction payloads (``block_actions``, ``view_submission``), slash command
forms and Events API callbacks, with only the fields Bolt and this bot read plus the usual ids.
"""

from __future__ import annotations

import json
import secrets
import time

from sandbox.slack_objects import JsonDict, Message, User, View
from sandbox.slack_workspace import SlackWorkspace

__all__ = [
    "app_home_opened",
    "block_actions",
    "interaction_form",
    "slash_command",
    "view_submission",
]


def _user(workspace: SlackWorkspace, user: User) -> JsonDict:
    return {
        "id": user.id,
        "username": user.name,
        "name": user.name,
        "team_id": workspace.team_id,
    }


def _team(workspace: SlackWorkspace) -> JsonDict:
    return {"id": workspace.team_id, "domain": workspace.domain}


def _view(workspace: SlackWorkspace, view: View) -> JsonDict:
    return view.to_api(team_id=workspace.team_id, app_id=workspace.app_id, bot_id=workspace.bot_id)


def interaction_form(payload: JsonDict) -> dict[str, str]:
    """The form fields Slack POSTs for an interaction: one ``payload`` holding JSON."""
    return {"payload": json.dumps(payload, separators=(",", ":"))}


def block_actions(
    workspace: SlackWorkspace,
    user: User,
    action: JsonDict,
    *,
    trigger_id: str,
    response_url: str | None,
    message: Message | None = None,
    ephemeral_channel: str | None = None,
    view: View | None = None,
) -> JsonDict:
    """A click in a message (``message``), an ephemeral message, or a modal/Home tab (``view``)."""
    payload: JsonDict = {
        "type": "block_actions",
        "team": _team(workspace),
        "user": _user(workspace, user),
        "api_app_id": workspace.app_id,
        "token": "sandbox-legacy-token",
        "trigger_id": trigger_id,
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
    }
    if message is not None:
        channel = workspace.channels[message.channel]
        payload["container"] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel.id, "name": channel.name}
        payload["message"] = message.to_api()
    elif ephemeral_channel is not None:
        channel = workspace.channels[ephemeral_channel]
        payload["container"] = {
            "type": "message",
            "channel_id": channel.id,
            "is_ephemeral": True,
        }
        payload["channel"] = {"id": channel.id, "name": channel.name}
    elif view is not None:
        payload["container"] = {"type": "view", "view_id": view.id}
        payload["view"] = _view(workspace, view)
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission(
    workspace: SlackWorkspace, user: User, view: View, values: JsonDict, *, trigger_id: str
) -> JsonDict:
    """The submission of a modal with its inputs' state."""
    rendered = _view(workspace, view)
    rendered["state"] = {"values": values}
    return {
        "type": "view_submission",
        "team": _team(workspace),
        "user": _user(workspace, user),
        "api_app_id": workspace.app_id,
        "token": "sandbox-legacy-token",
        "trigger_id": trigger_id,
        "view": rendered,
        "response_urls": [],
    }


def slash_command(
    workspace: SlackWorkspace,
    user: User,
    *,
    command: str,
    text: str,
    channel_id: str,
    trigger_id: str,
    response_url: str,
) -> dict[str, str]:
    """The form Slack POSTs when someone runs a slash command."""
    channel = workspace.channels[channel_id]
    return {
        "token": "sandbox-legacy-token",
        "team_id": workspace.team_id,
        "team_domain": workspace.domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": workspace.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def app_home_opened(workspace: SlackWorkspace, user: User, *, channel_id: str) -> JsonDict:
    """The Events API callback Slack sends when someone opens the app's Home tab."""
    event: JsonDict = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": channel_id,
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    home_id = workspace.home_views.get(user.id)
    if home_id is not None:
        event["view"] = _view(workspace, workspace.views[home_id])
    return {
        "token": "sandbox-legacy-token",
        "team_id": workspace.team_id,
        "api_app_id": workspace.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(8).upper(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
