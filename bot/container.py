"""The services one bot process shares, built once at start-up and handed to every handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.metrics import PrometheusMetrics
from bot.settings import BotMode, Settings
from connectors.base import Connector
from connectors.plisio import InvoiceLookup, PlisioClient, build_http_client
from connectors.plisio.invoicing import Invoicing
from connectors.wiring import Connectors, build_connectors
from handlers.decisions import MessageRefresher
from handlers.home import HomeTab
from services.approver_dms import ApproverPrefs
from services.db.engine import Database
from services.db.models import HandoffRow
from services.delegation import DelegationService
from services.digest import DigestService
from services.events import OutboxKind
from services.export import ExportRequests
from services.handoffs import HandoffService
from services.home import HomeQueries, HomeRefresher
from services.info_requests import InfoRequests
from services.intake import HandoffIntake
from services.interactions import SeenInteractions
from services.mapping import MappingGaps
from services.metrics import MetricsQueries
from services.outbox import Outbox
from services.payments import PaymentUpdates
from services.permissions import Actor
from services.reminders import ReminderService
from services.routing import RoutingConfig, is_approver
from services.summary import SUMMARY_KIND, WeeklySummary
from services.worker import Worker
from services.workspaces import in_team
from slack_adapter import SlackAdapter, build_slack_adapter
from slack_adapter.directory import SlackDirectory
from slack_adapter.exports import ExportUploads
from slack_adapter.summary import SummarySender
from slack_adapter.workspaces import EncryptedInstallationStore, SlackClients, TeamRoutedClient

__all__ = [
    "Actors",
    "Container",
    "GroupDirectory",
    "RoutingSource",
    "build_container",
    "build_slack_client",
    "build_workspaces",
    "secret_value",
    "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def secret_value(value: object) -> str:
    """The text of a pydantic ``SecretStr`` setting ("" when it is not set)."""
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else ""


def _retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=8),
        AsyncServerErrorRetryHandler(max_retry_count=3),
    ]


def build_slack_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that waits out 429s (Retry-After) and retries 5xx and dropped connections."""
    return AsyncWebClient(
        token=token, base_url=base_url, timeout=15, retry_handlers=_retry_handlers()
    )


def build_workspaces(settings: Settings, db: Database) -> tuple[SlackClients, AsyncWebClient]:
    """Several workspaces (OAuth installs): each team's clients, and the one client that picks
    the current team's token for every call (``slack_adapter.workspaces``)."""
    store = EncryptedInstallationStore(
        settings.slack_client_id or "", db.engine, secret_value(settings.connector_encryption_key)
    )
    clients = SlackClients(store, lambda token: build_slack_client(token, settings.slack_api_url))
    routed = TeamRoutedClient(
        clients.token_for,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=_retry_handlers(),
    )
    return clients, routed


def handoff_team(db: Database) -> Callable[[str], Awaitable[str | None]]:
    """The Slack team a handoff belongs to (several workspaces), for the outbox worker."""

    async def team_of(handoff_id: str) -> str | None:
        async with db.reads() as session:
            return await session.scalar(
                select(HandoffRow.team_id).where(HandoffRow.id == handoff_id)
            )

    return team_of


def in_handoffs_team(
    team_of: Callable[[str], Awaitable[str | None]],
    changed: Callable[[str], Awaitable[object]],
) -> Callable[[str], Awaitable[object]]:
    """``changed(handoff_id)`` run for the handoff's team (several workspaces)."""

    async def run(handoff_id: str) -> object:
        with in_team(await team_of(handoff_id)):
            return await changed(handoff_id)

    return run


async def _time_zone(directory: SlackDirectory, user_id: str) -> str | None:
    """A person's Slack time zone for dates shown to them (None when Slack cannot say)."""
    try:
        tz = (await directory.user_info(user_id)).get("tz")
    except Exception:
        return None
    return str(tz) if tz else None


class RoutingSource:
    """The routing config services read through a callable; the one place it can be replaced."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config

    def __call__(self) -> RoutingConfig:
        return self.config


class GroupDirectory(Protocol):
    """Slack user-group members (cached)."""

    async def group_members(self, group_ids: Iterable[str]) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Actors:
    """Resolves a Slack user's memberships from routing.toml and the directory."""

    routing: Callable[[], RoutingConfig]
    directory: GroupDirectory
    delegations: DelegationService | None = None  # who stands in for an away approver now

    async def may_approve(self, user_id: str) -> bool:
        """Is this Slack user one of routing.toml's approvers (directly or by user group)?"""
        routing = self.routing()
        if is_approver(user_id, routing):
            return True
        members = await self.directory.group_members(routing.approvers.usergroups)
        return is_approver(user_id, routing, members)

    async def actor(self, user_id: str) -> Actor:
        """The user with their memberships resolved, for ``services.permissions.decide``.

        User-group members come from the directory's short-lived cache, so this stays fast
        enough to run between a click's ack and its ``views.open`` (trigger_id lives 3 s).
        """
        routing = self.routing()
        approver = await self.may_approve(user_id)
        finance = user_id in routing.finance.users
        if not finance and routing.finance.usergroups:
            finance = user_id in await self.directory.group_members(routing.finance.usergroups)
        return Actor(
            user_id=user_id,
            is_approver=approver,
            is_lead=routing.mentions.finance_lead == user_id,
            in_finance=finance,
            acting_for=await self._acting_for(user_id),
        )

    async def _acting_for(self, user_id: str) -> tuple[str, ...]:
        """The away approvers ``user_id`` stands in for now, who are still approvers: a
        delegation lends only what its approver could do today."""
        if self.delegations is None:
            return ()
        found = await self.delegations.acting_for(user_id)
        return tuple([a.approver for a in found if await self.may_approve(a.approver)])


@dataclass
class Container:
    """Everything built at start-up, complete: no part is filled in later.

    Listeners never take the whole container: each handler module declares the narrow Protocol
    it needs (``handlers.actions.ActionDeps``, ...), which this class satisfies structurally.
    """

    settings: Settings
    mode: BotMode
    db: Database
    live_routing: RoutingSource  # ``routing`` below reads and replaces it
    intake: HandoffIntake
    slack: AsyncWebClient
    http: httpx.AsyncClient
    handoffs: HandoffService
    outbox: Outbox
    directory: SlackDirectory
    plisio: PlisioClient
    lookup: InvoiceLookup
    adapter: SlackAdapter  # posts, message updates, keyed thread notes, digests and DMs
    worker: Worker  # the outbox worker: every kind's handler registered at start-up
    invoicing: Invoicing  # the payment provider's outbox work (create, look up invoices)
    refresher: MessageRefresher  # what handlers call to bring a handoff's message up to date
    actors: Actors
    reminders: ReminderService  # follow-up deadlines (the scheduler's job)
    digest: DigestService  # the low-priority digest (scheduled only when [digest] is enabled)
    home: HomeRefresher  # republishes a person's App Home tab
    seen: SeenInteractions  # the replay check's record of interactions already handled
    connectors: Connectors  # the connector runtime, the event log, the payment provider
    payments: PaymentUpdates  # applies verified payment callbacks
    metrics: PrometheusMetrics  # GET /metrics: this process's counters and the database gauges
    summary: WeeklySummary  # the finance lead's weekly DM (scheduled when [metrics] opts in)
    exports: ExportRequests  # queues audit exports (uploaded to the requester's DM)
    info: InfoRequests  # "Request info": approvers' questions and their answers
    delegations: DelegationService  # approvers away, and who approves for them meanwhile
    clock: Callable[[], datetime] = utc_now
    # Several workspaces (SLACK_CLIENT_ID): each installed team's client; None with one token.
    workspaces: SlackClients | None = None

    @property
    def routing(self) -> RoutingConfig:
        return self.live_routing.config

    @routing.setter
    def routing(self, config: RoutingConfig) -> None:
        self.live_routing.config = config

    @property
    def sandbox(self) -> bool:
        return self.mode is BotMode.SANDBOX

    @property
    def approver_prefs(self) -> ApproverPrefs:
        """Each person's choice of where approval requests reach them (the Home-tab toggle)."""
        return self.adapter.approver_dms.prefs

    async def may_approve(self, user_id: str) -> bool:
        """Is this Slack user one of routing.toml's approvers (directly or by user group)?"""
        return await self.actors.may_approve(user_id)

    async def actor(self, user_id: str) -> Actor:
        """The user with their memberships resolved, for ``services.permissions.decide``."""
        return await self.actors.actor(user_id)


def build_container(
    settings: Settings,
    mode: BotMode,
    routing: RoutingConfig,
    *,
    clock: Callable[[], datetime] = utc_now,
    http: httpx.AsyncClient | None = None,
    extra_connectors: Iterable[Connector] = (),
) -> Container:
    """Every shared service, built once and complete; nothing is added to the result later.

    ``extra_connectors`` join the ones the settings turn on (tests use it for a toy connector).
    """
    live_routing = RoutingSource(routing)
    db = Database(settings.effective_database_url(), schema=settings.database_schema)
    # Intake and handoffs keep the routing they started with; the rest reads live_routing.
    workspaces: SlackClients | None = None
    if settings.multi_workspace and mode is BotMode.SLACK:
        workspaces, slack = build_workspaces(settings, db)
    else:
        slack = build_slack_client(secret_value(settings.slack_bot_token), settings.slack_api_url)
    http_client = http or build_http_client()
    plisio = PlisioClient(
        secret_value(settings.plisio_secret_key), http=http_client, base_url=settings.plisio_api_url
    )
    lookup = InvoiceLookup(plisio)
    outbox = Outbox(db, clock=clock, lease=timedelta(seconds=settings.outbox_lease_seconds))
    directory = SlackDirectory(slack)
    metric_queries = MetricsQueries(db)
    metrics = PrometheusMetrics(metric_queries, clock=clock, routing=live_routing)

    async def permalink(handoff_id: str) -> str | None:
        # Late-bound: ``adapter`` is built after the connectors, and this runs only once the
        # worker does (the message must be in Slack for its permalink to exist).
        async with db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            where = None if row is None else (row.channel, row.message_ts)
        return None if where is None else await adapter.messages.permalink(*where)

    # The connectors come first: every service records its events through their event log.
    connectors = build_connectors(
        settings=settings,
        mode=mode,
        db=db,
        http=http_client,
        outbox=outbox,
        plisio=plisio,
        clock=clock,
        extra=extra_connectors,
        slack_user_for_email=directory.user_for_email,
        routing=lambda: live_routing.config,
        permalink=permalink,
        telemetry=metrics,
    )
    metrics.know_connectors(connectors.runtime.connectors)
    events = connectors.events
    intake = HandoffIntake(db, lambda: routing, clock=clock, events=events)
    handoffs = HandoffService(
        db, lambda: routing, clock=clock, sandbox=mode is BotMode.SANDBOX, events=events
    )
    delegations = DelegationService(db, clock=clock, events=events)
    actors = Actors(live_routing, directory, delegations)
    # Follow-ups: reminder deadlines (their nudge DMs) and the digest, both sent by the adapter.
    reminders = ReminderService(db, live_routing, outbox, clock=clock, events=events)
    digest = DigestService(
        db=db, outbox=outbox, handoffs=handoffs, routing=live_routing, clock=clock
    )
    adapter = build_slack_adapter(
        db=db,
        outbox=outbox,
        handoffs=handoffs,
        slack=slack,
        directory=directory,
        clock=clock,
        digest=digest,
        routing=live_routing,
        events=events,
        fallback_channel=routing.channels.default,
        post_rate=settings.slack_post_rate_per_channel,
        telemetry=metrics,
        stand_in=delegations.delegate_for,
    )
    invoicing = Invoicing(
        db=db,
        outbox=outbox,
        handoffs=handoffs,
        provider=connectors.provider,
        lookup=lookup,
        slack=slack,
        refresh=adapter.messages.refresh,
        public_url=settings.public_url,
        clock=clock,
        events=events,
    )
    # Every outbox kind has its handler before anything runs.
    worker = Worker(
        outbox,
        lanes=adapter.lanes,
        poll_seconds=settings.outbox_poll_seconds,
        team_of=handoff_team(db) if workspaces is not None else None,
    )
    adapter.register(worker)
    worker.register(OutboxKind.CREATE_INVOICE, invoicing.create_invoice)
    worker.register(OutboxKind.LOOKUP_INVOICES, invoicing.lookup_invoices)
    worker.register(OutboxKind.CONNECTOR, connectors.runtime.run)
    summaries = SummarySender(outbox=outbox, queries=metric_queries, slack=slack, clock=clock)
    worker.register(SUMMARY_KIND, summaries.deliver)
    refresh: Callable[[str], Awaitable[object]] = adapter.messages.refresh
    if workspaces is not None:  # the scheduler's refund release runs outside any team's work
        refresh = in_handoffs_team(handoff_team(db), adapter.messages.refresh)
    uploads = ExportUploads(db=db, outbox=outbox, slack=slack, events=events, clock=clock)
    worker.register(OutboxKind.EXPORT, uploads.deliver)
    # What a connector learns or links shows on the handoff's message as it arrives.
    connectors.runtime.watch(refresh)
    # So does a refund the release job sent to Stripe.
    connectors.refund_service.watch(refresh)
    return Container(
        settings=settings,
        mode=mode,
        db=db,
        live_routing=live_routing,
        intake=intake,
        slack=slack,
        http=http_client,
        handoffs=handoffs,
        outbox=outbox,
        directory=directory,
        plisio=plisio,
        lookup=lookup,
        adapter=adapter,
        worker=worker,
        invoicing=invoicing,
        refresher=adapter.messages,
        actors=actors,
        reminders=reminders,
        digest=digest,
        home=HomeTab(
            HomeQueries(db),
            slack,
            actor=actors.actor,
            clock=clock,
            mapping_gaps=MappingGaps(db).counts,
            # The finance lead's "Last 7 days" (services/metrics.py), over [metrics] period_days.
            lead_metrics=lambda now: metric_queries.report(
                now, timedelta(days=live_routing.config.metrics.period_days)
            ),
            approval_dms=lambda user: adapter.approver_dms.prefs.wants_dm(
                user, live_routing.config
            ),
            delegations=delegations,
            tz=lambda user_id: _time_zone(directory, user_id),
        ),
        seen=SeenInteractions(db, clock=clock),
        connectors=connectors,
        payments=PaymentUpdates(db, clock=clock, events=events),
        metrics=metrics,
        summary=WeeklySummary(db, outbox, live_routing, clock=clock),
        exports=ExportRequests(db, clock=clock),
        info=InfoRequests(db, live_routing, clock=clock, events=events),
        delegations=delegations,
        clock=clock,
        workspaces=workspaces,
    )
