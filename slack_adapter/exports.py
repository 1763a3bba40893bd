"""Uploads audit exports (outbox kind "export") to the requester's DM with ``files_upload_v2``.

The CSV is written to a temporary file page by page (``services.export``), then uploaded the
way Slack asks today: ``files.getUploadURLExternal``, the bytes to the URL it gives, then
``files.completeUploadExternal`` sharing it in the DM. The ``exported`` audit event is keyed by
the outbox item, so a retry after a recorded upload does not upload again; a retry after an
unclear failure first looks in the DM for the file (its title names the export) before uploading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import date, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from blocks.export import export_comment, export_failed_message
from services.db.engine import Database
from services.db.models import AuditEntry
from services.events import Event, EventLog, EventType
from services.export import AuditExport, ExportRange, RowCount, export_filename
from services.outbox import ClaimedItem, Outbox

__all__ = ["EXPORT_ATTEMPTS", "ExportUploads", "export_event_key"]

logger = logging.getLogger(__name__)

EXPORT_ATTEMPTS = 5  # then the requester is told it failed, and the item is given up
FILE_TITLE = "Audit trail {first} to {last} (export {item})"
HISTORY_LIMIT = 50  # how far back in the DM a retry looks for an upload that did arrive


def export_event_key(item_id: int) -> str:
    """The key of the ``exported`` event of one outbox item's upload."""
    return f"export-{item_id}"


class ExportUploads:
    """The outbox handler of ``OutboxKind.EXPORT``."""

    def __init__(
        self,
        *,
        db: Database,
        outbox: Outbox,
        slack: AsyncWebClient,
        events: EventLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._slack = slack
        self._events = events
        self._clock = clock
        self._export = AuditExport(db)

    async def deliver(self, item: ClaimedItem) -> None:
        """Build the CSV and upload it to the requester's DM, once."""
        user = str(item.payload["user"])
        span = ExportRange(
            date.fromisoformat(str(item.payload["from"])),
            date.fromisoformat(str(item.payload["to"])),
        )
        key = export_event_key(item.id)
        if item.attempts > 1 and await self._recorded(key):
            await self._outbox.complete(item.id)  # an earlier try uploaded it and said so
            return
        title = FILE_TITLE.format(
            first=span.first.isoformat(), last=span.last.isoformat(), item=item.id
        )
        try:
            rows = await self._upload(user, span, title, retry=item.attempts > 1)
        except asyncio.CancelledError:
            raise
        except Exception:
            if item.attempts < EXPORT_ATTEMPTS:
                raise
            logger.exception("could not upload an audit export", extra={"user": user})
            await self._tell_failed(user, span)
            await self._outbox.give_up(item.id, "the export could not be uploaded")
            return
        detail: dict[str, object] = {
            "via": str(item.payload.get("via") or "slack"),
            **span.describe(),
        }
        if rows >= 0:  # else an earlier try's upload was found in the DM: its count is unknown
            detail["rows"] = rows
        async with self._db.sessions() as session, session.begin():
            self._events.record(
                session, Event(EventType.EXPORTED, None, user, self._clock(), detail, key=key)
            )
        await self._outbox.complete(item.id)

    async def _recorded(self, key: str) -> bool:
        async with self._db.reads() as session:
            found = await session.scalar(select(AuditEntry.id).where(AuditEntry.key == key))
        return found is not None

    async def _upload(self, user: str, span: ExportRange, title: str, *, retry: bool) -> int:
        """Upload the CSV to ``user``'s DM and return its row count (-1: it was already there)."""
        opened = await self._slack.conversations_open(users=user)
        channel = opened["channel"]["id"]
        if retry and await self._already_shared(channel, title):
            return -1
        count = RowCount()
        handle, path = tempfile.mkstemp(prefix="audit-export-", suffix=".csv")
        try:
            with os.fdopen(handle, "wb") as out:
                async for chunk in self._export.csv_chunks(span, count):
                    out.write(chunk)
            await self._slack.files_upload_v2(
                channel=channel,
                file=path,
                filename=export_filename(span),
                title=title,
                initial_comment=export_comment(span, count.rows),
            )
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return count.rows

    async def _already_shared(self, channel: str, title: str) -> bool:
        history = await self._slack.conversations_history(channel=channel, limit=HISTORY_LIMIT)
        for message in history.get("messages") or []:
            if any(f.get("title") == title for f in message.get("files") or []):
                return True
        return False

    async def _tell_failed(self, user: str, span: ExportRange) -> None:
        message = export_failed_message(span)
        try:
            opened = await self._slack.conversations_open(users=user)
            await self._slack.chat_postMessage(
                channel=opened["channel"]["id"], text=message["text"], blocks=message["blocks"]
            )
        except SlackApiError:
            logger.exception("could not tell a user their export failed", extra={"user": user})
