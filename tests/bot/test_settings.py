from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import BotMode, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PLISIO_", "DIALNEXA_", "BOT_", "DATABASE_", "PORT")):
            monkeypatch.delenv(name, raising=False)


def test_slack_mode_names_every_missing_setting_and_the_manifest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_MODE", "slack")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for name in ("SLACK_SIGNING_SECRET", "PLISIO_SECRET_KEY", "DIALNEXA_WEBHOOK_SECRET"):
        assert name in message
    assert "SLACK_BOT_TOKEN" not in message
    assert "manifest.yml" in message


def test_malformed_values_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "seventy")
    monkeypatch.setenv("PLISIO_API_URL", "ftp://nope")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "PORT" in str(info.value)
    assert "PLISIO_API_URL" in str(info.value)


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        plisio_secret_key="p",
        dialnexa_webhook_secret="d",
    )
    assert settings.effective_mode() is BotMode.SLACK
    assert settings.port == 3000
    assert settings.plisio_api_url == "https://api.plisio.net/api/v1"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.effective_database_url().startswith("sqlite+aiosqlite:///./data/")
    assert settings.routing_file == Path("routing.toml")
    assert not settings.socket_mode


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PORT=4100\nSLACK_APP_TOKEN=xapp-1\n")
    settings = load_settings()
    assert settings.port == 4100
    assert settings.socket_mode


def test_run_command_refuses_slack_mode_without_credentials(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PLISIO_", "DIALNEXA_"))
    }
    env["BOT_MODE"] = "slack"
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "manifest.yml" in result.stderr
    assert "Traceback" not in result.stderr
