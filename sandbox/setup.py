"""Sandbox mode's configuration: per-process secrets, loopback URLs, demo routing, the banner.

Nothing here trusts the operator's real credentials: every secret is generated for this process,
and the Slack and Plisio URLs point at the sandbox routes on the bot's own port, so a sandbox run
can never reach (or be mistaken for) the production services.
"""

from __future__ import annotations

import logging
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.settings import BotMode, Settings
from sandbox.google import sandbox_settings as google_sandbox_settings
from sandbox.google_drive_gmail import SANDBOX_DRIVE_FOLDER, SANDBOX_GMAIL_SENDER
from services.routing import RoutingConfig, load_routing

__all__ = [
    "DEMO_ROUTING_FILE",
    "EXAMPLE_ROUTING_FILE",
    "HUBSPOT_PREFIX",
    "METRICS_PATH",
    "PAY_PATH",
    "PLISIO_PREFIX",
    "SLACK_PREFIX",
    "STRIPE_PREFIX",
    "UI_PATH",
    "ZENDESK_PREFIX",
    "SandboxSetup",
    "banner",
    "sandbox_routing",
]

logger = logging.getLogger(__name__)

UI_PATH = "/sandbox"
# GET /metrics without the bearer token, for the sandbox's made-up data only (loopback by default)
METRICS_PATH = "/sandbox/metrics"
SLACK_PREFIX = "/sandbox/slack"
QUICKBOOKS_PREFIX = "/sandbox/quickbooks"
PLISIO_PREFIX = "/sandbox/plisio"
STRIPE_PREFIX = "/sandbox/stripe"
HUBSPOT_PREFIX = "/sandbox/hubspot"
PAY_PATH = "/sandbox/pay"
ZENDESK_PREFIX = "/sandbox/zendesk"
DEMO_ROUTING_FILE = Path(__file__).with_name("demo_routing.toml")
EXAMPLE_ROUTING_FILE = Path(__file__).resolve().parents[1] / "routing.example.toml"
_ALL_INTERFACES = {"", "0.0.0.0", "::", "localhost"}  # noqa: S104 - names, not a bind


@dataclass(frozen=True)
class SandboxSetup:
    """The settings and routing a sandbox-mode process runs with."""

    settings: Settings
    routing: RoutingConfig
    routing_source: str
    reason: str

    @property
    def base_url(self) -> str:
        """The bot's own URL (the sandbox page is under ``/sandbox``)."""
        return self.settings.public_url

    @property
    def ui_url(self) -> str:
        """The URL to open in a browser."""
        return self.base_url + UI_PATH

    @classmethod
    def create(cls, settings: Settings, routing: RoutingConfig | None = None) -> SandboxSetup:
        """Sandbox settings derived from ``settings``; ``routing`` wins over any file."""
        prepared = sandbox_settings(settings)
        reason = (
            "BOT_MODE=sandbox"
            if settings.bot_mode is BotMode.SANDBOX
            else "no Slack credentials are configured"
        )
        if routing is not None:
            return cls(prepared, routing, "given by the caller", reason)
        config, source = sandbox_routing(settings.routing_file)
        return cls(prepared, config, source, reason)


def _url_host(host: str) -> str:
    if host in _ALL_INTERFACES or host.startswith("127."):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def sandbox_settings(settings: Settings) -> Settings:
    """A copy of ``settings`` with fresh secrets and every outbound URL pointing at itself."""
    if settings.effective_mode() is not BotMode.SANDBOX:
        raise ValueError("sandbox settings are only for sandbox mode")
    # Loopback unless HOST was set on purpose: the page lets anyone act as any demo user.
    host = settings.host if "host" in settings.model_fields_set else "127.0.0.1"
    base = f"http://{_url_host(host)}:{settings.port}"
    return settings.model_copy(
        update={
            "bot_mode": BotMode.SANDBOX,
            "host": host,
            "public_url": base,
            "slack_api_url": f"{base}{SLACK_PREFIX}/api/",
            "plisio_api_url": f"{base}{PLISIO_PREFIX}/api/v1",
            "slack_bot_token": SecretStr("xoxb-sandbox-" + secrets.token_hex(16)),
            "slack_signing_secret": SecretStr(secrets.token_hex(32)),
            "slack_app_token": None,
            "plisio_secret_key": SecretStr(secrets.token_hex(32)),
            "dialnexa_webhook_secret": SecretStr(secrets.token_hex(32)),
            # GET /metrics keeps its token (this run's); the page's copy is /sandbox/metrics.
            "metrics_token": SecretStr(secrets.token_urlsafe(24)),
            "stripe_api_base": f"{base}{STRIPE_PREFIX}",
            "stripe_api_key": SecretStr("sk_test_sandbox" + secrets.token_hex(12)),
            "hubspot_api_base": f"{base}{HUBSPOT_PREFIX}",
            "hubspot_access_token": SecretStr("pat-na1-" + secrets.token_hex(16)),
            **google_sandbox_settings(settings.sandbox_database_url, base),
            # Drive and Gmail act as the finance mailbox (domain-wide delegation).
            "google_delegated_user": SANDBOX_GMAIL_SENDER,
            "google_drive_folder_id": SANDBOX_DRIVE_FOLDER,
            "gmail_sender": SANDBOX_GMAIL_SENDER,
            "quickbooks_client_id": "sandbox-quickbooks-app",
            "quickbooks_client_secret": SecretStr(secrets.token_hex(16)),
            "quickbooks_refresh_token": SecretStr("RT1-sandbox-" + secrets.token_hex(16)),
            "quickbooks_realm_id": "9341450000000000",
            "quickbooks_api_base": f"{base}{QUICKBOOKS_PREFIX}",
            "quickbooks_token_url": f"{base}{QUICKBOOKS_PREFIX}/oauth2/v1/tokens/bearer",
            "zendesk_url": f"{base}{ZENDESK_PREFIX}",
            "zendesk_email": "finance-bot@sandbox.example",
            "zendesk_api_token": SecretStr(secrets.token_hex(20)),
        }
    )


def _toml(path: Path) -> object:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None


def sandbox_routing(path: Path) -> tuple[RoutingConfig, str]:
    """The demo routing unless ``path`` holds a routing of the operator's own; says which."""
    if not path.exists():
        return load_routing(DEMO_ROUTING_FILE), f"built-in demo routing ({path} not found)"
    example = _toml(EXAMPLE_ROUTING_FILE)
    if example is not None and _toml(path) == example:
        return load_routing(DEMO_ROUTING_FILE), f"built-in demo routing ({path} is the example)"
    return load_routing(path), str(path)


def _database(url: str) -> str:
    """A SQLite URL as its file, any other URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)


def banner(setup: SandboxSetup) -> str:
    """The start-up banner printed on stderr in sandbox mode."""
    rule = "=" * 78
    lines = [
        rule,
        "  SANDBOX MODE: a pretend Slack workspace and Plisio, local to this process.",
        f"  ({setup.reason}; nothing is sent to Slack, Plisio or DialNexa)",
        "",
        f"  Open  {setup.ui_url}",
        "",
        f"  Data:     {_database(setup.settings.effective_database_url())} (sandbox only)",
        f"  Routing:  {setup.routing_source}",
        "  Secrets:  generated for this run",
        f"  Metrics:  {setup.base_url}{METRICS_PATH} (Prometheus text, sandbox data only)",
        "  Real Slack: fill in .env (see README) and set BOT_MODE=slack.",
        rule,
    ]
    return "\n".join(lines)
