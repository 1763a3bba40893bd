"""Pacing of a connector's requests to one vendor endpoint: at most ``limit`` per ``per`` seconds.

Like the Slack channel pacer (``slack_adapter.pacing.ChannelPacer``) each caller takes the next
free slot and sleeps until it, so a burst of callers is spread out instead of answered with 429s;
unlike it, the window is the vendor's own (HubSpot: search 4 a second, everything else 100 every
10 seconds), so a short burst within the window goes out at once. A vendor's 429 pauses every
caller for its Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """An async limiter shared by every call of one connector to one kind of endpoint."""

    def __init__(
        self,
        limit: int,
        per: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or per <= 0:
            raise ValueError("a limiter needs a positive limit and window")
        self.limit = limit
        self.per = per
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque(maxlen=limit)  # the last ``limit`` slots handed out
        self._sent: deque[float] = deque(maxlen=limit)  # when the last ``limit`` really left
        self._paused_until = 0.0

    @property
    def rate(self) -> float:
        """Requests a second, in the long run."""
        return self.limit / self.per

    def reserve(self) -> float:
        """Take the next slot; returns the seconds to wait for it."""
        now = self._clock()
        slot = max(now, self._paused_until)
        if len(self._slots) == self.limit:
            slot = max(slot, self._slots[0] + self.per)
        self._slots.append(slot)
        return slot - now

    async def wait(self) -> None:
        """Wait for this caller's slot, and then until the window of the last ``limit`` requests
        that actually left has passed: a busy event loop wakes callers late, and slots taken on
        time but sent late could put more than ``limit`` into one of the vendor's windows (each
        of HubSpot's 429s then stopped every search for a second)."""
        due = self._clock()
        delay = self.reserve()
        due += max(0.0, delay)
        if delay > 0:
            await self._sleep(delay)
        leaves = max(self._clock(), due)
        if len(self._sent) == self.limit and self._sent[0] + self.per > leaves:
            late = self._sent[0] + self.per - leaves
            await self._sleep(late)
            leaves += late
        self._sent.append(max(self._clock(), leaves))

    def pause(self, seconds: float) -> None:
        """The vendor answered 429: nothing goes out for ``seconds``."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
