"""The connector interface: which events a connector handles, and its answer to each one.

A connector is handed one event at a time by the outbox worker (one outbox item per
(connector, event) pair, keyed ``{connector}:{event key}``) and answers:

- ``Done``: the external write happened (or was found to have happened already);
- ``RetryAfter``: nothing certain happened; try again after ``seconds`` (a 429's Retry-After,
  a 5xx, a dropped connection);
- ``GiveUp``: no retry will help (a 4xx, a missing permission); ``reason`` is recorded in the
  audit log as ``connector_failed`` and noted once in the handoff's thread.

``attempt`` above 1 means an earlier try may have written already: the connector looks up what it
wrote (``external_refs``, the vendor's idempotency key, or a search) before writing again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from services.events import Event, EventType

__all__ = [
    "Connector",
    "ConnectorContext",
    "Done",
    "GiveUp",
    "Link",
    "Result",
    "RetryAfter",
]


@dataclass(frozen=True, slots=True)
class Link:
    """An object a connector created or found for the handoff (a ticket, a customer, a row).

    The runtime keeps it in ``external_refs`` (system = the connector's name) and records one
    ``external_linked`` event per object and handoff, so the thread is told once, with the link.
    """

    kind: str  # "ticket", "customer", "invoice", "row", ...
    external_id: str
    url: str | None = None
    label: str | None = None  # how the thread note names it ("ticket #123"); else kind and id
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Done:
    """The event is handled.

    A connector returns what it learned or wrote as ``context`` (JSON-ready; suppressed again by
    the runtime): it is stored on the handoff under the connector's name, ``context_updated`` is
    recorded and the handoff's message is refreshed (its section for this system is drawn from
    it). ``links`` are the objects it created or found (see ``Link``).
    """

    note: str | None = None
    context: Mapping[str, Any] | None = None
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class RetryAfter:
    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


Result = Done | RetryAfter | GiveUp


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """What a connector gets besides the event: how many tries this is, and the time."""

    attempt: int  # 1 on the first try
    clock: Callable[[], datetime]


@runtime_checkable
class Connector(Protocol):
    """An external system the bot writes to or reads from, driven by domain events."""

    @property
    def name(self) -> str:
        """Short lower-case name: outbox keys, ``external_refs.system``, settings and logs."""
        ...

    @property
    def handles(self) -> frozenset[EventType]:
        """The event types this connector wants."""
        ...

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        """Carry out this connector's part of ``event`` exactly once."""
        ...
