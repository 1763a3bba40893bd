"""A toy connector for tests: scripted answers, or one idempotent write to an HTTP double."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from connectors.base import ConnectorContext, Done, GiveUp, Result, RetryAfter
from services.events import Event, EventType, connector_key

__all__ = ["HttpToy", "ScriptedToy"]


@dataclass
class ScriptedToy:
    """Answers from a script, one per call (the last one repeats); records what it saw."""

    answers: list[Result | Exception]
    name: str = "toy"
    handles: frozenset[EventType] = frozenset({EventType.NOTE_ADDED})
    seen: list[tuple[str, int]] = field(default_factory=list)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        self.seen.append((event.key, context.attempt))
        answer = self.answers[min(len(self.seen), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class HttpToy:
    """Writes each event once to ``POST {base}/writes`` with ``Idempotency-Key`` = its outbox key.

    The double counts writes per key; a 5xx or a dropped connection is a retry.
    """

    base_url: str
    http: httpx.AsyncClient
    name: str = "toy"
    handles: frozenset[EventType] = frozenset({EventType.NOTE_ADDED})
    before_write: Callable[[Event], None] | None = None

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        key = connector_key(self.name, event.key)
        if context.attempt > 1:
            # An earlier try may have written: look before writing again.
            found = await self.http.get(f"{self.base_url}/writes/{key}")
            if found.status_code == 200:
                return Done()
        if self.before_write is not None:
            self.before_write(event)
        try:
            response = await self.http.post(
                f"{self.base_url}/writes",
                json={"event": event.key, "type": event.type.value},
                headers={"Idempotency-Key": key},
            )
        except httpx.TransportError as exc:
            return RetryAfter(1, f"connection failed: {exc.__class__.__name__}")
        if response.status_code >= 500:
            return RetryAfter(1, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            return GiveUp(f"the double refused the write: HTTP {response.status_code}")
        return Done()
