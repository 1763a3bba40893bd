"""Which Slack workspace (team) the work under way is for, when one deployment serves several.

Single-token mode (``SLACK_BOT_TOKEN``) has one workspace and never sets a team: handoffs keep
``team_id`` empty and nothing here is consulted. Multi-workspace mode (``SLACK_CLIENT_ID``)
installs the bot through Slack's OAuth flow; then every handoff names its team, and the work done
for it runs "in" that team (``in_team``): a Slack request (Bolt's middleware), an outbox item
(the worker, from the item's handoff) or a DialNexa delivery (its ``team`` parameter). The Slack
client (``slack_adapter.workspaces``) reads the current team to pick that workspace's token.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

__all__ = [
    "TEAM_ID",
    "TeamResolver",
    "WorkspaceUnknown",
    "current_team",
    "enter_team",
    "in_team",
]

TEAM_ID = re.compile(r"^T[A-Z0-9]{2,31}$")

_current: ContextVar[str | None] = ContextVar("slack_team", default=None)


class WorkspaceUnknown(Exception):
    """No installed workspace answers to the team asked for (or none was named and several are
    installed); the message says what to do."""


class TeamResolver(Protocol):
    """Names the installed workspace a delivery is for."""

    async def resolve(self, team: str | None) -> str:
        """The installed team ``team`` names, or the only one when ``team`` is None.

        Raises ``WorkspaceUnknown`` when ``team`` is not installed, or is None while several
        (or no) workspaces are installed.
        """
        ...


def current_team() -> str | None:
    """The team the work under way is for (None: not known, or single-token mode)."""
    return _current.get()


@contextlib.contextmanager
def in_team(team_id: str | None) -> Iterator[None]:
    """Run the block (and the tasks it starts) for ``team_id``."""
    token = _current.set(team_id)
    try:
        yield
    finally:
        _current.reset(token)


def enter_team(team_id: str | None) -> None:
    """Work for ``team_id`` from here on in the current task (and the tasks it starts).

    For Bolt's middleware, which cannot wrap the listeners it precedes: the caller scopes it
    with ``in_team`` around the whole dispatch, which restores the outer value on exit.
    """
    _current.set(team_id)
