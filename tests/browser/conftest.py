"""Browser fixtures: one sandbox bot and one headless Chromium for the whole package.

Without Playwright or Chromium the tests skip, saying how to get them (``make browsers``), except
with ``CI=true``, where a missing browser is a failure: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.sandbox_bot import CHROMIUM_ARGS, SandboxBot, chromium_path, running_sandbox_bot
from tests.browser.sandbox_page import SandboxPage

IN_CI = os.environ.get("CI", "").lower() == "true"
TIMEZONE = "Europe/Berlin"  # the page must show Slack date tokens in the browser's own zone
VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 10_000


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "Chromium is not installed (run `make browsers`, or apt-get install chromium)"
    return None


@pytest.fixture(scope="package")
def chromium() -> str:
    """The Chromium executable, or skip (fail in CI) saying what is missing."""
    missing = _missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"browser tests must run in CI, but {missing}", pytrace=False)
        pytest.skip(missing)
    path = chromium_path()
    assert path is not None
    return path


@pytest.fixture(scope="package")
def sandbox_bot(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[SandboxBot]:
    """``python -m bot`` in sandbox mode, in a fresh working directory."""
    with running_sandbox_bot(tmp_path_factory.mktemp("sandbox-bot")) as bot:
        yield bot


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Any]:
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, sandbox_bot: SandboxBot) -> Iterator[Any]:
    """A fresh browser tab; page errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id=TIMEZONE, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture
def sandbox(page: Any, sandbox_bot: SandboxBot) -> SandboxPage:
    """The sandbox page, open as the first approver in #finance."""
    return SandboxPage(page, sandbox_bot.page_url).open()
