"""Pacing and batching of the exception sheet's writes (Sheets allows ~60 writes/min per user).

Every connector call hands its row to the one ``SheetWriter`` of the process and waits. The writer
runs one flush at a time: while it waits for its next write slot (``Pacer``: at most one write
per ``interval``), rows pile up; a flush then reads column A once (which row holds which call
ID: the truth, even after someone sorted the sheet or a try was cut off after its append), writes
every row that exists in one ``values:batchUpdate``, and appends every new one in one ``append``
(with the header first when the tab is empty). Two rows for one call ID in a batch are one row:
the newest cells win. The first caller with nothing running leads the flushes in its own task.
A 429 holds the pacer back for the Retry-After before anyone writes again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from connectors.google.errors import QUOTA_RETRY, GoogleAPIError, GoogleError
from connectors.google_sheets.client import SheetsClient, a1, first_row
from connectors.google_sheets.rows import HEADER, LAST_COLUMN

__all__ = ["WRITE_INTERVAL", "Pacer", "SheetWriter"]

WRITE_INTERVAL = 1.02  # seconds between writes: 60/min with a little room for clock skew


class Pacer:
    """At most one write per ``interval`` seconds, shared by every caller in the process."""

    def __init__(
        self,
        interval: float = WRITE_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()
        self.writes = 0

    async def ready(self) -> None:
        """Wait until a write may go (without taking the slot)."""
        delay = self._next - self._clock()
        if delay > 0:
            await self._sleep(delay)

    async def take(self) -> None:
        """Wait for the next write slot and take it."""
        async with self._lock:
            await self.ready()
            self._next = self._clock() + self.interval
            self.writes += 1

    def hold(self, seconds: float) -> None:
        """No write for ``seconds`` (a quota error's Retry-After)."""
        self._next = max(self._next, self._clock() + seconds)


@dataclass
class _Pending:
    cells: list[str]
    create: bool
    waiters: list[asyncio.Future[int | None]] = field(default_factory=list)


class SheetWriter:
    """Writes exception rows, one row per call ID, paced and batched."""

    def __init__(self, client: SheetsClient, tab: str, pacer: Pacer | None = None) -> None:
        self._client = client
        self.tab = tab
        self.pacer = pacer or Pacer()
        self._pending: dict[str, _Pending] = {}
        self._leading = False
        self.flushes = 0

    async def put(self, call_id: str, cells: Sequence[str], *, create: bool) -> int | None:
        """Write the row of ``call_id`` (appended when the tab has none and ``create``);
        returns its row number, or None when there is no row and ``create`` is False.

        Raises ``GoogleError`` when the write failed (nothing certain happened).
        """
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        pending = self._pending.get(call_id)
        if pending is None:
            self._pending[call_id] = _Pending(list(cells), create, [future])
        else:  # the newest cells win; one row either way
            pending.cells = list(cells)
            pending.create = pending.create or create
            pending.waiters.append(future)
        if self._leading:
            return await future
        # No flush is running: this caller runs them, in its own task (no task outlives the
        # outbox worker that called), until nothing is pending.
        self._leading = True
        try:
            await self._run()
        finally:
            self._leading = False
        return await future

    async def _run(self) -> None:
        while self._pending:
            try:
                await self.pacer.ready()  # rows pile up meanwhile: one batch per write slot
            except asyncio.CancelledError:
                self._fail(list(self._pending.values()), None)
                self._pending = {}
                raise
            batch, self._pending = self._pending, {}
            self.flushes += 1
            try:
                await self._flush(batch)
            except asyncio.CancelledError:
                # Cut off: the others find out now and try again (the column read first).
                self._fail([*batch.values(), *self._pending.values()], None)
                self._pending = {}
                raise
            except Exception as exc:  # handed to the callers: each answers its outbox item
                if isinstance(exc, GoogleAPIError) and exc.status == "RESOURCE_EXHAUSTED":
                    self.pacer.hold(min(exc.retry_after or QUOTA_RETRY, QUOTA_RETRY))
                self._fail(list(batch.values()), exc)

    @staticmethod
    def _fail(items: list[_Pending], exc: BaseException | None) -> None:
        """Fail every waiter of ``items`` with ``exc`` (None: the flush was cut off)."""
        error = exc or GoogleError("the sheet write was interrupted", retry_after=1.0)
        for item in items:
            for waiter in item.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
                    waiter.exception()  # retrieved here: a waiter cancelled meanwhile is fine

    @staticmethod
    def _settle(item: _Pending, row: int | None) -> None:
        for waiter in item.waiters:
            if not waiter.done():
                waiter.set_result(row)

    async def _flush(self, batch: dict[str, _Pending]) -> None:
        column = await self._client.column(self.tab)
        where: dict[str, int] = {}
        for number, value in enumerate(column, start=1):
            where.setdefault(value, number)
        empty = not any(column)
        updates = [(cid, item) for cid, item in batch.items() if cid in where]
        new = [(cid, item) for cid, item in batch.items() if cid not in where and item.create]
        for cid, item in batch.items():
            if cid not in where and not item.create:
                self._settle(item, None)
        if updates:
            data = [
                (a1(self.tab, f"A{where[cid]}:{LAST_COLUMN}{where[cid]}"), [item.cells])
                for cid, item in updates
            ]
            await self.pacer.take()
            await self._client.batch_update(data)  # a failure fails the whole batch
            for cid, item in updates:
                self._settle(item, where[cid])
        if new:
            rows = [list(HEADER)] if empty else []
            rows += [item.cells for _cid, item in new]
            await self.pacer.take()
            updated = await self._client.append(self.tab, rows)
            start = first_row(updated)
            if start is None:
                raise GoogleError(f"Google Sheets answered the append with {updated!r}")
            start += 1 if empty else 0
            for offset, (_cid, item) in enumerate(new):
                self._settle(item, start + offset)
