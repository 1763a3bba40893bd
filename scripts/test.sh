#!/usr/bin/env bash
# The whole test suite: lint and types, then pytest on SQLite, then pytest on PostgreSQL when
# TEST_DATABASE_URL names one (CI sets it to the local server).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== ruff"
$BIN/ruff check .
$BIN/ruff format --check .
echo "== mypy"
$BIN/mypy

echo "== browsers"
bash scripts/ensure_chromium.sh

echo "== pytest (SQLite)"
env -u TEST_DATABASE_URL $BIN/pytest -q -p no:cacheprovider "$@"

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  # The browser tests drive the sandbox, whose data is always SQLite: once is enough.
  echo "== pytest (PostgreSQL: ${TEST_DATABASE_URL%%\?*})"
  $BIN/pytest -q -p no:cacheprovider -m "not browser" "$@"
fi

# The benchmarks, briefly: proves the scripts run and produce numbers (timings are not checked;
# `make bench` measures for real). Uses PostgreSQL too when TEST_DATABASE_URL is set.
echo "== benchmarks (short)"
$BIN/python -m bench --short
