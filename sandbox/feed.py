"""Live updates for the sandbox page: a change counter and a server-sent-events stream."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

__all__ = ["ChangeFeed"]

KEEPALIVE_SECONDS = 15.0


class ChangeFeed:
    """Counts changes to the sandbox's state and tells every open page about them."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Event()
        self._closed = False

    def bump(self, _event: Any = None) -> None:
        """Record a change (usable directly as a workspace ``on_change`` listener)."""
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def close(self, _app: web.Application | None = None) -> None:
        """End every open stream (on shut-down, so it need not wait for them)."""
        self._closed = True
        self.bump()

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """``text/event-stream`` of ``change`` events carrying the current version."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        sent = -1
        with contextlib.suppress(ConnectionError):
            while not self._closed:
                if sent != self.version:
                    sent = self.version
                    await response.write(f"event: change\ndata: {sent}\n\n".encode())
                try:
                    await asyncio.wait_for(self._changed.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
        return response
