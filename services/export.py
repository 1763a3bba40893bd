"""The audit export: handoffs received in a date range with their whole audit trail, as CSV.

One CSV row per audit entry, the handoff's columns repeated on each; a handoff without entries
still gets one row. Only what is stored is read, and everything stored is already suppressed
(card numbers, IBANs ... are markers), so nothing is re-hydrated here. Cells that a spreadsheet
would run as a formula are neutralised. Rows are read page by page (keyset pagination) and
written as they come, so a large export never sits in memory.

Errors: ``ExportRangeError`` names the field (``from`` or ``to``) that is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow
from services.events import OutboxKind
from services.outbox import Outbox

__all__ = [
    "DEFAULT_DAYS",
    "HEADER",
    "MAX_DAYS",
    "AuditExport",
    "ExportRange",
    "ExportRangeError",
    "ExportRequests",
    "RowCount",
    "export_filename",
    "neutralise",
    "parse_range",
]

DEFAULT_DAYS = 30  # no dates: the last 30 days, today included
MAX_DAYS = 3660  # ten years: a typo in the year is refused rather than read for minutes
CHUNK_SIZE = 64 * 1024  # bytes of CSV handed on at once
PAGE_SIZE = 200  # handoffs read per query (their audit entries come in one more query)
HEADER = (
    "call_id",
    "workflow",
    "customer",
    "amount",
    "currency",
    "status",
    "owner",
    "received_at",
    "entry_at",
    "actor",
    "action",
    "detail",
)
# What a spreadsheet reads as the start of a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "YYYY-MM-DD"


class ExportRangeError(ValueError):
    """A date the export cannot use; ``field`` is ``from`` or ``to``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ExportRange:
    """Days ``first`` to ``last``, both included (UTC)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the range (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    def describe(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _day(field: str, text: str) -> date:
    try:
        if len(text) != len(DATE_FORMAT):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ExportRangeError(field, f"'{text[:40]}' is not a date like {DATE_FORMAT}") from None


def parse_range(first: str | None, last: str | None, *, today: date) -> ExportRange:
    """The range asked for: ``from`` and ``to`` (``YYYY-MM-DD``, both optional, ``to``
    included); by default the last ``DEFAULT_DAYS`` days up to today."""
    end = _day("to", last.strip()) if last and last.strip() else today
    if first and first.strip():
        start = _day("from", first.strip())
    else:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ExportRangeError("from", f"{start.isoformat()} is after to ({end.isoformat()})")
    if (end - start).days >= MAX_DAYS:
        raise ExportRangeError("from", f"the range may span at most {MAX_DAYS} days")
    return ExportRange(start, end)


def export_filename(span: ExportRange) -> str:
    """The CSV's file name."""
    return f"audit-trail-{span.first.isoformat()}-to-{span.last.isoformat()}.csv"


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: formula starts get a leading apostrophe."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _customer(row: HandoffRow) -> str:
    customer = (row.payload or {}).get("customer") or {}
    if not isinstance(customer, dict):
        return row.customer_email or ""
    for key in ("name", "email", "account_id"):
        value = customer.get(key)
        if value:
            return str(value)
    return row.customer_email or ""


def _handoff_cells(row: HandoffRow) -> list[str]:
    return [
        row.call_id,
        row.workflow,
        _customer(row),
        "" if row.amount is None else str(row.amount),
        row.currency or "",
        row.status,
        row.owner_slack_id or row.owner or "",
        _when(row.created_at),
    ]


def _entry_cells(entry: AuditEntry | None) -> list[str]:
    if entry is None:
        return ["", "", "", ""]
    detail = json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True, default=str)
    return [_when(entry.at), entry.actor, entry.action, detail]


@dataclass(slots=True)
class RowCount:
    """How many CSV rows (header excluded) an export has written so far."""

    rows: int = 0


class AuditExport:
    """Reads the export from the database, a page at a time."""

    def __init__(self, db: Database, *, page_size: int = PAGE_SIZE) -> None:
        self._db = db
        self._page_size = page_size

    async def rows(self, span: ExportRange) -> AsyncIterator[list[str]]:
        """Each CSV row (header excluded), handoffs oldest first, entries in order."""
        after: tuple[datetime, str] | None = None
        while True:
            handoffs, entries = await self._page(span, after)
            for handoff in handoffs:
                trail: Sequence[AuditEntry | None] = entries.get(handoff.id) or [None]
                cells = _handoff_cells(handoff)
                for entry in trail:
                    yield [neutralise(c) for c in (*cells, *_entry_cells(entry))]
            if len(handoffs) < self._page_size:
                return
            last = handoffs[-1]
            after = (last.created_at, last.id)

    async def _page(
        self, span: ExportRange, after: tuple[datetime, str] | None
    ) -> tuple[list[HandoffRow], dict[str, list[AuditEntry | None]]]:
        query = select(HandoffRow).where(
            HandoffRow.created_at >= span.start, HandoffRow.created_at < span.end
        )
        if after is not None:
            at, handoff_id = after
            query = query.where(
                or_(
                    HandoffRow.created_at > at,
                    and_(HandoffRow.created_at == at, HandoffRow.id > handoff_id),
                )
            )
        query = query.order_by(HandoffRow.created_at, HandoffRow.id).limit(self._page_size)
        async with self._db.reads() as session:
            handoffs = list((await session.scalars(query)).all())
            entries: dict[str, list[AuditEntry | None]] = {}
            if handoffs:
                found = await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.handoff_id.in_([h.id for h in handoffs]))
                    .order_by(AuditEntry.at, AuditEntry.id)
                )
                for entry in found:
                    assert entry.handoff_id is not None
                    entries.setdefault(entry.handoff_id, []).append(entry)
            # Detached for reading after the session closes (expire_on_commit is off).
            session.expunge_all()
        return handoffs, entries

    async def csv_chunks(
        self, span: ExportRange, count: RowCount | None = None
    ) -> AsyncIterator[bytes]:
        """The CSV as UTF-8 byte chunks, header first; ``count`` ends holding the row count."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(HEADER)
        async for row in self.rows(span):
            writer.writerow(row)
            if count is not None:
                count.rows += 1
            if buffer.tell() >= CHUNK_SIZE:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()


class ExportRequests:
    """Queues an export for the outbox (``OutboxKind.EXPORT``): built and uploaded in the
    background, once per request however often Slack delivers it."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def request(self, user: str, span: ExportRange, *, via: str, key: str) -> bool:
        """Queue ``user``'s export of ``span``; False when ``key`` was queued already."""
        try:
            async with self._db.sessions() as session, session.begin():
                Outbox.enqueue(
                    session,
                    kind=OutboxKind.EXPORT,
                    key=f"export:{key}"[:200],
                    handoff_id=None,
                    now=self._clock(),
                    payload={"user": user, "via": via, **span.describe()},
                )
        except IntegrityError:
            return False
        return True
