"""The App Home tab: published when a person opens it and again after they act on a handoff."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.common import JSON
from blocks.delegation import away_panel
from blocks.home import home_view
from services.delegation import DelegationService
from services.home import HomeItem, HomeQueries, HomeRefresher
from services.metrics import MetricsReport
from services.permissions import Action, Actor, decide

__all__ = ["HomeDeps", "HomeTab", "home_opened", "register"]

logger = logging.getLogger(__name__)

PERMALINK_CACHE = 2048  # a message's permalink never changes, so links are kept once fetched


class HomeTab:
    """Builds and publishes one person's Home tab; failures are logged, never raised."""

    def __init__(
        self,
        queries: HomeQueries,
        slack: AsyncWebClient,
        *,
        actor: Callable[[str], Awaitable[Actor]],
        clock: Callable[[], datetime],
        mapping_gaps: Callable[[], Awaitable[Mapping[str, int]]] | None = None,
        lead_metrics: Callable[[datetime], Awaitable[MetricsReport]] | None = None,
        approval_dms: Callable[[str], Awaitable[bool]] | None = None,
        delegations: DelegationService | None = None,
        tz: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        self._queries = queries
        self._slack = slack
        self._actor = actor
        self._clock = clock
        self._mapping_gaps = mapping_gaps
        self._lead_metrics = lead_metrics
        # Whether a person's approval requests reach their DM too (services.approver_dms).
        self._approval_dms = approval_dms
        self._delegations = delegations
        self._tz = tz
        self._links: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def refresh(self, user_id: str) -> None:
        """Publish ``user_id``'s Home tab as it stands now."""
        try:
            # The same policy as the buttons: only approvers are shown what waits for approval.
            actor = await self._actor(user_id)
            approver = decide(Action.APPROVE, actor).allowed
            now = self._clock()
            snapshot = await self._queries.snapshot(user_id, approver=approver, now=now)
            items = [*snapshot.mine, *snapshot.awaiting, *(r.item for r in snapshot.recent)]
            # Which DialNexa fields arrive unmapped is set-up work: shown to admins only.
            admin = actor.is_approver or actor.is_lead
            gaps = await self._mapping_gaps() if admin and self._mapping_gaps else {}
            # The team's timings: for whoever the policy lets see them (the finance lead).
            metrics = None
            if self._lead_metrics is not None and decide(Action.VIEW_METRICS, actor).allowed:
                metrics = await self._lead_metrics(now)
            links = await self._permalinks(items)
            # Approvers and the lead choose where approval requests reach them.
            dms = await self._approval_dms(user_id) if admin and self._approval_dms else None
            view = home_view(
                snapshot,
                now=now,
                links=links,
                mapping_gaps=gaps,
                metrics=metrics,
                approval_dms=dms,
                export=decide(Action.EXPORT, actor).allowed,  # the finance lead's export button
                away=await self._away(actor),
            )
            await self._slack.views_publish(user_id=user_id, view=view)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not publish the Home tab", extra={"user": user_id})

    async def _away(self, actor: Actor) -> list[JSON]:
        """The away / back panel: an approver's own delegation, and whom this person covers."""
        if self._delegations is None:
            return []
        user = actor.user_id
        own = await self._delegations.active_for(user) if actor.is_approver else None
        covering = await self._delegations.acting_for(user)
        if not actor.is_approver and not covering:
            return []
        tz = await self._tz(user) if self._tz is not None else None
        return away_panel(approver=actor.is_approver, away=own, covering=covering, tz=tz)

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
            response = await self._slack.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError:
            return None
        permalink = response.get("permalink")
        return str(permalink) if permalink else None


class HomeDeps(Protocol):
    """What the Home tab listener needs."""

    @property
    def home(self) -> HomeRefresher: ...


async def home_opened(event: dict[str, Any], deps: HomeDeps) -> None:
    """app_home_opened: publish the person's Home tab (Bolt acknowledges events itself)."""
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    await deps.home.refresh(str(event["user"]))


def register(app: AsyncApp, deps: HomeDeps) -> None:
    """Wire app_home_opened to the listener above."""

    async def on_home_opened(event: dict[str, Any]) -> None:
        await home_opened(event, deps)

    app.event("app_home_opened")(on_home_opened)
