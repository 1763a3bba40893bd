"""The services one bot process shares, built once at start-up and handed to every handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import BotMode, Settings
from services.db.engine import Database
from services.delivery import Delivery
from services.digest import DigestService
from services.directory import SlackDirectory
from services.handoffs import HandoffService
from services.home import HomeRefresher
from services.intake import HandoffIntake
from services.outbox import Outbox
from services.plisio import InvoiceLookup, PlisioClient
from services.reminders import ReminderService
from services.routing import RoutingConfig, is_approver

__all__ = ["Container", "build_slack_client", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_slack_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that waits out 429s (Retry-After) and retries 5xx and dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=8),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )


@dataclass
class Container:
    settings: Settings
    mode: BotMode
    db: Database
    routing: RoutingConfig
    intake: HandoffIntake
    slack: AsyncWebClient
    http: httpx.AsyncClient
    handoffs: HandoffService
    outbox: Outbox
    directory: SlackDirectory
    plisio: PlisioClient
    lookup: InvoiceLookup
    delivery: Delivery
    clock: Callable[[], datetime] = utc_now
    extras: dict[str, object] = field(default_factory=dict)
    reminders: ReminderService | None = None  # follow-up deadlines (the scheduler's job)
    digest: DigestService | None = None  # the low-priority digest ([digest] in routing.toml)
    home: HomeRefresher | None = None  # republishes a person's App Home tab

    @property
    def sandbox(self) -> bool:
        return self.mode is BotMode.SANDBOX

    async def may_approve(self, user_id: str) -> bool:
        """Is this Slack user one of routing.toml's approvers (directly or by user group)?"""
        if is_approver(user_id, self.routing):
            return True
        members = await self.directory.group_members(self.routing.approvers.usergroups)
        return is_approver(user_id, self.routing, members)
