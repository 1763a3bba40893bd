"""Multi-workspace settings: what turns it on, what it needs, the scopes it asks Slack for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import DEFAULT_BOT_SCOPES, BotMode, ConfigError, load_settings
from tests.bot.test_settings import clean_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_install_asks_for_the_manifests_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert list(DEFAULT_BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://finance-bot.example.com/slack/oauth_redirect"
    ]


def test_client_id_and_secret_turn_on_several_workspaces_without_a_bot_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch)
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "SLACK_CLIENT_ID": "1.2",
        "SLACK_CLIENT_SECRET": "c",
        "SLACK_SIGNING_SECRET": "s",
        "PLISIO_SECRET_KEY": "p",
        "DIALNEXA_WEBHOOK_SECRET": "d",
        "PUBLIC_URL": "https://bot.example.com",
    }.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as info:  # installs' tokens are stored encrypted
        load_settings()
    assert "CONNECTOR_ENCRYPTION_KEY" in str(info.value)
    assert "SLACK_BOT_TOKEN" not in str(info.value)

    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", "k")
    settings = load_settings()
    assert settings.multi_workspace
    assert settings.effective_mode() is BotMode.SLACK
    assert settings.install_redirect_uri() == "https://bot.example.com/slack/oauth_redirect"
    assert settings.bot_scopes() == list(DEFAULT_BOT_SCOPES)


def test_a_bot_token_alone_stays_single_token_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("PLISIO_SECRET_KEY", "p")
    monkeypatch.setenv("DIALNEXA_WEBHOOK_SECRET", "d")
    settings = load_settings()
    assert not settings.multi_workspace
    assert settings.effective_mode() is BotMode.SLACK
