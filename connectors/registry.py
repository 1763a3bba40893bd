"""Which connectors exist, which settings turn each one on, and how each is built.

A connector is **on** when every one of its settings is present; the start-up log names every
connector and whether it is on ("connector stripe: off (set STRIPE_API_KEY)"). Plisio is the
payment provider, wired by ``bot.app``; the seven systems of the connectors contract are listed
here with their settings and get a factory as they are built.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.base import Connector
from connectors.google_sheets import build as build_google_sheets
from connectors.quickbooks.connector import build as quickbooks

if TYPE_CHECKING:
    import httpx

    from bot.settings import Settings
    from connectors.plisio.lookup import InvoiceLookup
    from services.credentials import CredentialStore
    from services.db.engine import Database
    from services.refunds import RefundLedger
from services.routing import RoutingConfig

__all__ = [
    "SPECS",
    "ConnectorDeps",
    "ConnectorSpec",
    "enabled_connectors",
    "log_connectors",
    "status_line",
]

logger = logging.getLogger("connectors")


@dataclass(frozen=True, slots=True)
class ConnectorDeps:
    """What a connector's factory may use."""

    settings: Settings
    db: Database
    http: httpx.AsyncClient
    clock: Callable[[], datetime]
    credentials: CredentialStore | None = None
    # The Slack user id of a workspace member with this email, or None (HubSpot owners shown as
    # mentions); the Slack adapter's directory, cached.
    slack_user_for_email: Callable[[str], Awaitable[str | None]] | None = None
    routing: Callable[[], RoutingConfig] | None = None  # the live routing.toml
    # The Slack permalink of a handoff's message (handoff id -> url), or None when not posted.
    permalink: Callable[[str], Awaitable[str | None]] | None = None
    # Refund outcomes (connectors that execute refunds report through it).
    refunds: RefundLedger | None = None
    # The customer's Plisio invoices by email (a receipt resend's paid invoice); one per process,
    # so Drive and Gmail read the same answer.
    invoice_lookup: InvoiceLookup | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """One connector: its name, the settings (environment names) that turn it on, its factory.

    ``factory`` is None for a connector not built yet; ``wired_elsewhere`` marks one that is on
    without a factory here (Plisio, the payment provider behind its own outbox kinds).
    """

    name: str
    settings: tuple[str, ...]
    factory: Callable[[ConnectorDeps], Connector] | None = None
    wired_elsewhere: bool = False

    def missing(self, settings: Settings) -> list[str]:
        """The settings this connector needs that are not set."""
        return [name for name in self.settings if getattr(settings, name.lower(), None) is None]

    def configured(self, settings: Settings) -> bool:
        return not self.missing(settings)

    def on(self, settings: Settings) -> bool:
        return self.configured(settings) and (self.factory is not None or self.wired_elsewhere)


def _hubspot(deps: ConnectorDeps) -> Connector:
    from connectors.hubspot import build

    return build(deps)


GOOGLE = ("GOOGLE_SERVICE_ACCOUNT_FILE",)


def _stripe(deps: ConnectorDeps) -> Connector:
    # Imported when on: the stripe library takes a while to import.
    from connectors.stripe import build

    return build(deps)


def _stripe_refunds(deps: ConnectorDeps) -> Connector:
    from connectors.stripe import build_refunds

    return build_refunds(deps)


def _zendesk(deps: ConnectorDeps) -> Connector:
    from connectors.zendesk import build

    return build(deps)


def _google_drive(deps: ConnectorDeps) -> Connector:
    from connectors.google_drive import (
        drive_connector,
    )  # imported when built: the registry stays light

    return drive_connector(deps)


def _gmail(deps: ConnectorDeps) -> Connector:
    from connectors.gmail import gmail_connector  # imported when built: the registry stays light

    return gmail_connector(deps)


SPECS: tuple[ConnectorSpec, ...] = (
    ConnectorSpec("plisio", ("PLISIO_SECRET_KEY",), wired_elsewhere=True),
    ConnectorSpec("stripe", ("STRIPE_API_KEY",), factory=_stripe),
    # Released Stripe refunds, executed once (its own name: its answers never replace the read
    # connector's ``stripe`` context).
    ConnectorSpec("stripe_refunds", ("STRIPE_API_KEY",), factory=_stripe_refunds),
    ConnectorSpec("hubspot", ("HUBSPOT_ACCESS_TOKEN",), factory=_hubspot),
    ConnectorSpec(
        "zendesk", ("ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"), factory=_zendesk
    ),
    ConnectorSpec(
        "google_sheets", ("GOOGLE_SHEETS_SPREADSHEET_ID", *GOOGLE), factory=build_google_sheets
    ),
    ConnectorSpec("google_drive", ("GOOGLE_DRIVE_FOLDER_ID", *GOOGLE), factory=_google_drive),
    ConnectorSpec("gmail", ("GMAIL_SENDER", *GOOGLE, "GOOGLE_DELEGATED_USER"), factory=_gmail),
    ConnectorSpec(
        "quickbooks",
        (
            "QUICKBOOKS_CLIENT_ID",
            "QUICKBOOKS_CLIENT_SECRET",
            "QUICKBOOKS_REFRESH_TOKEN",
            "QUICKBOOKS_REALM_ID",
        ),
        factory=quickbooks,
    ),
)


def status_line(spec: ConnectorSpec, settings: Settings) -> str:
    """The start-up log line of one connector (names settings, never their values)."""
    missing = spec.missing(settings)
    if missing:
        return f"connector {spec.name}: off (set {', '.join(missing)})"
    if spec.factory is None and not spec.wired_elsewhere:
        return f"connector {spec.name}: off (settings present, but not built yet)"
    return f"connector {spec.name}: on"


def log_connectors(settings: Settings, specs: Iterable[ConnectorSpec] = SPECS) -> list[str]:
    """Log one line per connector, on or off; returns the lines."""
    lines = [status_line(spec, settings) for spec in specs]
    for line in lines:
        logger.info(line)
    return lines


def enabled_connectors(
    deps: ConnectorDeps, specs: Sequence[ConnectorSpec] = SPECS
) -> list[Connector]:
    """Build every connector that is on and has a factory (event-driven connectors)."""
    return [
        spec.factory(deps)
        for spec in specs
        if spec.factory is not None and spec.configured(deps.settings)
    ]
