"""Configuration from the environment (and an optional ``.env``), validated at start-up.

Every problem is reported at once, naming the variable, so an operator fixes them in one pass.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_BOT_SCOPES", "BotMode", "ConfigError", "Settings", "load_settings"]

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./data/finance-handoff-bot.db"
DEFAULT_SANDBOX_SQLITE_URL = "sqlite+aiosqlite:///./data/sandbox.db"
# The bot scopes manifest.yml asks for (a test keeps them in step); what an OAuth install grants.
DEFAULT_BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "im:history",
    "im:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
)


class BotMode(StrEnum):
    AUTO = "auto"
    SLACK = "slack"
    SANDBOX = "sandbox"


class ConfigError(Exception):
    """The configuration cannot start the bot; the message says what to set."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,  # `SLACK_BOT_TOKEN=` (as .env.example suggests) means unset
    )

    bot_mode: BotMode = BotMode.AUTO
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    # Several workspaces: Slack's OAuth install flow (/slack/install) instead of one bot token.
    # On when both are set; each install's bot token is stored encrypted with
    # CONNECTOR_ENCRYPTION_KEY (required then).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # Where Slack sends installers back (default: PUBLIC_URL + /slack/oauth_redirect).
    slack_install_redirect_uri: str | None = None
    slack_scopes: str = ",".join(DEFAULT_BOT_SCOPES)  # comma-separated bot scopes to request
    # Slack's "Allow" page (tests and the sandbox point it at their loopback double).
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    # How long an install link (its OAuth state) stays good.
    slack_install_state_seconds: int = Field(default=600, ge=60, le=3600)
    slack_api_url: str = "https://slack.com/api/"
    plisio_secret_key: SecretStr | None = None
    plisio_api_url: str = "https://api.plisio.net/api/v1"
    dialnexa_webhook_secret: SecretStr | None = None
    database_url: str | None = None
    # Sandbox mode never touches DATABASE_URL: its data is made up and must stay apart.
    sandbox_database_url: str = DEFAULT_SANDBOX_SQLITE_URL
    database_schema: str | None = None  # PostgreSQL only: keep the bot's tables in this schema
    host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    port: int = Field(default=3000, ge=1, le=65535)
    public_url: str = "http://localhost:3000"
    routing_file: Path = Path("routing.toml")
    log_level: str = "INFO"
    # Bolt answers Slack only after the listener finishes (FaaS style); tests use it to be
    # deterministic. Leave off in production: clicks are acknowledged first, then worked on.
    slack_process_before_response: bool = False
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # How long a claimed outbox item stays reserved for the process that claimed it: work left
    # by a process that died is taken up by another (or the restarted one) after this long.
    outbox_lease_seconds: float = Field(default=60.0, ge=1)
    # Top-level handoff posts per second per channel (Slack documents about 1); the poster slows
    # down further, per channel, whenever Slack answers 429.
    slack_post_rate_per_channel: float = Field(default=1.0, gt=0, le=100)
    reminder_poll_seconds: float = Field(default=30.0, gt=0)
    # Processes serving HTTP on PORT (slack mode): the first also runs the poster and the
    # scheduler, the others only answer requests. One per core is a good start on a busy intake.
    web_processes: int = Field(default=1, ge=1, le=64)
    # Slow or unfinished requests (slowloris): a connection must deliver a request's headers
    # within this long of opening (or of its previous answer), and its body within the next.
    http_header_timeout_seconds: float = Field(default=15.0, gt=0, le=3600)
    http_body_timeout_seconds: float = Field(default=15.0, gt=0, le=3600)
    # GET /metrics (Prometheus) answers only a scraper sending "Authorization: Bearer <this>";
    # unset, the route answers 404.
    metrics_token: SecretStr | None = None
    # Bearer token of GET /export/handoffs.csv (the audit export for scripts); unset: no route.
    export_api_token: SecretStr | None = None

    # Connectors (connectors/registry.py): each is on when its settings are present.
    # A Fernet key (``Fernet.generate_key()``) encrypting rotating OAuth tokens in the database;
    # sandbox mode makes one per database when unset.
    connector_encryption_key: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    # How long what a read connector (Stripe, HubSpot) learned about a customer is reused before
    # it asks again; Refresh context always asks again.
    context_cache_seconds: float = Field(default=300.0, ge=0)
    hubspot_access_token: SecretStr | None = None
    hubspot_api_base: str = "https://api.hubapi.com"
    # HubSpot's limit on every call but search, per 10 seconds: 100 on Free and Starter, 190 on
    # Professional and Enterprise (private apps). Lookups of many customers are bound by it.
    hubspot_requests_per_10_seconds: int = Field(default=100, ge=1, le=1000)
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    google_service_account_file: Path | None = None
    google_delegated_user: str | None = None
    google_api_base: str | None = None  # replaces the root of every Google API used
    google_sheets_spreadsheet_id: str | None = None
    google_sheets_tab: str = "Exceptions"
    google_drive_folder_id: str | None = None
    gmail_sender: str | None = None
    # Who the invoices, receipts and credit notes (services/documents) are from.
    company_name: str = "Acme Inc. (sandbox)"
    company_address: str = "1 Example Street, Springfield, US"
    quickbooks_client_id: str | None = None
    quickbooks_client_secret: SecretStr | None = None
    quickbooks_refresh_token: SecretStr | None = None
    quickbooks_realm_id: str | None = None
    quickbooks_api_base: str = "https://quickbooks.api.intuit.com"
    quickbooks_token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105
    # The account refunds are paid from (RefundReceipt.DepositToAccountRef); else the first
    # active Bank account.
    quickbooks_refund_account_id: str | None = None

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("plisio_api_url", "public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value.upper()

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def multi_workspace(self) -> bool:
        """Slack's OAuth install flow serves several workspaces (else one bot token)."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def slack_configured(self) -> bool:
        token = self.slack_bot_token is not None or self.multi_workspace
        return token and self.slack_signing_secret is not None

    def install_redirect_uri(self) -> str:
        """Where Slack sends an installer back (it must be one of the app's redirect URLs)."""
        return self.slack_install_redirect_uri or f"{self.public_url}/slack/oauth_redirect"

    def bot_scopes(self) -> list[str]:
        return [scope.strip() for scope in self.slack_scopes.split(",") if scope.strip()]

    def effective_mode(self) -> BotMode:
        """Slack when Slack is configured (or demanded), else the local sandbox."""
        if self.bot_mode is BotMode.AUTO:
            return BotMode.SLACK if self.slack_configured else BotMode.SANDBOX
        return self.bot_mode

    def effective_database_url(self) -> str:
        """SANDBOX_DATABASE_URL in sandbox mode, else DATABASE_URL (default: a SQLite file)."""
        if self.effective_mode() is BotMode.SANDBOX:
            return self.sandbox_database_url
        return self.database_url or DEFAULT_SQLITE_URL

    def missing_for_slack(self) -> list[str]:
        """Names of the settings production (Slack) mode needs but does not have."""
        required: dict[str, object] = {
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "PLISIO_SECRET_KEY": self.plisio_secret_key,
            "DIALNEXA_WEBHOOK_SECRET": self.dialnexa_webhook_secret,
        }
        if self.multi_workspace:  # installs' tokens are stored encrypted
            required["CONNECTOR_ENCRYPTION_KEY"] = self.connector_encryption_key
        else:
            required = {"SLACK_BOT_TOKEN": self.slack_bot_token, **required}
        return [name for name, value in required.items() if value is None]


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "(settings)"
        lines.append(f"  {name}: {item['msg']}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and check the settings; raise ConfigError naming every problem."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError("Invalid configuration:\n" + _describe(exc)) from None
    if settings.effective_mode() is BotMode.SLACK:
        missing = settings.missing_for_slack()
        if missing:
            raise ConfigError(
                "Slack mode needs these settings, which are not set:\n"
                + "\n".join(f"  {name}" for name in missing)
                + "\nCreate the Slack app from manifest.yml (api.slack.com/apps -> From a manifest),"
                " then copy .env.example to .env and fill them in."
                " Unset BOT_MODE (or set BOT_MODE=sandbox) to try the bot without Slack."
            )
    return settings
