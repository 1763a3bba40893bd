"""Who is who in Slack: users by email, user-group members, time zones, with short-lived caches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from services.workspaces import current_team

__all__ = ["SlackDirectory"]

logger = logging.getLogger(__name__)


class _TTLCache:
    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = 4096) -> None:
        self._ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._data: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> tuple[bool, Any]:
        hit = self._data.get(key)
        if hit is None or hit[0] < self._clock():
            return False, None
        return True, hit[1]

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        if len(self._data) >= self._max:
            self._data.pop(next(iter(self._data)))
        self._data[key] = (self._clock() + (self._ttl if ttl is None else ttl), value)


def _in_team(key: str) -> str:
    """A cache key of the workspace the work under way is for (several workspaces: an email
    names a different user in each)."""
    team = current_team()
    return key if team is None else f"{team}:{key}"


class SlackDirectory:
    """Resolves people through the Web API, caching answers for a few minutes."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._users = _TTLCache(ttl, clock)
        self._groups = _TTLCache(min(ttl, 300), clock)
        self._info = _TTLCache(ttl, clock)

    async def user_for_email(self, email: str) -> str | None:
        """The Slack user id for an email, or None when nobody in the workspace has it."""
        address = email.strip().lower()
        key = _in_team(address)
        found, value = self._users.get(key)
        if found:
            return value  # type: ignore[no-any-return]
        try:
            response = await self._client.users_lookupByEmail(email=address)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                self._users.put(key, None, ttl=60)
                return None
            raise
        user_id = str(response["user"]["id"])
        self._users.put(key, user_id)
        return user_id

    async def group_members(self, group_ids: Iterable[str]) -> frozenset[str]:
        """Everyone in the given user groups (a group that cannot be read counts as empty)."""
        members: set[str] = set()
        for group_id in group_ids:
            found, value = self._groups.get(_in_team(group_id))
            if not found:
                try:
                    response = await self._client.usergroups_users_list(usergroup=group_id)
                    value = frozenset(response.get("users") or ())
                except SlackApiError:
                    logger.exception("could not read user group %s", group_id)
                    value = frozenset()
                self._groups.put(_in_team(group_id), value)
            members |= value
        return frozenset(members)

    async def user_info(self, user_id: str) -> dict[str, Any]:
        """users.info's user object (time zone, names), cached."""
        found, value = self._info.get(user_id)
        if found:
            return value  # type: ignore[no-any-return]
        response = await self._client.users_info(user=user_id)
        user: dict[str, Any] = dict(response["user"])
        self._info.put(user_id, user)
        return user
