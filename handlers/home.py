"""The App Home tab: published when a person opens it and again after they act on a handoff."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from blocks.home import home_view
from bot.container import Container
from services.home import HomeItem, HomeQueries

__all__ = ["HomeTab", "register"]

logger = logging.getLogger(__name__)

PERMALINK_CACHE = 2048  # a message's permalink never changes, so links are kept once fetched


class HomeTab:
    """Builds and publishes one person's Home tab; failures are logged, never raised."""

    def __init__(self, deps: Container) -> None:
        self._deps = deps
        self._queries = HomeQueries(deps.db)
        self._links: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def refresh(self, user_id: str) -> None:
        """Publish ``user_id``'s Home tab as it stands now."""
        try:
            approver = await self._deps.may_approve(user_id)
            now = self._deps.clock()
            snapshot = await self._queries.snapshot(user_id, approver=approver, now=now)
            items = [*snapshot.mine, *snapshot.awaiting, *(r.item for r in snapshot.recent)]
            view = home_view(snapshot, now=now, links=await self._permalinks(items))
            await self._deps.slack.views_publish(user_id=user_id, view=view)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not publish the Home tab", extra={"user": user_id})

    async def _permalinks(self, items: list[HomeItem]) -> dict[str, str]:
        wanted = {(i.channel, i.message_ts): i.handoff_id for i in items if i.message_ts}
        missing = [key for key in wanted if key not in self._links]
        found = await asyncio.gather(*(self._permalink(c, ts) for c, ts in missing if ts))
        for (channel, ts), url in zip(missing, found, strict=True):
            if url and ts:
                self._links[(channel, ts)] = url
                if len(self._links) > PERMALINK_CACHE:
                    self._links.popitem(last=False)
        return {
            handoff_id: self._links[(c, ts)]
            for (c, ts), handoff_id in wanted.items()
            if ts and (c, ts) in self._links
        }

    async def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            response = await self._deps.slack.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError:
            return None
        permalink = response.get("permalink")
        return str(permalink) if permalink else None


def register(app: AsyncApp, deps: Container) -> None:
    """Wire app_home_opened (Bolt acknowledges events itself)."""

    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        if deps.home is not None:
            await deps.home.refresh(str(event["user"]))

    app.event("app_home_opened")(home_opened)
