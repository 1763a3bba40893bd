"""The state of a loopback Slack workspace and its directory: members, groups, channels.

``SlackStore`` holds everything the workspace knows (the directory here; messages and views are
read and written by ``sandbox.slack_messages`` and ``sandbox.slack_views``), hands out message
timestamps and serial ids, and tells ``on_change`` listeners what happened. Every method is plain
and synchronous so it can be unit-tested without HTTP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from sandbox.slack_objects import (
    ChangeListener,
    Channel,
    Demo,
    Ephemeral,
    JsonDict,
    Message,
    SlackError,
    SlackFile,
    Trigger,
    User,
    Usergroup,
    View,
)

__all__ = ["SlackStore"]

logger = logging.getLogger(__name__)


class SlackStore:
    """A workspace's state, its ids and clock, and its directory lookups."""

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
        self.files: dict[str, SlackFile] = {}  # uploaded files by id (sandbox.slack_files)
        self.files_url = ""  # where files are served; set by sandbox.slack_api from its URL
        self.on_change: list[ChangeListener] = []
        self._last_ts_micros = 0
        self._serial = 0
        self._triggers: dict[str, Trigger] = {}
        self._modal_stacks: list[list[str]] = []  # open modal stacks, most recent last
        self.add_user(bot_user_id, bot_name, "Finance Handoff Bot", is_bot=True, bot_id=bot_id)

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
