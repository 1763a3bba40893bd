"""The in-memory Slack workspace behind the loopback Slack API, under its one public name.

The workspace is split by role; this module re-exports the public names so that
``from sandbox.slack_state import Demo, SlackWorkspace`` keeps working:

- ``sandbox.slack_objects``: users, groups, channels, messages, views, ``SlackError``, ``Demo`` ids;
- ``sandbox.slack_validate``: Block Kit and view limits, answered as Slack's own error lines;
- ``sandbox.slack_store``: the state, ids and clock, change listeners, the directory lookups;
- ``sandbox.slack_messages``: messages and threads; ``sandbox.slack_views``: modals and App Home;
- ``sandbox.slack_workspace``: ``SlackWorkspace`` (all of the above) and its demo seed.
"""

from __future__ import annotations

from sandbox.slack_messages import TEXT_LIMIT
from sandbox.slack_objects import (
    ChangeListener,
    Channel,
    Demo,
    Ephemeral,
    JsonDict,
    Message,
    SlackError,
    User,
    Usergroup,
    View,
)
from sandbox.slack_validate import (
    MESSAGE_BLOCK_LIMIT,
    VIEW_BLOCK_LIMIT,
    validate_blocks,
    validate_view,
)
from sandbox.slack_views import MODAL_STACK_LIMIT, TRIGGER_TTL_SECONDS
from sandbox.slack_workspace import SlackWorkspace

__all__ = [
    "MESSAGE_BLOCK_LIMIT",
    "MODAL_STACK_LIMIT",
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
