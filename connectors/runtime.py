"""Runs one ``OutboxKind.CONNECTOR`` item: one connector's part of one event.

The outbox item (keyed ``{connector}:{event key}``) names the connector and the event; the event
is read back from the audit log, handed to the connector, and its answer decides the item:

- ``Done``: complete;
- ``RetryAfter``: try again after its seconds, until ``max_attempts`` tries, then give up;
- ``GiveUp``: stop, and record one ``connector_failed`` event (connector, event type, reason).

A connector that raises is retried with backoff like a ``RetryAfter``; an unknown connector is a
give-up with a clear reason. The lease of the outbox item keeps two processes from running one
item at once; a process that dies mid-item leaves it to run again with ``attempt`` above 1, and
the connector looks up what it may already have written before writing again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import (
    Connector,
    ConnectorContext,
    Done,
    GiveUp,
    Link,
    Result,
    RetryAfter,
)
from services import external_refs
from services.db.engine import Database
from services.db.models import AuditEntry, HandoffRow
from services.events import BOT, Event, EventLog, EventType, Subscriptions, connector_key
from services.outbox import ClaimedItem, Outbox
from services.redaction import redact_text
from services.systems import system_name
from services.telemetry import NO_TELEMETRY, Telemetry

__all__ = ["MAX_ATTEMPTS", "ConnectorRuntime", "backoff"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # tries of one (connector, event) pair before it is given up
MAX_DELAY = 3600.0  # seconds: the longest wait a RetryAfter may ask for
REASON_CHARS = 300
KEY_CHARS = 64  # audit_log.key
AS_OF = "as_of_event"  # in a connector's stored context: the audit id of the event it answered


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` tries: 2, 4, 8, ... up to 5 minutes."""
    return float(min(300, 2 ** max(1, attempts)))


def _clean(value: Any) -> Any:
    """``value`` with every string suppressed (card numbers, bank details, tax ids)."""
    if isinstance(value, str):
        return redact_text(value).text
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _reason(text: str) -> str:
    """A failure reason fit for the audit log and Slack: suppressed and short."""
    return redact_text(text).text[:REASON_CHARS]


class ConnectorRuntime:
    """Hands connector outbox items to their connectors and records what they answered."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        connectors: Iterable[Connector],
        clock: Callable[[], datetime],
        event_log: EventLog,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        context_policy: Callable[[HandoffRow, datetime], object] | None = None,
        on_context: Callable[[AsyncSession, HandoffRow, str, datetime], Awaitable[object]]
        | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._db = db
        self._telemetry = telemetry  # retries and give-ups, by connector (GET /metrics)
        self._outbox = outbox
        self._clock = clock
        self._events = event_log
        self._max_attempts = max_attempts
        # Review reasons and urgency from the stored context (services/context_policy.py).
        self._context_policy = context_policy
        # Decisions the stored context may take, in its transaction (the refund policy:
        # services/refunds/service.py).
        self._on_context = on_context
        self.connectors: dict[str, Connector] = {c.name: c for c in connectors}
        self._watchers: list[Callable[[str], Awaitable[object]]] = []

    def watch(self, changed: Callable[[str], Awaitable[object]]) -> None:
        """Call ``changed(handoff_id)`` after a connector changed what a handoff shows (the Slack
        adapter refreshes the message); a failing watcher is logged, never retried here."""
        self._watchers.append(changed)

    def subscriptions(self) -> Subscriptions:
        """Which event types each connector that is on handles (for ``EventLog``)."""
        return Subscriptions({name: c.handles for name, c in self.connectors.items()})

    async def run(self, item: ClaimedItem) -> None:
        """Run one ``OutboxKind.CONNECTOR`` item (payload ``{connector, event}``)."""
        name = str(item.payload.get("connector", ""))
        event_key = str(item.payload.get("event", ""))
        connector = self.connectors.get(name)
        if connector is None:
            await self._give_up(item, name, None, f"no connector named {name!r} is on")
            return
        event = await self._event(event_key)
        if event is None:
            await self._give_up(item, name, None, f"event {event_key!r} is not in the audit log")
            return
        context = ConnectorContext(attempt=item.attempts, clock=self._clock)
        try:
            result: Result = await connector.handle(event, context)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Logged without the event's detail: it may hold what suppression keeps out of logs.
            logger.exception(
                "connector raised",
                extra={"connector": name, "event": event.type.value, "attempt": item.attempts},
            )
            result = RetryAfter(backoff(item.attempts), f"{exc.__class__.__name__}: {exc}")
        if isinstance(result, Done):
            changed = False
            if result.context is None and event.handoff_id is not None:
                changed |= await self._clear_failure(name, event.handoff_id)
            if event.handoff_id is not None and (result.links or result.context is not None):
                # One short write transaction for the links and the context: the outbox posts
                # share SQLite's one write lock with every connector item.
                changed |= await self._store(name, event, result.links, result.context)
            # The message is refreshed before the item completes: while it shows the old state,
            # the work is still queued (a restart redoes it; nothing that waits for an empty
            # queue reads a message about to change).
            if changed and event.handoff_id is not None:
                await self._tell_watchers(event.handoff_id)
            await self._outbox.complete(item.id)
        elif isinstance(result, RetryAfter):
            if item.attempts >= self._max_attempts:
                reason = f"gave up after {item.attempts} tries: {result.reason}"
                await self._give_up(item, name, event, reason)
            else:
                delay = timedelta(seconds=min(MAX_DELAY, max(0.0, result.seconds)))
                await self._outbox.retry_later(item.id, _reason(result.reason), delay)
                self._telemetry.connector_retried(name)
        elif isinstance(result, GiveUp):
            await self._give_up(item, name, event, result.reason)
        else:  # a connector answered something else: a bug, shown rather than retried
            await self._give_up(item, name, event, f"unexpected answer {result!r}")

    async def _store(
        self,
        connector: str,
        event: Event,
        links: tuple[Link, ...],
        learned: Mapping[str, Any] | None,
    ) -> bool:
        """Links and context of one ``Done`` in one transaction; says if the handoff changed.
        Suppression runs before the transaction opens (the write lock is held for writes only).
        """
        clean = None if learned is None else {k: _clean(v) for k, v in learned.items()}
        cleaned = [(link, _clean(dict(link.detail))) for link in links]
        async with self._db.sessions() as session, session.begin():
            new = await self._store_links(session, connector, event, cleaned) if links else False
            if clean is not None:
                await self._store_context(session, connector, event, clean)
        return new or clean is not None

    async def _store_context(
        self, session: AsyncSession, connector: str, event: Event, clean: dict[str, Any]
    ) -> None:
        """Keep what a read-side connector learned on the handoff, and say so once per event."""
        key = f"context:{connector_key(connector, event.key)}"[:KEY_CHARS]
        row = await session.get(HandoffRow, event.handoff_id, with_for_update=True)
        if row is None:
            return
        # Two answers of one connector can finish out of order (items run side by side, a retry
        # comes late): what a newer event's answer says is never replaced by an older one's.
        order = await session.scalar(select(AuditEntry.id).where(AuditEntry.key == event.key))
        stored = (row.context or {}).get(connector)
        shown = stored.get(AS_OF) if isinstance(stored, dict) else None
        if order is not None and isinstance(shown, int) and shown > order:
            return
        # Suppressed again (by the caller): a vendor's answer is outside input like a handoff.
        row.context = {**(row.context or {}), connector: {**clean, AS_OF: order}}
        if self._context_policy is not None:
            self._context_policy(row, self._clock())
        if self._on_context is not None:
            await self._on_context(session, row, connector, self._clock())
        row.updated_at = self._clock()
        row.version += 1
        seen = await session.scalar(select(AuditEntry.id).where(AuditEntry.key == key))
        if seen is None:
            self._events.record(
                session,
                Event(
                    type=EventType.CONTEXT_UPDATED,
                    handoff_id=event.handoff_id,
                    actor=BOT,
                    at=self._clock(),
                    detail={"connector": connector, "event": event.type.value},
                    key=key,
                ),
            )

    async def _store_links(
        self,
        session: AsyncSession,
        connector: str,
        event: Event,
        links: list[tuple[Link, dict[str, Any]]],
    ) -> bool:
        """Keep each object in ``external_refs`` and tell the thread once per object; says if
        any object is new to this handoff."""
        now = self._clock()
        new = False
        if await session.get(HandoffRow, event.handoff_id) is None:
            return False  # the handoff is gone (a sandbox reset): nothing to link it to
        for link, detail in links:
            await external_refs.record(
                session,
                handoff_id=event.handoff_id,
                system=connector,
                kind=link.kind,
                external_id=link.external_id,
                url=link.url,
                now=now,
                detail=detail,
            )
            digest = hashlib.sha1(  # noqa: S324 - a key, not a secret
                "\x1f".join(
                    (connector, link.kind, link.external_id, event.handoff_id or "")
                ).encode()
            ).hexdigest()
            key = f"linked:{digest}"
            seen = await session.scalar(select(AuditEntry.id).where(AuditEntry.key == key))
            if seen is not None:
                continue
            new = True
            self._events.record(
                session,
                Event(
                    type=EventType.EXTERNAL_LINKED,
                    handoff_id=event.handoff_id,
                    actor=BOT,
                    at=now,
                    detail={
                        "connector": connector,
                        "kind": link.kind,
                        "id": link.external_id,
                        "url": link.url,
                        "label": _reason(link.label) if link.label else None,
                    },
                    key=key,
                ),
            )
        return new

    async def _clear_failure(self, connector: str, handoff_id: str) -> bool:
        """Drop an earlier give-up's ``error`` once the connector succeeds; says if it did."""
        async with self._db.sessions() as session, session.begin():
            row = await session.get(HandoffRow, handoff_id, with_for_update=True)
            entry = (row.context or {}).get(connector) if row is not None else None
            if row is None or not isinstance(entry, dict) or "error" not in entry:
                return False
            kept = {k: v for k, v in entry.items() if k != "error"}
            context = {k: v for k, v in (row.context or {}).items() if k != connector}
            row.context = {**context, connector: kept} if kept else context
            row.updated_at = self._clock()
            row.version += 1
        return True

    async def _tell_watchers(self, handoff_id: str) -> None:
        for changed in self._watchers:
            try:
                await changed(handoff_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("could not refresh after a connector's change", exc_info=True)

    async def _event(self, key: str) -> Event | None:
        if not key:
            return None
        async with self._db.reads() as session:
            entry = await session.scalar(select(AuditEntry).where(AuditEntry.key == key))
        return None if entry is None else Event.from_row(entry)

    async def _give_up(
        self, item: ClaimedItem, connector: str, event: Event | None, reason: str
    ) -> None:
        """Stop the item, and record ``connector_failed`` once (its key is the item's)."""
        reason = _reason(reason)
        # The label stays bounded: a name no connector has (a stale item) counts as "unknown".
        self._telemetry.connector_failed(connector if connector in self.connectors else "unknown")
        failed_key = f"connector_failed:{connector_key(connector, event.key if event else '')}"
        if len(failed_key) > KEY_CHARS:
            failed_key = f"connector_failed:outbox-{item.id}"
        logger.warning(
            "connector gave up",
            extra={
                "connector": connector,
                "event": event.type.value if event else None,
                "reason": reason,
            },
        )
        async with self._db.sessions() as session, session.begin():
            seen = await session.scalar(select(AuditEntry.id).where(AuditEntry.key == failed_key))
            if seen is None:
                self._events.record(
                    session,
                    Event(
                        type=EventType.CONNECTOR_FAILED,
                        handoff_id=item.handoff_id,
                        actor=BOT,
                        at=self._clock(),
                        detail={
                            "connector": connector,
                            "event": event.type.value if event else None,
                            "reason": reason,
                        },
                        key=failed_key,
                    ),
                )
        if item.handoff_id is not None:
            await self._store_failure(connector, item.handoff_id, reason)
        if item.handoff_id is not None:
            await self._tell_watchers(item.handoff_id)
        await self._outbox.give_up(item.id, reason)

    async def _store_failure(self, connector: str, handoff_id: str, reason: str) -> None:
        """Show the failure on the message: ``error`` in this system's context entry (what it
        learned before stays; its next ``Done`` clears it)."""
        async with self._db.sessions() as session, session.begin():
            row = await session.get(HandoffRow, handoff_id, with_for_update=True)
            if row is None:
                return
            entry = dict((row.context or {}).get(connector) or {})
            entry["error"] = f"{system_name(connector)} gave up: {reason}"
            row.context = {**(row.context or {}), connector: entry}
            row.updated_at = self._clock()
            row.version += 1
