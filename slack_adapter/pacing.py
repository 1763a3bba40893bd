"""The pace of posts to one Slack channel, and the worker lanes that keep a channel's posts in order.

Slack allows about one post a second per channel, short bursts tolerated, and answers 429 with a
Retry-After when a channel goes faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.events import OutboxKind
from services.outbox import ClaimedItem
from services.posts import PostRecords

__all__ = [
    "MIN_POST_RATE",
    "SLOWDOWN",
    "SPEEDUP_AFTER",
    "ChannelLanes",
    "ChannelPacer",
    "Pacers",
    "RateLimited",
    "retry_after",
]

SLOWDOWN = 0.8  # a channel that answers 429 gets this share of its rate from then on...
SPEEDUP_AFTER = 300.0  # ...and one step of it back after this many seconds without a 429
MIN_POST_RATE = 0.05  # posts/s: however often Slack says 429, try again within 20 s


def retry_after(headers: Any) -> float:
    """Slack's Retry-After in seconds (1 to 300; 1 when missing or unreadable)."""
    try:
        return min(300.0, max(1.0, float(headers.get("Retry-After", 1))))
    except (TypeError, ValueError, AttributeError):
        return 1.0


class RateLimited(Exception):
    """Slack kept answering 429 to one post; the outbox tries it again later."""


class ChannelPacer:
    """Spaces one channel's posts at its rate and slows down whenever Slack answers 429.

    Slack says how long to wait (Retry-After) but not how fast to go, so a 429 both pauses the
    channel for Retry-After and lowers its rate; quiet minutes bring the rate back up.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = rate
        self.rate = rate
        self._clock = clock
        self._next = clock()
        self._limited_at: float | None = None

    def reserve(self) -> float:
        """Take the channel's next slot; returns the seconds to wait for it."""
        now = self._clock()
        if self._limited_at is not None and now - self._limited_at >= SPEEDUP_AFTER:
            self.rate = min(self.ceiling, self.rate / SLOWDOWN)
            self._limited_at = None if self.rate >= self.ceiling else now
        slot = max(now, self._next)
        self._next = slot + 1 / self.rate
        return slot - now

    def rate_limited(self, retry_after: float) -> None:
        """Slack refused a post: nothing is posted here for ``retry_after`` s, then slower."""
        now = self._clock()
        self.rate = max(MIN_POST_RATE, self.rate * SLOWDOWN)
        self._next = max(self._next, now + retry_after)
        self._limited_at = now


class Pacers:
    """One pacer per channel, shared by every pass of this process."""

    def __init__(self, rate: float) -> None:
        self.rate = rate  # posts per second per channel, before any 429
        self._pacers: dict[str, ChannelPacer] = {}

    def __call__(self, channel: str) -> ChannelPacer:
        pacer = self._pacers.get(channel)
        if pacer is None:
            pacer = self._pacers[channel] = ChannelPacer(self.rate)
        return pacer


class ChannelLanes:
    """The worker's lanes: each channel's handoff posts in order, at the channel's pace."""

    def __init__(self, posts: PostRecords, pacers: Pacers) -> None:
        self._posts = posts
        self._pacers = pacers

    async def assign(self, items: Sequence[ClaimedItem]) -> Mapping[int, str]:
        posting = [i for i in items if i.kind == OutboxKind.POST_HANDOFF]
        channels = await self._posts.channels(i.handoff_id for i in posting)
        return {i.id: channels.get(i.handoff_id or "", "") for i in posting}

    def room(self, lane: str, window: float) -> int:
        return max(1, int(self._pacers(lane).rate * window))
