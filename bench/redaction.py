"""``python -m bench.redaction``: the CPU cost of suppression per handoff, before and after #12.

Times ``redact_handoff`` on the intake benchmark's handoff (``bench.stack.handoff_payload``, the
create-invoice example: nothing to remove, so every field is read and the handoff comes back as
it is) and on the same handoff with a card, an IBAN and a routing and account number read out in
its free text (something to remove: the copy is rebuilt and validated).

The redactor from before issue #12 (``services/redaction.py`` at commit ``BEFORE_12``, read from
git when the benchmark starts) is timed in the same process, its rounds alternating with the
current one's, so both see the same load on the machine and the ratio means something. Each figure
is the best of the rounds (the least disturbed by other work) and their median, in µs per handoff;
``ratio`` is current / before for each. Writes ``bench/results/redaction.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stack import ROOT, handoff_payload
from services.handoff_model import Handoff
from services.redaction import redact_handoff, redact_text

__all__ = ["ADVERSARIAL", "BEFORE_12", "before_12", "main", "measure"]

RESULT = ROOT / "bench" / "results" / "redaction.json"
# The last commit before issue #12, when redaction was the single module services/redaction.py.
BEFORE_12 = "edfd744a9726284d7c591429f0eac66ba897ace1"
SPOKEN = (
    "Caller read card four one one one 1111 1111 1111, exp 04/27 cvv 123, then IBAN "
    "gb82 west 1234 5698 7654 32 and routing 021 000 021 account 1234-5678-9012."
)

_Redactor = Callable[[Handoff], object]

# Texts built to make a backtracking pattern take minutes; each must take linear time. The tests
# run them (with a hang guard); ``adversarial_ms`` in the results says how long each takes.
ADVERSARIAL = {
    "dash-chain": "1-" * 4000,
    "space-chain": "1 " * 4000,
    "one-word": "a" * 8000,
    "one-number": "4" * 8000,
    "iban-heads": "DE89 " * 1600,
    "context-words": "account number VAT routing sort code " * 215,
    "vat-numbers": "VAT 136695976 " * 570,
    "cards": "4111 1111 1111 1111 " * 400,
    "email-ish": "a." * 4000,
    "at-signs": "a@" * 4000,
    "url-ish": "http://" * 1100,
    "separators": "1-1 1/1.1 " * 800,
}


def _adversarial_ms(rounds: int) -> dict[str, float]:
    """Best of ``rounds`` milliseconds to suppress each adversarial text (8000 characters)."""
    best: dict[str, float] = {}
    for name, text in ADVERSARIAL.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            redact_text(text[:8000])
            times.append((time.perf_counter() - started) * 1000)
        best[name] = round(min(times), 2)
    return best


def before_12() -> _Redactor:
    """``redact_handoff`` as it was before issue #12, loaded from git into a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BEFORE_12}:services/redaction.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("bench_redaction_before_12")
    module.__file__ = f"{BEFORE_12[:7]}:services/redaction.py"
    sys.modules[module.__name__] = module  # dataclasses look their module up while it runs
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own history
    redactor: _Redactor = module.redact_handoff
    return redactor


def _handoffs() -> dict[str, Handoff]:
    plain = handoff_payload("bench-redaction-1")
    secret = handoff_payload("bench-redaction-2", caller_request=SPOKEN)
    return {
        "intake_handoff": Handoff.model_validate(plain),
        "with_secrets": Handoff.model_validate(secret),
    }


def _round(redactor: _Redactor, handoff: Handoff, calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        redactor(handoff)
    return (time.perf_counter() - began) / calls * 1e6


def _summary(per_call: list[float]) -> dict[str, float]:
    return {"best_us": round(min(per_call), 1), "median_us": round(statistics.median(per_call), 1)}


def _time(
    redactors: dict[str, _Redactor], handoff: Handoff, calls: int, rounds: int
) -> dict[str, Any]:
    for redactor in redactors.values():  # warm caches (compiled patterns, the field plan)
        for _ in range(calls // 10 + 1):
            redactor(handoff)
    per_call: dict[str, list[float]] = {name: [] for name in redactors}
    for _ in range(rounds):  # alternating, so both see the same load
        for name, redactor in redactors.items():
            per_call[name].append(_round(redactor, handoff, calls))
    figures: dict[str, Any] = {name: _summary(times) for name, times in per_call.items()}
    if "before_12" not in figures:
        return figures
    now, before = figures["current"], figures["before_12"]
    figures["ratio"] = {
        "best": round(now["best_us"] / before["best_us"], 2),
        "median": round(now["median_us"] / before["median_us"], 2),
    }
    return figures


def measure(*, short: bool = False) -> dict[str, Any]:
    """µs per ``redact_handoff`` call now and before #12, best and median of the rounds."""
    calls, rounds = (200, 3) if short else (2000, 15)
    redactors: dict[str, _Redactor] = {"current": redact_handoff}
    # A checkout without git or without that commit (a shallow clone, a tarball): the current
    # redactor is still timed; the comparison says it had nothing to compare with.
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        redactors["before_12"] = before_12()
    figures: dict[str, Any] = {
        name: _time(redactors, handoff, calls, rounds) for name, handoff in _handoffs().items()
    }
    figures["adversarial_ms"] = _adversarial_ms(1 if short else 5)
    figures["before_12_commit"] = BEFORE_12 if "before_12" in redactors else None
    figures["calls_per_round"] = calls
    figures["rounds"] = rounds
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redaction", description=__doc__)
    parser.add_argument("--short", action="store_true", help="a brief run that proves the script")
    parser.add_argument("--out", type=Path, default=None, help=f"default: {RESULT}")
    args = parser.parse_args(argv)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "short" if args.short else "full",
        **measure(short=args.short),
    }
    print(json.dumps(results, indent=2))
    out = args.out or (None if args.short else RESULT)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
