"""Sandbox mode's settings: fresh secrets, loopback URLs, the demo routing, the banner."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.settings import BotMode, Settings
from sandbox.setup import EXAMPLE_ROUTING_FILE, SandboxSetup, banner, sandbox_routing

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def secrets_of(s: Settings) -> list[str]:
    return [
        value.get_secret_value()
        for value in (
            s.slack_bot_token,
            s.slack_signing_secret,
            s.plisio_secret_key,
            s.dialnexa_webhook_secret,
        )
        if value is not None
    ]


def test_auto_mode_without_slack_credentials_is_sandbox() -> None:
    assert settings().effective_mode() is BotMode.SANDBOX
    assert settings(slack_bot_token="x", slack_signing_secret="y").effective_mode() is BotMode.SLACK


def test_secrets_are_generated_per_process_and_never_the_operators(tmp_path: Path) -> None:
    given = settings(
        bot_mode="sandbox",
        routing_file=tmp_path / "none.toml",
        slack_bot_token="xoxb-real-production-token",
        plisio_secret_key="real-plisio-key",
        slack_app_token="xapp-real",
    )
    first, second = SandboxSetup.create(given), SandboxSetup.create(given)
    assert len(secrets_of(first.settings)) == 4
    assert "xoxb-real-production-token" not in secrets_of(first.settings)
    assert "real-plisio-key" not in secrets_of(first.settings)
    assert first.settings.slack_app_token is None  # never Socket Mode to real Slack
    assert set(secrets_of(first.settings)).isdisjoint(secrets_of(second.settings))


def test_every_outbound_url_points_at_the_bot_itself(tmp_path: Path) -> None:
    setup = SandboxSetup.create(settings(port=4123, routing_file=tmp_path / "none.toml"))
    s = setup.settings
    assert s.public_url == "http://127.0.0.1:4123"
    assert s.slack_api_url == "http://127.0.0.1:4123/sandbox/slack/api/"
    assert s.plisio_api_url == "http://127.0.0.1:4123/sandbox/plisio/api/v1"
    assert setup.ui_url == "http://127.0.0.1:4123/sandbox"
    assert s.host == "127.0.0.1"  # loopback unless HOST was set on purpose


def test_an_explicit_host_is_kept(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - the operator asked for it
    setup = SandboxSetup.create(settings(host=everywhere, routing_file=tmp_path / "x.toml"))
    assert setup.settings.host == everywhere
    assert setup.settings.public_url == "http://127.0.0.1:3000"


def test_sandbox_data_never_goes_to_the_production_database() -> None:
    production = "postgresql+asyncpg://bot:pw@db.internal/finance"
    sandbox = settings(bot_mode="sandbox", database_url=production)
    assert sandbox.effective_database_url() == "sqlite+aiosqlite:///./data/sandbox.db"
    slack = settings(bot_mode="slack", database_url=production)
    assert slack.effective_database_url() == production


def test_sandbox_settings_are_refused_outside_sandbox_mode() -> None:
    with pytest.raises(ValueError, match="sandbox mode"):
        SandboxSetup.create(settings(bot_mode="slack"))


@pytest.mark.parametrize("copy_example", [False, True])
def test_demo_routing_when_routing_toml_is_absent_or_the_example(
    tmp_path: Path, copy_example: bool
) -> None:
    path = tmp_path / "routing.toml"
    if copy_example:
        shutil.copy(EXAMPLE_ROUTING_FILE, path)
    routing, source = sandbox_routing(path)
    assert routing.channels.default == "C0FINANCE"
    assert routing.approvers.users == ["U0APPROVER1", "U0APPROVER2"]
    assert routing.approvers.usergroups == ["S0APPROVERS"]
    assert routing.approvers.dm_default == "dm"  # the sandbox shows approval requests in DMs
    assert "demo routing" in source


def test_an_operators_own_routing_is_used(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('[channels]\ndefault = "#money"\n', encoding="utf-8")
    routing, source = sandbox_routing(path)
    assert routing.channels.default == "#money"
    assert source == str(path)


def test_the_example_routing_file_is_the_repos() -> None:
    assert EXAMPLE_ROUTING_FILE == ROOT / "routing.example.toml"


def test_banner_names_the_url_and_no_secret(tmp_path: Path) -> None:
    setup = SandboxSetup.create(settings(port=4555, routing_file=tmp_path / "x.toml"))
    text = banner(setup)
    assert "SANDBOX MODE" in text
    assert "http://127.0.0.1:4555/sandbox" in text
    assert "no Slack credentials are configured" in text
    assert "./data/sandbox.db" in text
    for secret in secrets_of(setup.settings):
        assert secret not in text
    forced = SandboxSetup.create(settings(bot_mode="sandbox", routing_file=tmp_path / "x.toml"))
    assert "BOT_MODE=sandbox" in banner(forced)


def test_empty_slack_values_in_the_environment_mean_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BOT_MODE", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")
    assert settings().effective_mode() is BotMode.SANDBOX
