"""Builds the connectors, the event log that feeds them, the payment provider and invoicing.

Called once by ``bot.container.build_container``, before the services that record events are
built: they all share the one ``EventLog`` whose subscriptions come from the connectors that are
on, so every event reaches every connector that handles it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot.settings import BotMode, Settings
from connectors.base import Connector
from connectors.plisio import InvoiceLookup, PlisioClient
from connectors.plisio.provider import PlisioProvider
from connectors.registry import ConnectorDeps, enabled_connectors, log_connectors
from connectors.runtime import ConnectorRuntime
from services.approver_dms import approver_dm_work
from services.context_policy import row_policy
from services.credentials import CredentialStore, sandbox_key
from services.db.engine import Database
from services.events import EventLog, Subscriptions
from services.notes import note_for
from services.outbox import Outbox
from services.refunds import RefundLedger
from services.refunds.service import RefundService
from services.routing import ContextRules, RefundRules, RoutingConfig
from services.telemetry import NO_TELEMETRY, Telemetry

__all__ = ["Connectors", "build_connectors"]


@dataclass(frozen=True, slots=True)
class Connectors:
    """The connector side of one bot process."""

    runtime: ConnectorRuntime  # runs OutboxKind.CONNECTOR items
    events: EventLog  # the one event log every service records through
    provider: PlisioProvider  # the payment provider (PaymentProvider)
    credentials: CredentialStore | None  # rotating secrets, encrypted
    refunds: RefundLedger  # refund outcomes, on the same event log
    # The refund policy's automatic path: decides when Stripe's facts arrive, releases after
    # the grace window (the scheduler's job).
    refund_service: RefundService


def _credentials(
    settings: Settings, mode: BotMode, db: Database, clock: Callable[[], datetime]
) -> CredentialStore | None:
    key = settings.connector_encryption_key
    if key is not None:
        return CredentialStore(db, key.get_secret_value(), clock=clock)
    if mode is BotMode.SANDBOX:
        return CredentialStore(db, sandbox_key(settings.effective_database_url()), clock=clock)
    return None


def build_connectors(
    *,
    settings: Settings,
    mode: BotMode,
    db: Database,
    http: httpx.AsyncClient,
    outbox: Outbox,
    plisio: PlisioClient,
    clock: Callable[[], datetime],
    extra: Iterable[Connector] = (),
    slack_user_for_email: Callable[[str], Awaitable[str | None]] | None = None,
    routing: Callable[[], RoutingConfig] | None = None,
    permalink: Callable[[str], Awaitable[str | None]] | None = None,
    telemetry: Telemetry = NO_TELEMETRY,
) -> Connectors:
    """The connectors that are on (the start-up log names each), and the event log for them."""
    secret = settings.plisio_secret_key
    provider = PlisioProvider(plisio, secret.get_secret_value() if secret else "")
    log_connectors(settings)
    credentials = _credentials(settings, mode, db, clock)
    # The event log needs the connectors (their subscriptions) and the refund ledger the event
    # log: bound once both exist.
    late: list[EventLog] = []
    refunds = RefundLedger(db, lambda: late[0], clock)
    deps = ConnectorDeps(
        settings=settings,
        db=db,
        http=http,
        clock=clock,
        credentials=credentials,
        slack_user_for_email=slack_user_for_email,
        routing=routing,
        permalink=permalink,
        refunds=refunds,
        invoice_lookup=InvoiceLookup(plisio),
    )
    on = [*enabled_connectors(deps), *extra]
    # One event log for every service: connectors' work, thread notes and approver DMs ride in
    # each event's transaction.
    events = EventLog(
        Subscriptions({c.name: c.handles for c in on}), notes=note_for, work=[approver_dm_work]
    )
    late.append(events)
    rules = (lambda: routing().context) if routing is not None else ContextRules
    refund_rules = (lambda: routing().refunds) if routing is not None else RefundRules
    refund_service = RefundService(db, refund_rules, events, clock)
    runtime = ConnectorRuntime(
        db,
        outbox,
        on,
        clock,
        events,
        context_policy=row_policy(rules),
        on_context=refund_service.on_context,
        telemetry=telemetry,
    )
    return Connectors(
        runtime=runtime,
        events=events,
        provider=provider,
        credentials=credentials,
        refunds=refunds,
        refund_service=refund_service,
    )
