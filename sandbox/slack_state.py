"""In-memory state of a loopback Slack workspace: users, channels, messages, views.

Every method is plain and synchronous so it can be unit-tested without HTTP. Problems are raised
as ``SlackError`` carrying the error code Slack itself would answer (``channel_not_found``,
``hash_conflict``, ...); ``sandbox.slack_api`` turns them into ``{"ok": false}`` bodies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MESSAGE_BLOCK_LIMIT",
    "TEXT_LIMIT",
    "TRIGGER_TTL_SECONDS",
    "VIEW_BLOCK_LIMIT",
    "ChangeListener",
    "Channel",
    "Demo",
    "Ephemeral",
    "JsonDict",
    "Message",
    "SlackError",
    "SlackWorkspace",
    "User",
    "Usergroup",
    "View",
    "validate_blocks",
    "validate_view",
]

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
ChangeListener = Callable[[JsonDict], None]

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
TEXT_LIMIT = 40_000  # Slack truncates message text after this many characters
TRIGGER_TTL_SECONDS = 3.0
MODAL_STACK_LIMIT = 3


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


# --- data -----------------------------------------------------------------------------------


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
class _Trigger:
    user: str | None
    view_id: str | None
    issued_at: float
    used: bool = False


# --- Block Kit limits -----------------------------------------------------------------------


class _Problems:
    """Collects Slack-style ``[ERROR] ... [json-pointer:...]`` lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, pointer: str, problem: str) -> None:
        self.lines.append(f"[ERROR] {problem} [json-pointer:{pointer}]")

    def max_len(self, value: object, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(pointer, f"must be less than {limit + 1} characters")

    def max_items(self, value: object, limit: int, pointer: str) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.add(pointer, f"no more than {limit} items allowed")

    def text(
        self, obj: object, limit: int, pointer: str, *, required: bool = False, plain: bool = False
    ) -> None:
        if obj is None:
            if required:
                self.add(pointer, "must provide an object")
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            self.add(pointer, "must be a text object")
            return
        allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if obj.get("type") not in allowed:
            self.add(f"{pointer}/type", f"must be one of {', '.join(allowed)}")
        if not obj["text"]:
            self.add(f"{pointer}/text", "must be more than 0 characters")
        self.max_len(obj["text"], limit, f"{pointer}/text")

    def confirm(self, obj: object, pointer: str) -> None:
        if not isinstance(obj, dict):
            self.add(pointer, "must be a confirmation object")
            return
        for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            self.text(obj.get(key), limit, f"{pointer}/{key}", required=key != "deny")

    def options(self, items: object, pointer: str) -> None:
        if not isinstance(items, list):
            self.add(pointer, "must be an array")
            return
        self.max_items(items, 100, pointer)
        for i, option in enumerate(items):
            if not isinstance(option, dict):
                self.add(f"{pointer}/{i}", "must be an option object")
                continue
            self.text(option.get("text"), 75, f"{pointer}/{i}/text", required=True)
            self.max_len(option.get("value"), 150, f"{pointer}/{i}/value")

    def element(self, el: object, pointer: str) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            self.add(pointer, "must be a block element")
            return
        self.max_len(el.get("action_id"), 255, f"{pointer}/action_id")
        if el["type"] == "button":
            self.text(el.get("text"), 75, f"{pointer}/text", required=True, plain=True)
            self.max_len(el.get("value"), 2000, f"{pointer}/value")
            self.max_len(el.get("url"), 3000, f"{pointer}/url")
        self.text(el.get("placeholder"), 150, f"{pointer}/placeholder", plain=True)
        if "options" in el:
            self.options(el["options"], f"{pointer}/options")
        if "confirm" in el:
            self.confirm(el["confirm"], f"{pointer}/confirm")

    def elements(self, items: object, limit: int, pointer: str) -> None:
        if not isinstance(items, list) or not items:
            self.add(pointer, "must provide a non-empty array")
            return
        self.max_items(items, limit, pointer)
        action_ids: set[str] = set()
        for i, el in enumerate(items):
            self.element(el, f"{pointer}/{i}")
            action_id = el.get("action_id") if isinstance(el, dict) else None
            if isinstance(action_id, str):
                if action_id in action_ids:
                    self.add(f"{pointer}/{i}/action_id", f"duplicate action_id {action_id!r}")
                action_ids.add(action_id)

    def block(self, block: JsonDict, pointer: str) -> None:
        kind = block["type"]
        self.max_len(block.get("block_id"), 255, f"{pointer}/block_id")
        if kind == "header":
            self.text(block.get("text"), 150, f"{pointer}/text", required=True, plain=True)
        elif kind == "section":
            if block.get("text") is None and block.get("fields") is None:
                self.add(pointer, "must provide either text or fields")
            self.text(block.get("text"), 3000, f"{pointer}/text")
            fields = block.get("fields")
            if fields is not None:
                self.max_items(fields, 10, f"{pointer}/fields")
                for i, item in enumerate(fields if isinstance(fields, list) else []):
                    self.text(item, 2000, f"{pointer}/fields/{i}", required=True)
            if "accessory" in block:
                self.element(block["accessory"], f"{pointer}/accessory")
        elif kind == "actions":
            self.elements(block.get("elements"), 25, f"{pointer}/elements")
        elif kind == "context":
            items = block.get("elements")
            if not isinstance(items, list) or not items:
                self.add(f"{pointer}/elements", "must provide a non-empty array")
            self.max_items(items, 10, f"{pointer}/elements")
        elif kind == "input":
            self.text(block.get("label"), 2000, f"{pointer}/label", required=True, plain=True)
            self.text(block.get("hint"), 2000, f"{pointer}/hint", plain=True)
            self.element(block.get("element"), f"{pointer}/element")


def validate_blocks(blocks: object, *, limit: int, pointer: str = "/blocks") -> list[JsonDict]:
    """Return ``blocks`` if Slack would accept them, else raise ``invalid_blocks(_format)``."""
    if not isinstance(blocks, list):
        raise SlackError(
            "invalid_blocks_format", f"[ERROR] must be an array [json-pointer:{pointer}]"
        )
    problems = _Problems()
    problems.max_items(blocks, limit, pointer)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.add(f"{pointer}/{i}", "must be a block object with a type")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.add(f"{pointer}/{i}/block_id", f"duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        problems.block(block, f"{pointer}/{i}")
    if problems.lines:
        raise SlackError("invalid_blocks", *problems.lines)
    return blocks


def validate_view(view: object, *, expect_type: str | None = None) -> JsonDict:
    """Return ``view`` if Slack would accept it, else raise ``invalid_arguments`` (or blocks)."""
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", "[ERROR] must be an object [json-pointer:/view]")
    kind = view.get("type")
    if kind not in ("modal", "home") or (expect_type is not None and kind != expect_type):
        wanted = expect_type or "modal or home"
        raise SlackError("invalid_arguments", f"[ERROR] must be {wanted} [json-pointer:/view/type]")
    problems = _Problems()
    if kind == "modal":
        problems.text(view.get("title"), 24, "/view/title", required=True, plain=True)
        problems.text(view.get("submit"), 24, "/view/submit", plain=True)
        problems.text(view.get("close"), 24, "/view/close", plain=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            problems.add(
                "/view/submit", "submit is required when an input block is within the blocks array"
            )
    problems.max_len(view.get("private_metadata"), 3000, "/view/private_metadata")
    problems.max_len(view.get("callback_id"), 255, "/view/callback_id")
    problems.max_len(view.get("external_id"), 255, "/view/external_id")
    if problems.lines:
        raise SlackError("invalid_arguments", *problems.lines)
    validate_blocks(view.get("blocks", []), limit=VIEW_BLOCK_LIMIT, pointer="/view/blocks")
    return view


# --- workspace ------------------------------------------------------------------------------


class SlackWorkspace:
    """State behind the loopback Slack API: pure, synchronous, observable via ``on_change``."""

    def __init__(
        self,
        *,
        team_id: str = Demo.TEAM,
        team_name: str = "Acme",
        domain: str = "acme",
        bot_user_id: str = Demo.BOT,
        bot_id: str = Demo.BOT_ID,
        app_id: str = Demo.APP_ID,
        bot_name: str = "finance-bot",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.clock = clock
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, str] = {}  # user id -> view id
        self.on_change: list[ChangeListener] = []
        self._last_ts_micros = 0
        self._serial = 0
        self._triggers: dict[str, _Trigger] = {}
        self._modal_stacks: list[list[str]] = []  # open modal stacks, most recent last
        self.add_user(bot_user_id, bot_name, "Finance Handoff Bot", is_bot=True, bot_id=bot_id)

    @classmethod
    def demo(cls, *, clock: Callable[[], float] = time.time) -> SlackWorkspace:
        """A plausible Acme finance workspace (ids in ``Demo``)."""
        ws = cls(clock=clock)
        for channel_id, name in (
            (Demo.FINANCE, "finance"),
            (Demo.DISPUTES, "finance-disputes"),
            (Demo.COLLECTIONS_CHANNEL, "finance-collections"),
            (Demo.ESCALATIONS, "finance-escalations"),
            (Demo.BILLING_OPS_CHANNEL, "billing-ops"),
        ):
            ws.add_channel(channel_id, name)
        people = (
            (Demo.APPROVER_1, "ana", "Ana Lopez", "ana@acme.example", "Europe/Madrid", 3600),
            (Demo.APPROVER_2, "ben", "Ben Okoro", "ben@acme.example", "Africa/Lagos", 3600),
            (Demo.FIN_LEAD, "farah", "Farah Nasser", "lead@acme.example", "Europe/Berlin", 3600),
            (Demo.OUTSIDER, "olga", "Olga Agent", "olga@agency.example", "Europe/Warsaw", 3600),
            (Demo.AP_LEAD, "arjun", "Arjun Patel", "ap-lead@acme.example", "Asia/Kolkata", 19800),
            (
                Demo.BILLING_OPS,
                "bea",
                "Bea Lindqvist",
                "billing-ops@acme.example",
                "America/New_York",
                -18000,
            ),
            (
                Demo.COLLECTIONS,
                "carlos",
                "Carlos Mendes",
                "collections@acme.example",
                "America/Sao_Paulo",
                -10800,
            ),
        )
        for user_id, name, real_name, email, tz, offset in people:
            ws.add_user(user_id, name, real_name, email=email, tz=tz, tz_offset=offset)
        ws.add_usergroup(
            Demo.APPROVERS_GROUP, "finance-approvers", [Demo.APPROVER_1, Demo.APPROVER_2]
        )
        finance = [
            Demo.APPROVER_1,
            Demo.APPROVER_2,
            Demo.FIN_LEAD,
            Demo.AP_LEAD,
            Demo.BILLING_OPS,
            Demo.COLLECTIONS,
        ]
        ws.add_usergroup(Demo.FINANCE_GROUP, "finance", finance)
        return ws

    # -- seeding --

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str,
        *,
        email: str | None = None,
        tz: str = "Europe/Berlin",
        tz_offset: int = 3600,
        is_bot: bool = False,
        bot_id: str | None = None,
    ) -> User:
        """Add (or replace) a member."""
        user = User(user_id, name, real_name, email, tz, tz_offset, is_bot, bot_id)
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str) -> Channel:
        """Add a public channel."""
        channel = Channel(channel_id, name.lstrip("#"))
        self.channels[channel_id] = channel
        return channel

    def add_usergroup(
        self, group_id: str, handle: str, users: Iterable[str], *, name: str | None = None
    ) -> Usergroup:
        """Add a user group."""
        group = Usergroup(group_id, handle, name or handle, list(users))
        self.usergroups[group_id] = group
        return group

    # -- ids and time --

    def next_ts(self) -> str:
        """A new message timestamp, strictly greater than every earlier one."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _notify(self, event: JsonDict) -> None:
        for listener in list(self.on_change):
            try:
                listener(event)
            except Exception:
                logger.exception("slack sandbox change listener failed", extra={"event": event})

    # -- lookups --

    def user(self, user_id: str) -> User:
        """The member with this id, else ``user_not_found``."""
        try:
            return self.users[user_id]
        except KeyError:
            raise SlackError("user_not_found") from None

    def lookup_by_email(self, email: str) -> User:
        """The member with this email (case-insensitive), else ``users_not_found``."""
        wanted = email.strip().lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == wanted:
                return user
        raise SlackError("users_not_found")

    def usergroup_users(self, group_id: str) -> list[str]:
        """Member ids of a user group, else ``no_such_subteam``."""
        try:
            return list(self.usergroups[group_id].users)
        except KeyError:
            raise SlackError("no_such_subteam") from None

    def resolve_channel(self, ref: str) -> Channel:
        """A channel by id, ``#name`` or ``name``; a user id means the bot's DM with that user."""
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users:
            return self.open_im(ref)[0]
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        raise SlackError("channel_not_found")

    def open_im(self, user_id: str) -> tuple[Channel, bool]:
        """The DM channel with a member, creating it; the flag says whether it already existed."""
        user = self.user(user_id)
        channel_id = f"D{user.id[1:]}"
        existing = self.channels.get(channel_id)
        if existing is not None:
            return existing, True
        channel = Channel(channel_id, user.name, is_im=True, user=user.id)
        self.channels[channel_id] = channel
        return channel, False

    def message(self, channel: str, ts: str) -> Message:
        """A message by channel and ts, else ``message_not_found``."""
        found = self.resolve_channel(channel).messages.get(ts)
        if found is None:
            raise SlackError("message_not_found")
        return found

    # -- messages --

    def post_message(
        self,
        channel: str,
        *,
        text: str | None = None,
        blocks: object = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: JsonDict | None = None,
        user: str | None = None,
    ) -> Message:
        """Post a message (as the bot unless ``user`` is given), top level or in a thread."""
        target = self.resolve_channel(channel)
        checked = self._content(text, blocks, attachments)
        parent: Message | None = None
        if thread_ts is not None:
            parent = target.messages.get(thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            if parent.is_reply and parent.thread_ts is not None:
                parent = target.messages[parent.thread_ts]
        author = user or self.bot_user_id
        message = Message(
            channel=target.id,
            ts=self.next_ts(),
            text=(text or "")[:TEXT_LIMIT],
            blocks=checked,
            user=author,
            bot_id=self.bot_id if author == self.bot_user_id else None,
            thread_ts=parent.ts if parent is not None else None,
            reply_broadcast=reply_broadcast and parent is not None,
            metadata=metadata or None,
            attachments=list(attachments or []),
        )
        if parent is not None:
            parent.thread_ts = parent.ts
            parent.replies.append(message.ts)
        target.messages[message.ts] = message
        self._notify(
            {
                "type": "message_posted",
                "channel": target.id,
                "ts": message.ts,
                "thread_ts": message.thread_ts,
            }
        )
        return message

    def update_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: object = None,
        attachments: list[JsonDict] | None = None,
        metadata: JsonDict | None = None,
        user: str | None = None,
    ) -> Message:
        """Replace a message's text and blocks (metadata is kept unless given), as Slack does."""
        target = self.resolve_channel(channel)
        message = target.messages.get(ts)
        if message is None:
            raise SlackError("message_not_found")
        author = user or self.bot_user_id
        if message.user != author:
            raise SlackError("cant_update_message")
        checked = self._content(text, blocks, attachments)
        message.text = (text or "")[:TEXT_LIMIT]
        message.blocks = checked
        message.attachments = list(attachments or [])
        if metadata is not None:
            message.metadata = metadata or None
        message.edited = {"user": author, "ts": self.next_ts()}
        self._notify({"type": "message_updated", "channel": target.id, "ts": ts})
        return message

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str | None = None,
        blocks: object = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        """Show a message to one member in a channel."""
        target = self.resolve_channel(channel)
        self.user(user)
        checked = self._content(text, blocks, attachments)
        ephemeral = Ephemeral(
            target.id, user, self.next_ts(), (text or "")[:TEXT_LIMIT], checked, thread_ts
        )
        self.ephemerals.append(ephemeral)
        self._notify(
            {"type": "ephemeral_posted", "channel": target.id, "user": user, "ts": ephemeral.ts}
        )
        return ephemeral

    def _content(
        self, text: str | None, blocks: object, attachments: list[JsonDict] | None
    ) -> list[JsonDict]:
        checked = [] if blocks is None else validate_blocks(blocks, limit=MESSAGE_BLOCK_LIMIT)
        if not text and not checked and not attachments:
            raise SlackError("no_text")
        return checked

    def permalink(self, channel: str, ts: str) -> str:
        """The message's web link, with ``thread_ts`` for replies like Slack's."""
        message = self.message(channel, ts)
        link = f"https://{self.domain}.slack.com/archives/{message.channel}/p{ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
        return link

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Parent then replies, oldest first, else ``thread_not_found``."""
        target = self.resolve_channel(channel)
        parent = target.messages.get(ts)
        if parent is None:
            raise SlackError("thread_not_found")
        if parent.is_reply and parent.thread_ts is not None:
            parent = target.messages[parent.thread_ts]
        return [parent, *(target.messages[r] for r in parent.replies)]

    # -- views --

    def issue_trigger_id(self, user: str | None, *, view_id: str | None = None) -> str:
        """A single-use trigger id for ``user`` (from inside ``view_id``), valid for 3 seconds."""
        trigger_id = f"{self._next_serial()}.{int(self.clock())}.sandbox"
        self._triggers[trigger_id] = _Trigger(user, view_id, self.clock())
        return trigger_id

    def _exchange(self, trigger_id: str) -> _Trigger:
        # Unknown ids (made up by a test) are accepted; issued ones are single-use and expire.
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return _Trigger(None, None, self.clock())
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{self._next_serial():08x}"

    def _build_view(self, payload: JsonDict, view_id: str, user: str | None) -> View:
        return View(
            id=view_id,
            type=str(payload["type"]),
            user=user,
            hash=self._new_hash(),
            blocks=list(payload.get("blocks", [])),
            callback_id=str(payload.get("callback_id", "")),
            private_metadata=str(payload.get("private_metadata", "")),
            external_id=str(payload.get("external_id", "")),
            title=payload.get("title"),
            submit=payload.get("submit"),
            close=payload.get("close"),
            notify_on_close=bool(payload.get("notify_on_close", False)),
            clear_on_close=bool(payload.get("clear_on_close", False)),
        )

    def _register(self, view: View) -> None:
        if view.external_id and any(
            v.external_id == view.external_id and v.id != view.id for v in self.views.values()
        ):
            raise SlackError("duplicate_external_id")
        self.views[view.id] = view

    def open_view(self, trigger_id: str, payload: object) -> View:
        """Open a modal as the root of a new stack."""
        checked = validate_view(payload, expect_type="modal")
        trigger = self._exchange(trigger_id)
        view = self._build_view(checked, f"V{self._next_serial():08d}", trigger.user)
        view.root_view_id = view.id
        self._register(view)
        self._modal_stacks.append([view.id])
        self._notify({"type": "view_opened", "view_id": view.id, "user": view.user})
        return view

    def push_view(self, trigger_id: str, payload: object) -> View:
        """Push a modal on the stack the trigger came from (else the user's latest stack)."""
        checked = validate_view(payload, expect_type="modal")
        trigger = self._exchange(trigger_id)
        stack = self._stack_for(trigger)
        if len(stack) >= MODAL_STACK_LIMIT:
            raise SlackError("push_limit_reached")
        top = self.views[stack[-1]]
        view = self._build_view(checked, f"V{self._next_serial():08d}", top.user)
        view.root_view_id = top.root_view_id
        view.previous_view_id = top.id
        self._register(view)
        stack.append(view.id)
        self._notify({"type": "view_pushed", "view_id": view.id, "user": view.user})
        return view

    def _stack_for(self, trigger: _Trigger) -> list[str]:
        for stack in reversed(self._modal_stacks):
            if trigger.view_id is not None and trigger.view_id in stack:
                return stack
        for stack in reversed(self._modal_stacks):
            if trigger.user is None or self.views[stack[0]].user == trigger.user:
                return stack
        raise SlackError("not_found")

    def update_view(
        self,
        payload: object,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> View:
        """Replace a view's content, refusing a stale ``hash`` with ``hash_conflict``."""
        current = self._find_view(view_id, external_id)
        checked = validate_view(payload, expect_type=current.type)
        if hash is not None and hash != current.hash:
            raise SlackError("hash_conflict")
        view = self._build_view(checked, current.id, current.user)
        view.root_view_id = current.root_view_id
        view.previous_view_id = current.previous_view_id
        view.state = current.state
        if not view.external_id:
            view.external_id = current.external_id
        self._register(view)
        self._notify({"type": "view_updated", "view_id": view.id, "user": view.user})
        return view

    def _find_view(self, view_id: str | None, external_id: str | None) -> View:
        if view_id is not None:
            found = self.views.get(view_id)
        else:
            found = next((v for v in self.views.values() if v.external_id == external_id), None)
        if found is None:
            raise SlackError("not_found")
        return found

    def publish_home(self, user_id: str, payload: object, *, hash: str | None = None) -> View:
        """Publish a member's Home tab, keeping its view id across publishes."""
        self.user(user_id)
        checked = validate_view(payload, expect_type="home")
        current_id = self.home_views.get(user_id)
        current = self.views.get(current_id) if current_id is not None else None
        if hash is not None and (current is None or hash != current.hash):
            raise SlackError("hash_conflict")
        view_id = current.id if current is not None else f"V{self._next_serial():08d}"
        view = self._build_view(checked, view_id, user_id)
        self._register(view)
        self.home_views[user_id] = view.id
        self._notify({"type": "view_published", "view_id": view.id, "user": user_id})
        return view

    def close_view(self, view_id: str) -> None:
        """Close a modal as its user would (the top view; the whole stack if it is the root)."""
        for stack in self._modal_stacks:
            if view_id in stack:
                closing = stack[stack.index(view_id) :]
                del stack[stack.index(view_id) :]
                if not stack:
                    self._modal_stacks.remove(stack)
                for closed in closing:
                    self._notify({"type": "view_closed", "view_id": closed})
                return
        raise SlackError("not_found")

    def open_modals(self) -> list[list[View]]:
        """The open modal stacks, root first in each, most recently opened stack last."""
        return [[self.views[v] for v in stack] for stack in self._modal_stacks]
