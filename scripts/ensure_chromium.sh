#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the browser tests (tests/browser, driven by Playwright
# without downloading a browser). As root with apt-get (CI, a fresh container) it installs the
# `chromium` package; elsewhere it says how, and the browser tests skip, except with CI=true,
# where a missing browser fails here and in the tests.
set -uo pipefail

have_chromium() {
  { [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; } ||
    [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1
}

have_chromium && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
  have_chromium && exit 0
fi
echo "note: Chromium is not installed, so the browser tests will be skipped." >&2
echo "      Install Debian's chromium package (sudo apt-get install chromium) or set CHROMIUM_PATH." >&2
[ "${CI:-}" = "true" ] && exit 1
exit 0
