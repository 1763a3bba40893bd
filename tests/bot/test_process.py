"""`python -m bot` as an operator runs it: starts, reports healthy, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bot_starts_healthy_and_shuts_down_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "routing.toml").write_text((ROOT / "routing.example.toml").read_text())
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "PLISIO_", "DIALNEXA_", "DATABASE_"))
    }
    env.update(
        {
            "BOT_MODE": "slack",
            "SLACK_BOT_TOKEN": "xoxb-process-test",
            "SLACK_SIGNING_SECRET": "process-test-secret",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called in this test
            "PLISIO_SECRET_KEY": "process-test-plisio",
            "PLISIO_API_URL": "http://127.0.0.1:9/api/v1",
            "DIALNEXA_WEBHOOK_SECRET": "process-test-dialnexa",
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.1)
        assert health is not None, "the bot never became healthy"
        assert health["status"] == "ok"
        assert health["database"] == {"backend": "sqlite", "reachable": True}
        assert (tmp_path / "data" / "finance-handoff-bot.db").exists()  # default SQLite file
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err.decode()
        assert b"shutting down" in err
        assert b"Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
