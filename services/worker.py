"""The outbox worker: claims due work and hands each item to the handler of its kind.

Handlers are registered once at start-up, one per ``OutboxKind`` (the Slack adapter posts
handoffs, digests and thread notes; the invoice work creates and looks up invoices; reminders send
nudges; the connector runtime runs connectors). A handler that raises is retried with backoff; an
item of a kind nobody handles is given up at once.

Some work must keep an order and a pace (one Slack channel's posts): a ``Lanes`` object says which
lane an item runs in and how many of a lane's items one pass may run. A lane's items run one after
another, lanes and lane-less items side by side; what a pass may not run is given back unstarted.

Connector items (``BACKGROUND_KINDS``) may wait for a vendor's pace (HubSpot's search: 4 a
second), so ``run_forever`` runs them beside the passes, at most ``BACKGROUND_MAX`` at once,
instead of making a pass (and the Slack posts in it) wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Protocol

from services.events import OutboxKind
from services.outbox import ClaimedItem, Outbox
from services.workspaces import in_team

__all__ = [
    "BACKGROUND_KINDS",
    "BACKGROUND_MAX",
    "LANE_SECONDS",
    "Handler",
    "Lanes",
    "Worker",
    "backoff",
]

logger = logging.getLogger(__name__)

Handler = Callable[[ClaimedItem], Awaitable[None]]
LANE_SECONDS = 10.0  # the most one pass spends on one lane (other work waits for it)
BACKGROUND_KINDS = frozenset({OutboxKind.CONNECTOR.value})
# Connector items running beside the passes at once. Most of an item's time is a vendor's answer
# or pace (HubSpot's search slot, 300 ms answers), and its writes are one short transaction, so
# 8 left HubSpot's searches waiting behind Stripe reads (and the reverse) in a burst.
BACKGROUND_MAX = 32


def backoff(attempts: int) -> timedelta:
    """How long a failed item waits before its next try (1 s, doubling, at most 5 min)."""
    return timedelta(seconds=min(300, 2 ** max(0, attempts - 1)))


class Lanes(Protocol):
    """Which claimed items must run in order and at a pace, and how many per pass."""

    async def assign(self, items: Sequence[ClaimedItem]) -> Mapping[int, str]:
        """The lane of each item (by item id) that has one; the others run freely."""
        ...

    def room(self, lane: str, window: float) -> int:
        """How many of ``lane``'s items may run within ``window`` seconds (at least 1)."""
        ...


class Worker:
    """Claims and runs outbox items until cancelled."""

    def __init__(
        self,
        outbox: Outbox,
        handlers: Mapping[OutboxKind, Handler] | None = None,
        *,
        lanes: Lanes | None = None,
        poll_seconds: float = 1.0,
        team_of: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        self.outbox = outbox
        # Several Slack workspaces: the team of an item's handoff, which its handler runs in.
        self.team_of = team_of
        self.lanes = lanes
        self.poll_seconds = poll_seconds
        self._handlers: dict[OutboxKind, Handler] = dict(handlers or {})
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    def register(self, kind: OutboxKind, handler: Handler) -> None:
        """Name the handler of one kind of work (at start-up, before the worker runs)."""
        self._handlers[OutboxKind(kind)] = handler

    @property
    def handlers(self) -> Mapping[OutboxKind, Handler]:
        return dict(self._handlers)

    def stop(self) -> None:
        """Let ``run_forever`` return once the pass under way is finished (shut-down)."""
        self._stopping.set()
        self.outbox.wake.set()

    async def run_forever(self) -> None:
        """Claim and run due items until stopped or cancelled (connector items beside the
        passes)."""
        try:
            await self._run_forever()
            # Stopped: the connector items under way finish too (a task cancelled in the middle
            # of a SQLite query can leave aiosqlite's close waiting forever).
            if self._background:
                await asyncio.wait(list(self._background))
        finally:
            tasks = [task for task in self._background if not task.done()]
            for task in tasks:
                task.cancel()
            # A cancelled connector item keeps its lease and runs again once it expires.
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = await self.run_once(background=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
                worked = 0
            if not worked and not self._stopping.is_set():
                self.outbox.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outbox.wake.wait(), timeout=self.poll_seconds)

    async def run_once(self, limit: int = 50, *, background: bool = False) -> int:
        """Run every due item once (a lane's items in order, lanes side by side); with
        ``background``, connector items are started beside this pass and not waited for."""
        started = 0
        if background:
            started = await self._start_background()
            items = await self.outbox.claim(limit, exclude=BACKGROUND_KINDS)
        else:
            items = await self.outbox.claim(limit)
        if not items:
            return started
        assigned = await self.lanes.assign(items) if self.lanes is not None else {}
        by_lane: dict[str, list[ClaimedItem]] = defaultdict(list)
        others: list[ClaimedItem] = []
        for item in items:
            name = assigned.get(item.id)
            if name is None:
                others.append(item)
            else:
                by_lane[name].append(item)

        # One pass runs what a lane's pace allows well inside the lease (so no other process
        # takes those items up meanwhile) and gives the rest back, attempts uncounted.
        window = min(LANE_SECONDS, self.outbox.lease.total_seconds() / 3)

        async def lane(name: str, batch: list[ClaimedItem]) -> None:
            assert self.lanes is not None
            room = max(1, self.lanes.room(name, window))
            for claimed in batch[room:]:
                await self.outbox.release(claimed.id)
            for claimed in batch[:room]:
                await self.run(claimed)

        # return_exceptions: without it the first child to fail or be cancelled ends the gather
        # while its siblings run on, orphaned (at shut-down: past the database's disposal).
        outcomes = await asyncio.gather(
            *(lane(n, b) for n, b in by_lane.items()),
            *(self.run(i) for i in others),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(items)

    async def _start_background(self) -> int:
        """Claim and start the connector items there is room for; returns how many."""
        room = BACKGROUND_MAX - len(self._background)
        if room <= 0:
            return 0
        items = await self.outbox.claim(room, kind=OutboxKind.CONNECTOR)
        for item in items:
            task = asyncio.create_task(self.run(item))
            self._background.add(task)
            task.add_done_callback(self._finished)
        return len(items)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        self.outbox.wake.set()  # room for the next connector items

    async def run(self, item: ClaimedItem) -> None:
        """Run one claimed item; a failure is retried later with backoff."""
        handler = self._handler(item.kind)
        if handler is None:
            await self.outbox.give_up(item.id, f"unknown outbox kind {item.kind!r}")
            return
        try:
            team = None
            if self.team_of is not None and item.handoff_id is not None:
                team = await self.team_of(item.handoff_id)
            with in_team(team):
                await handler(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception(
                "outbox item failed", extra={"kind": item.kind, "handoff_id": item.handoff_id}
            )
            await self.outbox.retry_later(
                item.id, f"{exc.__class__.__name__}: {exc}", backoff(item.attempts)
            )

    def _handler(self, kind: str) -> Handler | None:
        try:
            return self._handlers.get(OutboxKind(kind))
        except ValueError:
            return None
