"""The container is built once and complete, and its actor lookup follows the live routing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.container import Actors, Container, RoutingSource, build_container
from bot.settings import BotMode
from handlers.home import HomeTab
from services.events import OutboxKind
from services.permissions import Actor
from tests.support.harness import test_settings as bot_settings
from tests.support.routing import make_routing

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    settings = bot_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    # No user groups: actor lookups answer from routing.toml alone, without asking Slack.
    routing = make_routing(
        approvers={"users": ["U0APPROVER1"], "usergroups": []},
        finance={"users": ["U0FINANCE"], "usergroups": []},
    )
    built = build_container(settings, BotMode.SLACK, routing, clock=lambda: NOW)
    await built.db.migrate()  # actor lookups read who stands in for an away approver
    try:
        yield built
    finally:
        await built.http.aclose()
        await built.seen.close()
        await built.db.dispose()


def test_every_part_is_there_from_the_start(container: Container) -> None:
    for part in dataclasses.fields(container):
        if part.name == "workspaces":  # several workspaces only (SLACK_CLIENT_ID), by mode
            continue
        assert getattr(container, part.name) is not None, part.name
    assert container.workspaces is None  # single-token mode
    assert isinstance(container.home, HomeTab)
    assert container.refresher is container.adapter.messages
    # Every kind of work anything can queue has its handler before the worker starts.
    assert set(container.worker.handlers) == set(OutboxKind)
    assert container.clock() == NOW
    assert not container.sandbox


async def test_replacing_the_routing_reaches_actors_and_follow_ups(container: Container) -> None:
    assert await container.may_approve("U0APPROVER1")
    container.routing = make_routing(
        approvers={"users": [], "usergroups": []}, finance={"users": [], "usergroups": []}
    )
    assert container.live_routing() is container.routing
    assert not await container.may_approve("U0APPROVER1")
    assert not (await container.actor("U0APPROVER1")).is_approver


class Groups:
    """A directory that knows user-group members and counts its lookups."""

    def __init__(self, members: dict[str, set[str]]) -> None:
        self.members = members
        self.asked: list[tuple[str, ...]] = []

    async def group_members(self, group_ids: Iterable[str]) -> frozenset[str]:
        ids = tuple(group_ids)
        self.asked.append(ids)
        return frozenset().union(*(self.members.get(g, set()) for g in ids))


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("U0APPROVER1", Actor("U0APPROVER1", is_approver=True)),  # listed by name
        ("U0GROUPAPPR", Actor("U0GROUPAPPR", is_approver=True, in_finance=True)),  # by group
        ("U0FINLEAD", Actor("U0FINLEAD", is_lead=True)),
        ("U0FINANCE", Actor("U0FINANCE", in_finance=True)),  # a [finance] user group member
        ("U0OUTSIDER", Actor("U0OUTSIDER")),
    ],
)
async def test_actors(user: str, expected: Actor) -> None:
    groups = Groups({"S0APPROVERS": {"U0GROUPAPPR"}, "S0FINANCE": {"U0FINANCE", "U0GROUPAPPR"}})
    actors = Actors(RoutingSource(make_routing()), groups)
    assert await actors.actor(user) == expected


async def test_finance_users_listed_by_name_need_no_group_lookup() -> None:
    groups = Groups({})
    routing = make_routing(finance={"users": ["U0FINANCE"], "usergroups": ["S0FINANCE"]})
    actor = await Actors(RoutingSource(routing), groups).actor("U0FINANCE")
    assert actor.in_finance
    assert groups.asked == [("S0APPROVERS",)]  # the approver check only
