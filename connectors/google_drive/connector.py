"""The Drive connector: every invoice, receipt and credit note as a PDF in the customer's folder.

- ``invoice_created`` -> the invoice PDF, ``paid`` -> the receipt PDF, the final ``approved`` of a
  credit request -> the credit note PDF, of a receipt resend -> the receipt PDF (the one emailed)
  of the payment that already happened (``connectors.google_drive.paid``: the bot's paid invoice,
  the handoff's billing amount, or the customer's completed Plisio invoice).
- The customer's subfolder under ``GOOGLE_DRIVE_FOLDER_ID`` is found by name (``files.list``) or
  created once; its id is kept in ``external_refs`` (kind ``folder``).
- Each document is uploaded once, with ``appProperties`` ``{call_id, document}``; every try first
  searches for a file with those ``appProperties``, so an upload whose answer was lost (a 5xx
  after Drive stored it, a crash) is found instead of uploaded again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.base import ConnectorContext, Done, Link, Result
from connectors.google import GoogleAuth
from connectors.google.errors import GoogleError, result
from connectors.google_drive.client import FOLDER_MIME, DriveClient, DriveFile, quote
from connectors.google_drive.paid import InvoicesByEmail, paid_for_receipt, plisio_result
from connectors.google_drive.source import Source, company, customer_folder_name, load
from connectors.plisio.errors import PlisioError
from services import external_refs
from services.db.engine import Database
from services.documents import Document, DocumentKind, receipt, render_pdf
from services.events import Event, EventType
from services.handoff_model import Workflow

if TYPE_CHECKING:
    from bot.settings import Settings
    from connectors.registry import ConnectorDeps

__all__ = ["DriveConnector", "document_kind", "drive_connector", "pdf_name"]

NAME = "google_drive"
FOLDER_URL = "https://drive.google.com/drive/folders/{id}"


def document_kind(event: Event, workflow: str) -> DocumentKind | None:
    """Which document ``event`` calls for, if any."""
    if event.type is EventType.INVOICE_CREATED:
        return DocumentKind.INVOICE
    if event.type is EventType.PAID:
        return DocumentKind.RECEIPT
    if event.type is not EventType.APPROVED:
        return None
    final = int(event.detail.get("approval") or 1) >= int(event.detail.get("of") or 1)
    if final and workflow == Workflow.CREDIT_REQUEST.value:
        return DocumentKind.CREDIT_NOTE
    if final and workflow == Workflow.RECEIPT_RESEND.value:
        return DocumentKind.RECEIPT  # the receipt being resent is kept in Drive as well
    return None


def pdf_name(kind: DocumentKind, call_id: str) -> str:
    return f"{kind.heading} {call_id}.pdf"


def documents_query(call_id: str, kind: DocumentKind) -> str:
    """The ``q`` finding this call's document of ``kind`` (what an earlier try uploaded)."""
    return (
        f"appProperties has {{ key='call_id' and value={quote(call_id)} }} and "
        f"appProperties has {{ key='document' and value={quote(kind.value)} }} and trashed = false"
    )


class DriveConnector:
    name = NAME
    handles = frozenset({EventType.INVOICE_CREATED, EventType.PAID, EventType.APPROVED})

    def __init__(
        self,
        client: DriveClient,
        db: Database,
        root_folder: str,
        settings: Settings,
        clock: Callable[[], datetime],
        lookup: InvoicesByEmail | None = None,
    ) -> None:
        self._client = client
        self._db = db
        self._root = root_folder
        self._settings = settings
        self._clock = clock
        self._lookup = lookup  # the customer's Plisio invoices (receipt resends)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        source = await load(self._db, event.handoff_id)
        if source is None:
            return Done()
        kind = document_kind(event, source.workflow)
        if kind is None:
            return Done()
        document: Document | None
        if event.type is EventType.APPROVED and kind is DocumentKind.RECEIPT:
            # A resend: the receipt of what was already paid, never of an unpaid invoice.
            try:
                paid = await paid_for_receipt(source, self._lookup)
            except PlisioError as error:
                return plisio_result(error)
            if paid.facts is None:
                return Done(note=f"no receipt to store: {paid.missing}")
            document = receipt(source.handoff, paid.facts, company(self._settings), event.at.date())
        else:
            document = source.document(kind, company(self._settings), event.at.date())
        if document is None:
            return Done(note=f"no amount and currency: no {kind.heading.lower()} to render")
        try:
            found = await self._client.list(documents_query(source.call_id, kind))
            if found:
                stored = found[0]
            else:
                folder = await self._folder(source)
                stored = await self._client.upload(
                    pdf_name(kind, source.call_id),
                    folder,
                    render_pdf(document),
                    "application/pdf",
                    {"call_id": source.call_id, "document": kind.value},
                )
        except GoogleError as error:
            return result(error)
        return self._done(source, kind, stored)

    async def _folder(self, source: Source) -> str:
        """The customer's folder id: kept from before, found by name, or created once."""
        async with self._db.sessions() as session:
            known = await external_refs.find(session, source.handoff_id, NAME, "folder")
        if known is not None:
            return known.external_id
        name = customer_folder_name(source.handoff)
        q = (
            f"name = {quote(name)} and {quote(self._root)} in parents and "
            f"mimeType = {quote(FOLDER_MIME)} and trashed = false"
        )
        found = await self._client.list(q)
        folder = found[0] if found else await self._client.create_folder(name, self._root)
        async with self._db.sessions() as session, session.begin():
            await external_refs.record(
                session,
                handoff_id=source.handoff_id,
                system=NAME,
                kind="folder",
                external_id=folder.id,
                url=folder.web_view_link or FOLDER_URL.format(id=folder.id),
                now=self._clock(),
                detail={"name": name},
            )
        return folder.id

    def _done(self, source: Source, kind: DocumentKind, stored: DriveFile) -> Done:
        label = f"{kind.heading.lower()} PDF"
        earlier = source.context.get(NAME) or {}
        lines = [line for line in earlier.get("lines", []) if isinstance(line, str)]
        line = f"{kind.heading} PDF: {stored.name}"
        if line not in lines:
            lines.append(line)
        learned = {"label": "Drive documents", "lines": lines}
        if earlier.get("url"):
            learned["url"] = earlier["url"]
        elif stored.web_view_link:
            learned["url"] = stored.web_view_link
        return Done(
            context=learned,
            links=(
                Link(
                    kind=kind.value,
                    external_id=stored.id,
                    url=stored.web_view_link,
                    label=label,
                    detail={"name": stored.name},
                ),
            ),
        )


def drive_connector(deps: ConnectorDeps) -> DriveConnector:
    """The factory named in ``connectors.registry.SPECS``."""
    folder = deps.settings.google_drive_folder_id
    assert folder is not None  # the spec is on only with it
    auth = GoogleAuth(deps.settings, deps.http, deps.clock)
    client = DriveClient(deps.settings, auth, http=deps.http)
    return DriveConnector(
        client, deps.db, folder, deps.settings, deps.clock, lookup=deps.invoice_lookup
    )
