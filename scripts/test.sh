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

echo "== pytest (SQLite)"
env -u TEST_DATABASE_URL $BIN/pytest -q -p no:cacheprovider "$@"

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "== pytest (PostgreSQL: ${TEST_DATABASE_URL%%\?*})"
  $BIN/pytest -q -p no:cacheprovider "$@"
fi
