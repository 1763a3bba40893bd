"""Connector settings: on when present, one start-up line each, never a value in the log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from connectors.base import Done
from connectors.registry import (
    SPECS,
    ConnectorDeps,
    ConnectorSpec,
    enabled_connectors,
    log_connectors,
)
from tests.connectors.toy import ScriptedToy

SECRET = "rk_live_do_not_log_me"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_contract_systems_are_listed() -> None:
    assert [s.name for s in SPECS] == [
        "plisio",
        "stripe",
        "stripe_refunds",  # Stripe's refunds: on with the same key
        "hubspot",
        "zendesk",
        "google_sheets",
        "google_drive",
        "gmail",
        "quickbooks",
    ]


def test_every_connector_setting_exists_in_settings() -> None:
    fields = set(Settings.model_fields)
    for spec in SPECS:
        for name in spec.settings:
            assert name.lower() in fields, name


def test_start_up_lines_say_on_off_and_what_to_set(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connectors")
    lines = log_connectors(
        settings(
            plisio_secret_key="k",
            stripe_api_key=SECRET,
            zendesk_url="https://acme.zendesk.com",
            zendesk_email="bot@acme.test",
        )
    )
    assert "connector plisio: on" in lines
    assert "connector stripe: on" in lines
    assert "connector hubspot: off (set HUBSPOT_ACCESS_TOKEN)" in lines
    assert "connector zendesk: off (set ZENDESK_API_TOKEN)" in lines
    assert (
        "connector quickbooks: off (set QUICKBOOKS_CLIENT_ID, QUICKBOOKS_CLIENT_SECRET, "
        "QUICKBOOKS_REFRESH_TOKEN, QUICKBOOKS_REALM_ID)" in lines
    )
    assert len(lines) == len(SPECS)
    assert all(line in caplog.text for line in lines)
    assert SECRET not in caplog.text


def test_plisio_is_off_without_its_key() -> None:
    assert "connector plisio: off (set PLISIO_SECRET_KEY)" in log_connectors(settings())


async def test_enabled_connectors_builds_those_whose_settings_are_present(
    tmp_path: Path,
) -> None:
    toy = ScriptedToy([Done()])
    specs = [
        ConnectorSpec("toy", ("STRIPE_API_KEY",), factory=lambda deps: toy),
        ConnectorSpec("other", ("HUBSPOT_ACCESS_TOKEN",), factory=lambda deps: toy),
    ]
    async with httpx.AsyncClient() as http:
        deps = ConnectorDeps(
            settings=settings(stripe_api_key="x"),
            db=None,  # type: ignore[arg-type]
            http=http,
            clock=lambda: datetime.now(UTC),
        )
        assert enabled_connectors(deps, specs) == [toy]
        assert [c.name for c in enabled_connectors(deps)] == ["stripe", "stripe_refunds"]
