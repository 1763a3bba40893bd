"""``python -m bench`` (``make bench``): run the benchmarks and write ``bench/results/latest.json``
and ``latest.md``.

``--short`` runs every benchmark briefly to prove the scripts work (CI runs it; it checks that
each produces numbers, never how good they are) and writes nothing unless ``--out`` is given.
``--pg URL`` (default: ``TEST_DATABASE_URL``) adds PostgreSQL runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import context_enrichment, redaction, scenarios, sheets_queue
from bench.stack import ROOT

__all__ = ["machine", "main", "markdown"]

RESULTS_DIR = ROOT / "bench" / "results"
Bench = Callable[[scenarios.Options, aiohttp.ClientSession], Awaitable[dict[str, Any]]]


async def _redaction(opts: scenarios.Options, _: aiohttp.ClientSession) -> dict[str, Any]:
    """CPU per handoff of suppression alone (``python -m bench.redaction`` writes its own file)."""
    return redaction.measure(short=opts.short)


async def _context(opts: scenarios.Options, _: aiohttp.ClientSession) -> dict[str, Any]:
    """Stripe and HubSpot context on 300 handoffs (``bench/context_enrichment.py``)."""
    return await context_enrichment.measure(opts.workdir / "context", short=opts.short)


async def _sheets(opts: scenarios.Options, _: aiohttp.ClientSession) -> dict[str, Any]:
    """300 exception handoffs against Sheets' 60 writes/min (Google's minute scaled down)."""
    return await sheets_queue.run(opts.workdir, time_scale=opts.pick(5.0, 20.0))


BENCHES: dict[str, Bench] = {
    "intake": scenarios.intake,
    "ack": scenarios.ack,
    "burst": scenarios.burst,
    "startup": scenarios.startup,
    "redaction": _redaction,
    "context": _context,
    "sheets": _sheets,
}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = "unknown"
    memory_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": cpus,
        "cpu_model": model,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _ms(figures: dict[str, Any]) -> str:
    return f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms"


def markdown(results: dict[str, Any]) -> str:
    """The results as the README's Performance table."""
    rows = ["| benchmark | result | target |", "| --- | --- | --- |"]
    intake = results.get("intake")
    if intake:
        ceiling = intake["ceiling"]
        processes = intake.get("web_processes", 1)
        rows.append(
            f"| intake ceiling (bare aiohttp 202, {processes} processes, {intake['senders']} "
            f"senders) | {ceiling['requests_per_second']:,.0f} req/s, {_ms(ceiling)} | — |"
        )
        for backend in ("sqlite", "postgresql"):
            if backend in intake:
                f = intake[backend]
                stored = (
                    f"; {f['accepted']:,} accepted, {f['stored']:,} stored, {f['lost']} lost"
                    if "stored" in f
                    else ""
                )
                rows.append(
                    f"| intake, {backend} ({processes} web processes) "
                    f"| {f['requests_per_second']:,.0f} handoffs/s, {_ms(f)}; "
                    f"**{f['ratio_to_ceiling']:.3f} × ceiling**{stored} | ≥ 0.5 × ceiling |"
                )
    ack = results.get("ack")
    if ack:
        rows.append(
            f"| Approve ack, Plisio 2 s/call ({ack['clicks']} clicks at "
            f"{ack['clicks_per_second']:g}/s) | {_ms(ack)}, max {ack['max_ms']} ms; "
            f"{ack['invoices_created']} invoices | p99 < 100 ms |"
        )
    burst = results.get("burst") or {}
    for label, f in burst.items():
        what = (
            "bot paced at the channel's rate" if label == "configured" else "bot set 25% too fast"
        )
        rows.append(
            f"| burst: {f['handoffs']} handoffs, one channel at {f['channel_limit_per_second']:g}/s "
            f"({what}) | {f['drain_seconds']} s vs {f['theoretical_minimum_seconds']} s minimum "
            f"= **{f['ratio_to_minimum']:.2f}**; lost {f['lost']}, duplicated {f['duplicated']}, "
            f"429s {f['rate_limited_429s']} | ≤ 1.15, 0 lost |"
        )
    suppression = results.get("redaction")
    if suppression and suppression.get("before_12_commit") is None:
        intake = suppression["intake_handoff"]
        rows.append(
            f"| suppression per handoff (`bench/redaction.py`, best of rounds) | intake handoff "
            f"{intake['current']['best_us']} µs (no git history: nothing to compare with) "
            f"| ≤ 2 × before |"
        )
    elif suppression:
        intake, secrets = suppression["intake_handoff"], suppression["with_secrets"]
        rows.append(
            f"| suppression per handoff (`bench/redaction.py`, best of rounds, before #12 timed "
            f"alongside) | intake handoff {intake['current']['best_us']} µs vs "
            f"{intake['before_12']['best_us']} µs before = **{intake['ratio']['best']:.2f}×**; "
            f"with secrets read out {secrets['current']['best_us']} µs vs "
            f"{secrets['before_12']['best_us']} µs | ≤ 2 × before |"
        )
    context = (results.get("context") or {}).get("connectors_on")
    if context:
        off = results["context"]["connectors_off"]
        rows.append(
            f"| context: {context['handoffs']} handoffs, HubSpot + Stripe doubles at "
            f"{results['context']['doubles_delay_ms']} ms | {context['enriched']} enriched, "
            f"lost {context['lost']}, duplicated {context['duplicate_posts']}; "
            f"{context['total_seconds']} s vs {context['hubspot_search_minimum_seconds']} s "
            f"search minimum = **{context['ratio_to_minimum']:.2f}** (HubSpot's other "
            f"{context.get('hubspot_general_calls', '?')} calls at "
            f"{context.get('hubspot_general_limit_per_10_seconds', '?')}/10 s: "
            f"{context.get('hubspot_general_minimum_seconds', '?')} s); first post p99 "
            f"{context['first_post_p99_ms']} ms on vs {off['first_post_p99_ms']} ms off "
            f"| all enriched, 0 lost, ≤ 1.15, first post no later |"
        )
    sheets = results.get("sheets")
    if sheets:
        rows.append(
            f"| exception sheet: {sheets['handoffs']} exception handoffs, Sheets at "
            f"{sheets['quota_writes_per_minute']} writes/min (minute scaled "
            f"÷{sheets['time_scale']:g}) | {sheets['writes']} writes in {sheets['total_seconds']} s "
            f"vs {sheets['quota_minimum_seconds']} s quota minimum = "
            f"**{sheets['ratio_to_quota_minimum']:.2f}**; rows {sheets['rows']}, lost "
            f"{sheets['lost']}, duplicated {sheets['duplicates']}, 429s "
            f"{sheets['rate_limited_429s']} (unbatched: {sheets['unbatched_minimum_seconds']} s) "
            f"| ≤ 1.15, 0 lost, 0 duplicated |"
        )
    for backend, f in (results.get("startup") or {}).items():
        rows.append(
            f"| start-up to healthy /healthz, {backend} | first start (migrations) "
            f"{f['first_start_seconds']} s; restart median {f['restart_median_seconds']} s | — |"
        )
    return "\n".join(rows)


async def _run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    opts = scenarios.Options(workdir=workdir, short=args.short, pg_url=args.pg or None)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "short" if args.short else "full",
        "command": " ".join(["python -m bench", *map(shlex.quote, sys.argv[1:])]),
        "postgresql": bool(opts.pg_url),
        "machine": machine(),
        "seconds": {},
    }
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for name in args.only or list(BENCHES):
            began = time.monotonic()
            print(f"== {name}", file=sys.stderr, flush=True)
            results[name] = await BENCHES[name](opts, session)
            results["seconds"][name] = round(time.monotonic() - began, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--short", action="store_true", help="brief runs that prove the scripts")
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"), help="PostgreSQL URL")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES), help="repeatable")
    parser.add_argument(
        "--out", type=Path, help="results JSON (default: bench/results/latest.json)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        results = asyncio.run(_run(args, Path(tmp)))
    table = markdown(results)
    print(table)
    out = args.out or (None if args.short else RESULTS_DIR / "latest.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
        print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    missing = [name for name in args.only or list(BENCHES) if not results.get(name)]
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
