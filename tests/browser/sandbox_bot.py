"""Start the real bot (``python -m bot``) in sandbox mode on a free loopback port, and a browser.

Used by the browser tests and by ``scripts/screenshots.py``; nothing here is product code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "CHROMIUM_ARGS",
    "ROOT",
    "SandboxBot",
    "chromium_path",
    "free_port",
    "running_sandbox_bot",
]

ROOT = Path(__file__).resolve().parents[2]
# As this machine's probe runs Chromium: no sandbox (root), no background traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT = 40.0
STOP_TIMEOUT = 15.0
# Only these reach the child: a developer's own credentials must not switch it to Slack mode.
_DROPPED = (
    "SLACK_",
    "PLISIO_",
    "DIALNEXA_",
    "DATABASE_",
    "SANDBOX_",
    "BOT_",
    "ROUTING_",
    "PUBLIC_",
)


def chromium_path() -> str | None:
    """Debian's Chromium (or ``CHROMIUM_PATH``), if installed."""
    wanted = os.environ.get("CHROMIUM_PATH")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(name).exists():
            return name
    return shutil.which("chromium")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class SandboxBot:
    """A running ``python -m bot`` in sandbox mode."""

    base_url: str
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def page_url(self) -> str:
        """The sandbox page."""
        return f"{self.base_url}/sandbox"

    def log(self) -> str:
        """What the bot wrote to stderr so far."""
        return (self.workdir / "bot.log").read_text(encoding="utf-8", errors="replace")


def _env(port: int, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED) and k != "PORT"}
    env.update(
        BOT_MODE="sandbox",
        PORT=str(port),
        LOG_LEVEL="INFO",
        OUTBOX_POLL_SECONDS="0.2",
        REMINDER_POLL_SECONDS="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _wait_ready(bot: SandboxBot) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if bot.process.poll() is not None:
            raise RuntimeError(f"the sandbox bot exited early:\n{bot.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{bot.base_url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the sandbox bot did not start in {START_TIMEOUT:.0f} s:\n{bot.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def running_sandbox_bot(
    workdir: Path, *, port: int | None = None, **env: str
) -> Iterator[SandboxBot]:
    """Run ``python -m bot`` with BOT_MODE=sandbox in ``workdir`` (on ``port``) until the end."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "bot.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=workdir,
            env=_env(port, env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    bot = SandboxBot(f"http://127.0.0.1:{port}", workdir, process)
    try:
        _wait_ready(bot)
        yield bot
    finally:
        _stop(process)
