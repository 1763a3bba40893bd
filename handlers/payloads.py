"""Typed, frozen views of the Slack bodies the listeners receive, parsed once at the edge.

``BlockAction.parse``, ``ViewSubmission.parse`` and ``SlashCommand.parse`` read a Bolt ``body``
(or ``command``) and raise ``MalformedPayload`` naming the field when something Slack always
sends is missing or of the wrong type. Listeners call the ``read_*`` helpers instead, which log
such a body and answer None: a malformed body is ignored, never an exception handed to Bolt.

What a value *means* (a handoff id in a button, a modal's ``private_metadata``) is decoded with
the matched pairs in ``blocks.ids``; those decoders keep raising ``ValueError`` as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from blocks.ids import ModalMetadata, decode_metadata

__all__ = [
    "BlockAction",
    "MalformedPayload",
    "SlashCommand",
    "Surface",
    "ViewSubmission",
    "read_action",
    "read_command",
    "read_submission",
]

logger = logging.getLogger(__name__)


class MalformedPayload(ValueError):
    """A Slack body without something Slack always sends; ``field`` names it."""

    def __init__(self, kind: str, field: str, problem: str = "is missing") -> None:
        super().__init__(f"{kind}: {field} {problem}")
        self.kind = kind
        self.field = field


class Surface(StrEnum):
    """Where a clicked element was: a message, an ephemeral message, a modal or the Home tab."""

    MESSAGE = "message"
    EPHEMERAL = "ephemeral"
    VIEW = "view"
    HOME = "home"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _required(kind: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedPayload(kind, name, "is missing" if value is None else "is not a string")
    return value


def _optional(kind: str, name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(kind, name, "is not a string")
    return value


def _surface(body: dict[str, Any]) -> Surface:
    container = _dict(body.get("container"))
    view = _dict(body.get("view"))
    if container.get("type") == "view" or (not container and view):
        return Surface.HOME if view.get("type") == "home" else Surface.VIEW
    if container.get("is_ephemeral") is True:
        return Surface.EPHEMERAL
    return Surface.MESSAGE


@dataclass(frozen=True, slots=True)
class BlockAction:
    """One click (or menu choice) from a ``block_actions`` body: its first action."""

    user_id: str
    action_id: str
    trigger_id: str
    value: str = ""  # the button's value or the selected option's; "" when it carried none
    team_id: str | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None
    view_hash: str | None = None
    surface: Surface = Surface.MESSAGE
    response_url: str | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> BlockAction:
        """The click in ``body``; MalformedPayload when user, action or trigger id is missing."""
        kind = "block_actions"
        data = dict(body)
        actions = data.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise MalformedPayload(kind, "actions", "must be a list of objects")
        action = actions[0]
        option = _dict(action.get("selected_option"))
        value = action.get("value") or option.get("value") or ""
        if not isinstance(value, str):
            raise MalformedPayload(kind, "actions[0].value", "is not a string")
        view = _dict(data.get("view"))
        return cls(
            user_id=_required(kind, "user.id", _dict(data.get("user")).get("id")),
            action_id=_required(kind, "actions[0].action_id", action.get("action_id")),
            trigger_id=_required(kind, "trigger_id", data.get("trigger_id")),
            value=value,
            team_id=_text(_dict(data.get("team")).get("id")),
            channel_id=_optional(kind, "channel.id", _dict(data.get("channel")).get("id")),
            message_ts=_optional(kind, "message.ts", _dict(data.get("message")).get("ts")),
            view_id=_text(view.get("id")),
            view_hash=_text(view.get("hash")),
            surface=_surface(data),
            response_url=_text(data.get("response_url")),
        )


@dataclass(frozen=True, slots=True)
class ViewSubmission:
    """A ``view_submission`` body: who submitted which modal, with what state."""

    user_id: str
    callback_id: str
    private_metadata: str = ""
    team_id: str | None = None
    trigger_id: str | None = None
    view_id: str | None = None
    view_hash: str | None = None
    # view.state.values, keyed by (block id, action id): each element's submitted object.
    values: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ViewSubmission:
        """The submission in ``body``; MalformedPayload when user, view or callback id is missing."""
        kind = "view_submission"
        data = dict(body)
        view = data.get("view")
        if not isinstance(view, dict):
            raise MalformedPayload(kind, "view", "must be an object")
        metadata = view.get("private_metadata", "")
        if not isinstance(metadata, str):
            raise MalformedPayload(kind, "view.private_metadata", "is not a string")
        values: dict[tuple[str, str], Mapping[str, Any]] = {}
        for block_id, elements in _dict(_dict(view.get("state")).get("values")).items():
            for action_id, element in _dict(elements).items():
                if isinstance(element, dict):
                    values[(str(block_id), str(action_id))] = element
        return cls(
            user_id=_required(kind, "user.id", _dict(data.get("user")).get("id")),
            callback_id=_required(kind, "view.callback_id", view.get("callback_id")),
            private_metadata=metadata,
            team_id=_text(_dict(data.get("team")).get("id")),
            trigger_id=_text(data.get("trigger_id")),
            view_id=_text(view.get("id")),
            view_hash=_text(view.get("hash")),
            values=values,
        )

    def value(self, block_id: str, action_id: str) -> Any:
        """The submitted value of one input: text, selected user or checked option values."""
        element = self.values.get((str(block_id), str(action_id))) or {}
        if "selected_user" in element:
            return element["selected_user"]
        if "selected_options" in element:
            return [o.get("value") for o in element["selected_options"] or []]
        return element.get("value")

    def selected(self, block_id: str, action_id: str) -> Any:
        """The value of a select's chosen option (None when nothing was chosen)."""
        element = self.values.get((str(block_id), str(action_id))) or {}
        return (element.get("selected_option") or {}).get("value")

    def metadata(self) -> ModalMetadata:
        """The modal's ``private_metadata`` via ``blocks.ids.decode_metadata`` (ValueError)."""
        return decode_metadata(self.private_metadata)


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A slash command: who ran which command where, with what text."""

    user_id: str
    command: str
    trigger_id: str
    response_url: str
    text: str = ""
    channel_id: str | None = None
    team_id: str | None = None

    @classmethod
    def parse(cls, command: Mapping[str, Any]) -> SlashCommand:
        """The command in ``command`` (Bolt's form fields); MalformedPayload on a missing field."""
        kind = "command"
        data = dict(command)
        text = data.get("text") or ""
        if not isinstance(text, str):
            raise MalformedPayload(kind, "text", "is not a string")
        return cls(
            user_id=_required(kind, "user_id", data.get("user_id")),
            command=_required(kind, "command", data.get("command")),
            trigger_id=_required(kind, "trigger_id", data.get("trigger_id")),
            response_url=_required(kind, "response_url", data.get("response_url")),
            text=text,
            channel_id=_optional(kind, "channel_id", data.get("channel_id")),
            team_id=_text(data.get("team_id")),
        )


def _ignored(exc: MalformedPayload) -> None:
    # Only the kind and the field name: nothing from the body reaches the log.
    logger.warning("ignored a malformed Slack %s: %s", exc.kind, exc.field)


def read_action(body: Mapping[str, Any]) -> BlockAction | None:
    """``BlockAction.parse``, or None (logged) when the body is malformed."""
    try:
        return BlockAction.parse(body)
    except MalformedPayload as exc:
        _ignored(exc)
        return None


def read_submission(body: Mapping[str, Any]) -> ViewSubmission | None:
    """``ViewSubmission.parse``, or None (logged) when the body is malformed."""
    try:
        return ViewSubmission.parse(body)
    except MalformedPayload as exc:
        _ignored(exc)
        return None


def read_command(command: Mapping[str, Any]) -> SlashCommand | None:
    """``SlashCommand.parse``, or None (logged) when the command is malformed."""
    try:
        return SlashCommand.parse(command)
    except MalformedPayload as exc:
        _ignored(exc)
        return None
