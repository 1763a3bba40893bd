"""The exception review queue: one Google Sheets row per call that takes a review path.

Handles every event that changes what a row says. A handoff is an exception when the routing
policy gave it review flags, it needs a mapping, it was escalated, its Plisio invoice failed or it
was underpaid (``rows.review_reasons``). Its row is appended once and updated in place after
that; a handoff that stops being an exception keeps its row with its status updated.

Exactly once: Sheets has no idempotency key, so every write is preceded by a read of column A
(``SheetWriter``): the call ID already there is updated, never appended again, whether the
earlier try was cut off after its append, another event of the same call raced it, or the ref
was never recorded. The row's range is also kept in ``external_refs`` (kind ``row``) so that a
handoff that stops being an exception still finds its row.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import func, select

from connectors.base import ConnectorContext, Done, Link, Result
from connectors.google.auth import shared_auth
from connectors.google.errors import GoogleError, result
from connectors.google_sheets.client import SheetsClient
from connectors.google_sheets.rows import LAST_COLUMN, Snapshot, cells, lines, review_reasons
from connectors.google_sheets.writer import Pacer, SheetWriter
from services import external_refs
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow, InvoiceRow
from services.events import Event, EventType
from services.handoff_model import Handoff

if TYPE_CHECKING:
    from connectors.registry import ConnectorDeps

__all__ = ["HANDLES", "NAME", "GoogleSheetsConnector", "slack_redirect"]

logger = logging.getLogger(__name__)

NAME = "google_sheets"
HANDLES = frozenset(
    {
        EventType.RECEIVED,
        EventType.POSTED,
        EventType.APPROVED,
        EventType.DECLINED,
        EventType.ESCALATED,
        EventType.REASSIGNED,
        EventType.DONE,
        EventType.RETRIED,
        EventType.INVOICE_CREATED,
        EventType.INVOICE_FAILED,
        EventType.PAID,
        EventType.MISMATCH,
        EventType.EXPIRED,
    }
)
Permalink = Callable[[str], Awaitable[str | None]]


def slack_redirect(channel: str | None, message_ts: str | None) -> str | None:
    """A Slack link to the handoff's channel when no permalink is at hand (Slack's own
    ``app_redirect`` opens the channel in the reader's workspace)."""
    if not channel or not message_ts:
        return None
    return f"https://slack.com/app_redirect?channel={quote(channel, safe='')}"


def _customer(handoff: Handoff | None, row: HandoffRow) -> str:
    customer = handoff.customer if handoff is not None else None
    name = customer.name if customer is not None else None
    email = (customer.email if customer is not None else None) or row.customer_email
    if name and email:
        return f"{name} <{email}>"
    return name or email or ""


class GoogleSheetsConnector:
    """Keeps one row per exception call in the review sheet."""

    name = NAME
    handles = HANDLES

    def __init__(
        self,
        *,
        db: Database,
        client: SheetsClient,
        tab: str,
        pacer: Pacer | None = None,
        permalink: Permalink | None = None,
    ) -> None:
        self._db = db
        self._client = client
        self.writer = SheetWriter(client, tab, pacer)
        self._permalink = permalink
        self._gid: int | None = None

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        loaded = await self._load(event.handoff_id)
        if loaded is None:
            return Done()
        snap, known = loaded
        exception = bool(review_reasons(snap))
        # Not an exception and never given a row: nothing to write, unless an interrupted try
        # may have appended one (then the writer finds it by its call ID, and only updates it).
        if not exception and not known and context.attempt == 1:
            return Done()
        row_cells = cells(snap, await self._slack_link(snap), context.clock())
        try:
            row = await self.writer.put(snap.call_id, row_cells, create=exception)
            if row is None:
                return Done()
            url = await self._row_url(row)
        except GoogleError as error:
            return result(error)
        label = f"row {row}"
        return Done(
            context={"url": url, "label": label, "lines": lines(row_cells)},
            links=(
                Link(
                    "row",
                    f"{self._client.spreadsheet_id}:{snap.call_id}",
                    url,
                    label=f"exception row {row}",
                    detail={"range": f"{self.writer.tab}!A{row}:{LAST_COLUMN}{row}"},
                ),
            ),
        )

    async def _row_url(self, row: int) -> str:
        if self._gid is None:
            self._gid = await self._client.sheet_id(self.writer.tab)
        return self._client.sheet_url(self._gid, f"A{row}:{LAST_COLUMN}{row}")

    async def _slack_link(self, snap: Snapshot) -> str | None:
        if self._permalink is not None and snap.message_ts:
            try:
                link = self._permalink(snap.handoff_id)
                found = await link if inspect.isawaitable(link) else link
            except Exception:
                logger.warning("no Slack permalink for the exception row", exc_info=True)
                found = None
            if found:
                return str(found)
        return slack_redirect(snap.channel, snap.message_ts)

    async def _load(self, handoff_id: str) -> tuple[Snapshot, bool] | None:
        """The handoff's state for its row, and whether a row is recorded for it."""
        # Shielded: a worker stopped at shut-down must not cut a SQLite read in half (aiosqlite's
        # close of a connection interrupted mid-query can wait forever); the read is short.
        return await asyncio.shield(self._read(handoff_id))

    async def _read(self, handoff_id: str) -> tuple[Snapshot, bool] | None:
        async with self._db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            if row is None:
                return None
            try:
                handoff: Handoff | None = Handoff.model_validate(row.payload)
            except ValueError:
                handoff = None
            escalations = await session.scalar(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.handoff_id == handoff_id,
                    AuditEntry.action == EventType.ESCALATED.value,
                )
            )
            invoice = await session.scalar(
                select(InvoiceRow)
                .where(InvoiceRow.handoff_id == handoff_id, InvoiceRow.superseded_at.is_(None))
                .order_by(InvoiceRow.id.desc())
                .limit(1)
            )
            known = await external_refs.find(session, handoff_id, NAME, "row")
        snap = Snapshot(
            handoff_id=row.id,
            call_id=row.call_id,
            received_at=row.created_at,
            workflow=row.workflow,
            customer=_customer(handoff, row),
            amount=row.amount,
            currency=row.currency,
            flags=tuple(row.review_flags or ()),
            needs_mapping=row.needs_mapping,
            status=row.status,
            owner=row.owner,
            escalated=bool(escalations),
            payment_state=invoice.payment_state if invoice is not None else None,
            channel=row.channel,
            message_ts=row.message_ts,
        )
        return snap, known is not None


def build(deps: ConnectorDeps) -> GoogleSheetsConnector:
    """The connector from ``ConnectorDeps`` (on when the spreadsheet and the key are set)."""
    settings = deps.settings
    auth = shared_auth(settings, deps.http, deps.clock)
    client = SheetsClient(
        settings, str(settings.google_sheets_spreadsheet_id), auth=auth, http=deps.http
    )
    return GoogleSheetsConnector(
        db=deps.db,
        client=client,
        tab=settings.google_sheets_tab,
        permalink=deps.permalink,
    )
