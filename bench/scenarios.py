"""The benchmarks. Each starts its own processes on loopback (the fakes, the bot, the ceiling
server), measures, stops them in ``finally`` and returns plain figures; none asserts a timing.

- intake: signed handoffs per second and latency at 64 concurrent senders, next to the same load
  generator against a bare aiohttp endpoint (the machine's ceiling), on SQLite and PostgreSQL.
- ack: how fast an Approve click is acknowledged while Plisio takes 2 s per call.
- burst: 300 handoffs into one channel that allows 20 posts/s: time to drain against the
  theoretical minimum, and messages lost or duplicated.
- startup: process start to a healthy ``/healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.fakes import Fakes, running_fakes
from bench.load import hammer, percentile
from bench.stack import (
    APPROVE_ACTION,
    WEBHOOK_SECRET,
    BotProcess,
    ChildServer,
    DialNexa,
    Inspector,
    SlackUser,
    free_port,
    fresh_database,
    handoff_payload,
)

__all__ = ["Options", "ack", "burst", "intake", "startup"]

APPROVER = "U0APPROVER1"


@dataclass(frozen=True)
class Options:
    workdir: Path
    short: bool = False
    pg_url: str | None = None

    def pick(self, full: float, short: float) -> float:
        return short if self.short else full


def signed_handoffs(prefix: str) -> Callable[[int], tuple[bytes, dict[str, str]]]:
    """Request ``i``: the create-invoice example under call id ``{prefix}-{i}``, freshly signed."""
    template = json.dumps(handoff_payload("@@CALL@@")).encode()
    key = WEBHOOK_SECRET.encode()

    def make(i: int) -> tuple[bytes, dict[str, str]]:
        body = template.replace(b"@@CALL@@", f"{prefix}-{i}".encode())
        timestamp = str(int(time.time()))
        digest = hmac.new(key, b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
        headers = {
            "Content-Type": "application/json",
            "X-DialNexa-Timestamp": timestamp,
            "X-DialNexa-Signature": "v1=" + digest.hexdigest(),
        }
        return body, headers

    return make


@contextlib.asynccontextmanager
async def running_bot(
    opts: Options, fakes: Fakes, *, name: str, pg: bool = False, **env: str
) -> AsyncIterator[BotProcess]:
    """A healthy bot on a fresh database (SQLite, or a PostgreSQL schema), stopped afterwards."""
    workdir = opts.workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    async with fresh_database(workdir, opts.pg_url if pg else None) as (url, schema):
        bot = BotProcess(
            workdir,
            slack_url=fakes.slack_url,
            plisio_url=fakes.plisio_url,
            database_url=url,
            database_schema=schema,
            env=env,
            name=name,
        )
        try:
            await bot.start_healthy()
            yield bot
        finally:
            await bot.stop()
            await bot.close()


def _backends(opts: Options) -> list[tuple[str, bool]]:
    return [("sqlite", False)] + ([("postgresql", True)] if opts.pg_url else [])


# ---- intake ----------------------------------------------------------------------------------


async def intake(opts: Options, session: aiohttp.ClientSession) -> dict[str, Any]:
    """Handoffs/s and latency at 64 senders: the bot next to a bare aiohttp endpoint.

    Both run one web process per core (the bot's ``WEB_PROCESSES``). Afterwards the bot's
    database must hold one handoff for every 2xx it gave: a 202 that stored nothing is a loss.
    """
    senders = 64
    processes = os.cpu_count() or 1
    warmup, seconds = opts.pick(2.0, 0.5), opts.pick(10.0, 1.5)
    run = uuid.uuid4().hex[:8]
    ceiling_dir = opts.workdir / "ceiling"
    ceiling_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    ceiling = ChildServer(ceiling_dir, "bench.ceiling", args=[str(port), str(processes)], port=port)
    try:
        await ceiling.start_healthy()
        bare = await hammer(
            f"{ceiling.url}/dialnexa/handoffs",
            signed_handoffs(f"ceiling-{run}"),
            senders=senders,
            warmup=warmup,
            seconds=seconds,
        )
    finally:
        await ceiling.stop()
        await ceiling.close()
    results: dict[str, Any] = {
        "senders": senders,
        "web_processes": processes,
        "ceiling": bare.summary(),
    }
    async with running_fakes(session) as fakes:
        for backend, pg in _backends(opts):
            async with running_bot(
                opts, fakes, name=f"intake-{backend}", pg=pg, WEB_PROCESSES=str(processes)
            ) as bot:
                prefix = f"intake-{backend}-{run}"
                load = await hammer(
                    f"{bot.url}/dialnexa/handoffs",
                    signed_handoffs(prefix),
                    senders=senders,
                    warmup=warmup,
                    seconds=seconds,
                )
                stored = await _count_stored(bot, prefix)
            figures = load.summary()
            figures["ratio_to_ceiling"] = (
                round(load.per_second / bare.per_second, 3) if bare.per_second else None
            )
            figures["accepted"] = load.ok_total
            figures["stored"] = stored
            figures["lost"] = max(0, load.ok_total - stored)
            results[backend] = figures
    return results


async def _count_stored(bot: BotProcess, prefix: str) -> int:
    inspector = Inspector(bot.env["DATABASE_URL"], bot.env.get("DATABASE_SCHEMA"))
    try:
        return sum(h.call_id.startswith(prefix + "-") for h in await inspector.handoffs())
    finally:
        await inspector.close()


# ---- ack -------------------------------------------------------------------------------------


async def _wait_posted(fakes: Fakes, handoff_ids: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        posted = (await fakes.stats())["posted"]
        if handoff_ids <= set(posted) or time.monotonic() > deadline:
            return dict(posted)
        await asyncio.sleep(0.1)


async def ack(opts: Options, session: aiohttp.ClientSession) -> dict[str, Any]:
    """Approve-click acknowledgement latency while every Plisio call takes 2 s."""
    count = int(opts.pick(100, 10))
    per_second = 10.0
    run = uuid.uuid4().hex[:8]
    async with (
        running_fakes(session, plisio_delay=2.0) as fakes,
        running_bot(opts, fakes, name="ack", SLACK_POST_RATE_PER_CHANNEL="50") as bot,
    ):
        dialnexa = DialNexa(session, bot.url)
        delivered = await asyncio.gather(
            *(dialnexa.deliver(handoff_payload(f"ack-{run}-{i}"), timeout=60) for i in range(count))
        )
        ids = [d.handoff_id for d in delivered if d.handoff_id]
        posted = await _wait_posted(fakes, set(ids), timeout=60)
        user = SlackUser(session, bot.url)
        tasks = []
        for handoff_id in ids:
            channel, ts = posted[handoff_id][0]
            tasks.append(
                asyncio.create_task(user.click(APPROVER, APPROVE_ACTION, handoff_id, channel, ts))
            )
            await asyncio.sleep(1 / per_second)
        answers = await asyncio.gather(*tasks)
        latencies = [seconds for status, seconds in answers if status == 200]
        deadline = time.monotonic() + 60
        invoices = 0
        while time.monotonic() < deadline:
            invoices = len((await fakes.stats())["invoices"])
            if invoices >= len(ids):
                break
            await asyncio.sleep(0.25)
    return {
        "clicks": len(answers),
        "clicks_per_second": per_second,
        "plisio_delay_seconds": 2.0,
        "answered_200": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies, default=0.0) * 1000, 2),
        "invoices_created": invoices,
    }


# ---- burst -----------------------------------------------------------------------------------


async def _burst_once(
    opts: Options,
    session: aiohttp.ClientSession,
    *,
    count: int,
    channel_rate: float,
    bot_rate: float,
    name: str,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    minimum = count / channel_rate
    async with (
        running_fakes(session, slack_rate=channel_rate, slack_burst=3) as fakes,
        running_bot(opts, fakes, name=name, SLACK_POST_RATE_PER_CHANNEL=f"{bot_rate:g}") as bot,
    ):
        dialnexa = DialNexa(session, bot.url)
        gate = asyncio.Semaphore(16)

        async def send(i: int) -> str | None:
            async with gate:
                result = await dialnexa.deliver(handoff_payload(f"burst-{run}-{i}"), timeout=60)
                return result.handoff_id

        started = time.monotonic()
        ids = await asyncio.gather(*(send(i) for i in range(count)))
        accepted_in = time.monotonic() - started
        wanted = {i for i in ids if i}
        deadline = time.monotonic() + minimum * 3 + 30
        while True:
            stats = await fakes.stats()
            if wanted <= set(stats["posted"]) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    posted = stats["posted"]
    times = sorted(stats["post_times"])
    drained = (times[-1] if times else started) - started
    pairs = sorted(((b - a, a - started) for a, b in itertools.pairwise(times)), reverse=True)
    gaps = [gap for gap, _at in pairs]
    return {
        "handoffs": count,
        "channel_limit_per_second": channel_rate,
        "bot_rate_setting": bot_rate,
        "theoretical_minimum_seconds": round(minimum, 2),
        "drain_seconds": round(drained, 2),
        "ratio_to_minimum": round(drained / minimum, 3),
        "accepted_in_seconds": round(accepted_in, 2),
        "first_post_after_seconds": round(times[0] - started, 3) if times else None,
        "longest_gaps_seconds_and_when": [[round(g, 3), round(at, 2)] for g, at in pairs[:5]],
        "seconds_lost_to_gaps_over_2x": round(
            sum(g - 1 / channel_rate for g in gaps if g > 2 / channel_rate), 2
        ),
        "lost": len(wanted - set(posted)) + (count - len(wanted)),
        "duplicated": sum(len(v) - 1 for v in posted.values()),
        "rate_limited_429s": stats["rate_limited"],
    }


async def burst(opts: Options, session: aiohttp.ClientSession) -> dict[str, Any]:
    """300 handoffs into one channel limited to 20 posts/s (429 + Retry-After beyond it)."""
    count = int(opts.pick(300, 40))
    results = {
        "configured": await _burst_once(
            opts, session, count=count, channel_rate=20, bot_rate=20, name="burst"
        )
    }
    if not opts.short:
        # The bot set 25% faster than the channel allows: it must learn the limit from 429s.
        results["learning"] = await _burst_once(
            opts, session, count=count, channel_rate=20, bot_rate=25, name="burst-learning"
        )
    return results


# ---- start-up --------------------------------------------------------------------------------


async def startup(opts: Options, session: aiohttp.ClientSession) -> dict[str, Any]:
    """Seconds from process start to a healthy /healthz: first start (migrations) and restarts."""
    restarts = int(opts.pick(5, 1))
    results: dict[str, Any] = {}
    async with running_fakes(session) as fakes:
        for backend, pg in _backends(opts):
            workdir = opts.workdir / f"startup-{backend}"
            workdir.mkdir(parents=True, exist_ok=True)
            async with fresh_database(workdir, opts.pg_url if pg else None) as (url, schema):
                bot = BotProcess(
                    workdir,
                    slack_url=fakes.slack_url,
                    plisio_url=fakes.plisio_url,
                    database_url=url,
                    database_schema=schema,
                )
                try:
                    first = await bot.start_healthy()
                    await bot.stop()
                    again = []
                    for _ in range(restarts):
                        again.append(await bot.start_healthy())
                        await bot.stop()
                finally:
                    await bot.close()
            results[backend] = {
                "first_start_seconds": round(first, 3),
                "restart_median_seconds": round(statistics.median(again), 3),
                "restart_max_seconds": round(max(again), 3),
                "restarts": restarts,
            }
    return results
