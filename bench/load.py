"""A closed-loop HTTP load generator: N senders, each sending its next request when the last one
is answered, timed over a window after a warm-up."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

__all__ = ["LoadResult", "hammer", "percentile"]

Request = tuple[bytes, dict[str, str]]


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile (``pct`` in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    seconds: float
    answered: int = 0
    ok: int = 0
    ok_total: int = 0  # every success, warm-up and stragglers included (each a stored handoff)
    latencies: list[float] = field(default_factory=list)  # seconds, answered inside the window
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "requests_per_second": round(self.per_second, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 2),
            "answered": self.answered,
            "statuses": dict(self.statuses),
            "window_seconds": self.seconds,
        }


async def hammer(
    url: str,
    make_request: Callable[[int], Request],
    *,
    senders: int = 64,
    warmup: float = 1.0,
    seconds: float = 5.0,
    ok_status: frozenset[int] = frozenset({200, 202}),
) -> LoadResult:
    """POST to ``url`` from ``senders`` concurrent senders; count what lands inside the window."""
    counter = itertools.count()
    result = LoadResult(seconds=seconds)
    connector = aiohttp.TCPConnector(limit=senders, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    loop_started = time.perf_counter()
    window_start = loop_started + warmup
    window_end = window_start + seconds

    async def sender(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < window_end:
            body, headers = make_request(next(counter))
            began = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = str(response.status)
                    ok = response.status in ok_status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, ok = type(exc).__name__, False
            ended = time.perf_counter()
            result.ok_total += ok
            if window_start <= ended <= window_end:  # completions inside the window
                result.answered += 1
                result.statuses[status] += 1
                if ok:
                    result.ok += 1
                    result.latencies.append(ended - began)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(sender(session) for _ in range(senders)))
    return result
