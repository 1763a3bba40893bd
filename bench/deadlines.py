"""Follow-up deadlines at scale: seed open handoffs in SQLite, time the reminder loop's due query.

``python -m bench.deadlines`` seeds 1,000,000 open handoffs (``--rows`` for a short run), 1 % of
them due, into a migrated SQLite file; then times the reminder loop's real due query
(``services.reminders.due_query``: ``next_reminder_at <= now`` on its index, one batch), counts the
due rows through the same index, runs the real claim pass (compare-and-set + outbox insert per
due row) until nothing is due, and prints the peak memory of the measuring process (the seeding
runs in a child process and is reported apart). Figures go to ``bench/results/deadlines.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from services.db.engine import Database
from services.db.models import HandoffRow, OutboxItem
from services.outbox import Outbox
from services.reminders import ReminderService, due_query
from services.routing import parse_routing

RESULTS = Path(__file__).resolve().parent / "results" / "deadlines.json"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite (zone-less UTC)
CHUNK = 50_000
QUERY_RUNS = 25
BATCH = 200  # ReminderService's default batch size


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).strftime(SQLITE_TIME)


def _rows(count: int, due_every: int, seed: int) -> Any:
    """Minimal open handoff rows; every ``due_every``-th one has its reminder due."""
    rng = random.Random(seed)
    created = _stamp(NOW - timedelta(days=2))
    for n in range(count):
        if n % due_every == 0:
            next_at = NOW - timedelta(minutes=rng.randint(1, 24 * 60))
        else:
            next_at = NOW + timedelta(minutes=rng.randint(5, 30 * 24 * 60))
        stamp = _stamp(next_at)
        yield (
            f"h{n:012d}",
            f"dnx_call_B{n:012d}",
            "handoff",
            "billing_question",
            "normal",
            0,
            "open",
            "C0FINANCE",
            f"U{n % 500:08d}",
            f"U{n % 500:08d}",
            stamp,  # deadline (no heads-up: the first reminder is at the deadline)
            0,
            0,
            0,
            "[]",
            "[]",
            "[]",
            "{}",
            "{}",
            created,
            created,
            created,
            1,
            stamp,
            0,
        )


INSERT = """
INSERT INTO handoffs (
    id, call_id, kind, workflow, urgency, urgent, status, channel, owner, owner_slack_id,
    deadline, email_verified, two_person, needs_mapping, review_flags, missing_fields, redacted,
    payload, resolution, occurred_at, created_at, updated_at, version, next_reminder_at,
    reminder_step
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def seed(path: Path, rows: int, due_every: int, seed_value: int) -> None:
    """Bulk-insert the rows, with the real indexes in place."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages
        source = _rows(rows, due_every, seed_value)
        with connection:
            while chunk := [row for _, row in zip(range(CHUNK), source, strict=False)]:
                connection.executemany(INSERT, chunk)
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def measure(url: str, expected_due: int) -> dict[str, Any]:
    """Time the due query, the due count and the claim pass on the seeded database."""
    db = Database(url)
    routing = parse_routing({"channels": {"default": "C0FINANCE"}})
    try:
        async with db.engine.connect() as connection:
            sql = str(due_query(NOW, BATCH).compile(db.engine))  # binds: now, limit, offset
            plan = await connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql, (_stamp(NOW), BATCH, 0)
            )
            query_plan = [str(row[-1]) for row in plan]
        timings = []
        async with db.sessions() as session:
            for _ in range(QUERY_RUNS):
                started = time.perf_counter()
                batch = (await session.execute(due_query(NOW, BATCH))).all()
                timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            due = await session.scalar(
                select(func.count())
                .select_from(HandoffRow)
                .where(HandoffRow.next_reminder_at <= NOW)
            )
            count_seconds = time.perf_counter() - started
        assert len(batch) == min(BATCH, expected_due) and due == expected_due

        def clock() -> datetime:
            return NOW

        reminders = ReminderService(db, lambda: routing, Outbox(db, clock=clock), clock=clock)
        passes, claimed = 0, 0
        started = time.perf_counter()
        while sent := await reminders.run_once():
            passes, claimed = passes + 1, claimed + sent
        claim_seconds = time.perf_counter() - started
        async with db.sessions() as session:
            queued = await session.scalar(select(func.count()).select_from(OutboxItem))
        assert claimed == queued == expected_due
        return {
            "due_query_plan": query_plan,
            "due_query_batch": BATCH,
            "due_query_ms_median": round(statistics.median(timings) * 1000, 3),
            "due_query_ms_p95": round(sorted(timings)[int(len(timings) * 0.95) - 1] * 1000, 3),
            "due_count_ms": round(count_seconds * 1000, 2),
            "claim_pass_seconds": round(claim_seconds, 2),
            "claim_passes": passes,
            "claimed_per_second": round(claimed / claim_seconds) if claim_seconds else None,
        }
    finally:
        await db.dispose()


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="open handoffs to seed")
    parser.add_argument("--due-fraction", type=float, default=0.01, help="share already due")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, help="keep the database file at this path")
    args = parser.parse_args(argv)
    due_every = max(1, round(1 / args.due_fraction))
    expected_due = (args.rows + due_every - 1) // due_every
    workdir = Path(tempfile.mkdtemp(prefix="bench-deadlines-"))
    path = workdir / "deadlines.db"
    try:
        url = f"sqlite+aiosqlite:///{path}"
        started = time.perf_counter()
        asyncio.run(_migrate(url))
        migrate_seconds = time.perf_counter() - started
        # Seed in a child process so the peak memory below is the reminder loop's alone.
        started = time.perf_counter()
        seeder = multiprocessing.get_context("spawn").Process(
            target=seed, args=(path, args.rows, due_every, args.seed)
        )
        seeder.start()
        seeder.join()
        if seeder.exitcode != 0:
            raise SystemExit(f"seeding failed (exit code {seeder.exitcode})")
        seed_seconds = time.perf_counter() - started
        baseline = _peak_mib()
        figures = asyncio.run(measure(url, expected_due))
        result = {
            "benchmark": "deadlines",
            "rows": args.rows,
            "due": expected_due,
            "migrate_seconds": round(migrate_seconds, 2),
            "seed_seconds": round(seed_seconds, 1),
            "seed_rows_per_second": round(args.rows / seed_seconds),
            "database_mib": round(path.stat().st_size / 2**20, 1),
            **figures,
            "peak_rss_mib": _peak_mib(),  # this process: imports, migration, queries, claims
            "peak_rss_mib_before_queries": baseline,
            "peak_rss_mib_seeder": _peak_mib(resource.RUSAGE_CHILDREN),
            "machine": machine(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if args.keep:
            shutil.copyfile(path, args.keep)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


def _peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory so far, in MiB (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    sys.exit(main())
