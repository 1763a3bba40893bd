"""The objects of a loopback Slack workspace: users, groups, channels, messages and views.

Each renders itself as the object Slack's Web API returns (``to_api``). ``SlackError`` carries the
error code Slack itself would answer (``channel_not_found``, ``hash_conflict``, ...);
``sandbox.slack_api`` turns it into an ``{"ok": false}`` body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

__all__ = [
    "ChangeListener",
    "Channel",
    "Demo",
    "Ephemeral",
    "JsonDict",
    "Message",
    "SlackError",
    "SlackFile",
    "Trigger",
    "User",
    "Usergroup",
    "View",
]

JsonDict = dict[str, Any]
ChangeListener = Callable[[JsonDict], None]


class SlackError(Exception):
    """A Slack error code (answered as ``ok: false``), with optional ``response_metadata`` lines."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error if not messages else f"{error}: {'; '.join(messages)}")
        self.error = error
        self.messages = list(messages)


class Demo:
    """Ids seeded by ``SlackWorkspace.demo()``."""

    TEAM = "T0ACME"
    BOT = "U0BOT"
    BOT_ID = "B0BOT"
    APP_ID = "A0FINBOT"
    APPROVER_1 = "U0APPROVER1"
    APPROVER_2 = "U0APPROVER2"
    FIN_LEAD = "U0FINLEAD"
    OUTSIDER = "U0OUTSIDER"
    AP_LEAD = "U0APLEAD"
    BILLING_OPS = "U0BILLINGOPS"
    COLLECTIONS = "U0COLLECTIONS"
    APPROVERS_GROUP = "S0APPROVERS"
    FINANCE_GROUP = "S0FINANCE"
    FINANCE = "C0FINANCE"
    DISPUTES = "C0FINDISPUTES"
    COLLECTIONS_CHANNEL = "C0FINCOLLECT"
    ESCALATIONS = "C0FINESCALATE"
    BILLING_OPS_CHANNEL = "C0BILLINGOPS"


@dataclass
class User:
    """A workspace member (or the bot's own user)."""

    id: str
    name: str
    real_name: str
    email: str | None = None
    tz: str = "Europe/Berlin"
    tz_offset: int = 3600
    is_bot: bool = False
    bot_id: str | None = None

    def to_api(self, team_id: str) -> JsonDict:
        """Render as Slack's user object."""
        profile: JsonDict = {"real_name": self.real_name, "display_name": self.name}
        if self.email is not None:
            profile["email"] = self.email
        if self.bot_id is not None:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "tz": self.tz,
            "tz_offset": self.tz_offset,
            "is_bot": self.is_bot,
            "profile": profile,
        }


@dataclass
class Usergroup:
    """A user group (``<!subteam^S...>``)."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class Message:
    """A message in a channel; replies carry the parent's ``thread_ts``."""

    channel: str
    ts: str
    text: str
    blocks: list[JsonDict] = field(default_factory=list)
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    replies: list[str] = field(default_factory=list)
    edited: JsonDict | None = None
    metadata: JsonDict | None = None
    attachments: list[JsonDict] = field(default_factory=list)
    files: list[JsonDict] = field(default_factory=list)  # shared files (Slack's file objects)

    @property
    def is_reply(self) -> bool:
        """Whether this message is a reply inside a thread."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> JsonDict:
        """Render as Slack's message object."""
        out: JsonDict = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user is not None:
            out["user"] = self.user
        if self.bot_id is not None:
            out["bot_id"] = self.bot_id
        if self.blocks:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.files:
            out["files"] = self.files
            out["upload"] = True
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if self.reply_broadcast:
            out["subtype"] = "thread_broadcast"
        if self.replies:
            out["reply_count"] = len(self.replies)
            out["latest_reply"] = self.replies[-1]
        if self.edited is not None:
            out["edited"] = self.edited
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class Channel:
    """A public channel or a direct message (``is_im``) with its messages in ``ts`` order."""

    id: str
    name: str
    is_im: bool = False
    user: str | None = None
    messages: dict[str, Message] = field(default_factory=dict)

    def visible(self) -> list[Message]:
        """Messages shown in the channel itself (top level and broadcast replies), oldest first."""
        return [m for m in self.messages.values() if not m.is_reply or m.reply_broadcast]

    def to_api(self) -> JsonDict:
        """Render as Slack's conversation object."""
        out: JsonDict = {"id": self.id, "is_channel": not self.is_im, "is_im": self.is_im}
        if self.is_im:
            out["user"] = self.user
        else:
            out["name"] = self.name
        return out


@dataclass
class Ephemeral:
    """An ephemeral message only ``user`` sees."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JsonDict] = field(default_factory=list)
    thread_ts: str | None = None


@dataclass
class View:
    """A modal or Home tab; modals stack via ``root_view_id`` and ``previous_view_id``."""

    id: str
    type: str
    user: str | None
    hash: str
    blocks: list[JsonDict] = field(default_factory=list)
    callback_id: str = ""
    private_metadata: str = ""
    external_id: str = ""
    title: JsonDict | None = None
    submit: JsonDict | None = None
    close: JsonDict | None = None
    state: JsonDict = field(default_factory=lambda: {"values": {}})
    root_view_id: str | None = None
    previous_view_id: str | None = None
    notify_on_close: bool = False
    clear_on_close: bool = False

    def to_api(self, *, team_id: str, app_id: str, bot_id: str) -> JsonDict:
        """Render as Slack's view object."""
        out: JsonDict = {
            "id": self.id,
            "team_id": team_id,
            "type": self.type,
            "blocks": self.blocks,
            "private_metadata": self.private_metadata,
            "callback_id": self.callback_id,
            "external_id": self.external_id,
            "state": self.state,
            "hash": self.hash,
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": app_id,
            "bot_id": bot_id,
        }
        if self.type == "modal":
            out.update(
                title=self.title,
                submit=self.submit,
                close=self.close,
                notify_on_close=self.notify_on_close,
                clear_on_close=self.clear_on_close,
            )
        return out


@dataclass
class SlackFile:
    """A file uploaded with ``files.getUploadURLExternal`` (``content`` None until uploaded)."""

    id: str
    upload_id: str  # the secret part of its upload URL
    name: str
    length: int
    user: str
    created: int
    title: str = ""
    content: bytes | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)

    @property
    def filetype(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary"

    def to_api(self, *, team_id: str, files_url: str) -> JsonDict:
        """Render as Slack's file object (``files_url``: where this workspace serves files)."""
        name = quote(self.name)
        private = f"{files_url}/files-pri/{team_id}-{self.id}/{name}"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": MIMETYPES.get(self.filetype, "application/octet-stream"),
            "filetype": self.filetype,
            "user": self.user,
            "size": len(self.content or b""),
            "is_external": False,
            "url_private": private,
            "url_private_download": f"{files_url}/files-pri/{team_id}-{self.id}/download/{name}",
            "channels": list(self.channels),
        }


MIMETYPES = {"csv": "text/csv", "txt": "text/plain", "json": "application/json"}


@dataclass
class Trigger:
    """A trigger id's owner, the view it came from, when it was issued and whether it was used."""

    user: str | None
    view_id: str | None
    issued_at: float
    used: bool = False
