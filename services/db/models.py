"""The tables: handoffs, approvals, the append-only audit log, the outbox and invoices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.db.types import DecimalString, UTCDateTime

__all__ = [
    "Approval",
    "ApproverDm",
    "ApproverPref",
    "AuditEntry",
    "Base",
    "ConnectorCredential",
    "Delegation",
    "ExternalRef",
    "HandoffRow",
    "InfoRequestRow",
    "InvoiceRow",
    "OutboxItem",
    "RefundRow",
    "SeenInteraction",
    "SlackBotRow",
    "SlackInstallationRow",
    "SlackOAuthStateRow",
]

# An autoincrementing 64-bit id; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class HandoffRow(Base):
    __tablename__ = "handoffs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="handoff")
    workflow: Mapped[str] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(10))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(80))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(254))
    owner_slack_id: Mapped[str | None] = mapped_column(String(32))
    requested_by: Mapped[str | None] = mapped_column(String(32))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal | None] = mapped_column(DecimalString)
    currency: Mapped[str | None] = mapped_column(String(10))
    customer_email: Mapped[str | None] = mapped_column(String(254), index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    two_person: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_mapping: Mapped[bool] = mapped_column(Boolean, default=False)
    review_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    missing_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    redacted: Mapped[list[str]] = mapped_column(JSON, default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    resolution: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What read-side connectors learned (Stripe, HubSpot ...), by connector name.
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Follow-up state: the next time the reminder loop must look at this handoff (NULL = never).
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_step: Mapped[int] = mapped_column(Integer, default=0)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Slack workspace it belongs to when one deployment serves several (OAuth installs);
    # empty in single-token mode.
    team_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_handoffs_next_reminder_at", "next_reminder_at"),
        Index("ix_handoffs_owner_status", "owner_slack_id", "status"),
        # A reply in a thread finds its handoff by the message it answers.
        Index("ix_handoffs_channel_message", "channel", "message_ts"),
    )


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id"), index=True)
    approver: Mapped[str] = mapped_column(String(32))  # the person who clicked
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The away approver whose authority a delegate used (NULL: the approver's own).
    on_behalf_of: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("handoff_id", "approver", name="uq_approvals_once"),)


class AuditEntry(Base):
    """One domain event (``services.events``): the audit log is the event log."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The event's key: what connectors' outbox items refer to (NULL on rows older than events).
    key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    handoff_id: Mapped[str | None] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    # The App Home's "what you acted on lately" reads a person's newest entries.
    __table_args__ = (Index("ix_audit_log_actor_at", "actor", "at"),)


class OutboxItem(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str | None] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)


class ExternalRef(Base):
    """An object a connector created or found for a handoff (a ticket, a row, a file, a record).

    Looked up before anything is created again, listed by ``/handoff``, linked from the message.
    """

    __tablename__ = "external_refs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str | None] = mapped_column(String(32), index=True)
    system: Mapped[str] = mapped_column(String(32))  # the connector's name
    kind: Mapped[str] = mapped_column(String(40))  # "invoice", "ticket", "customer", ...
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2048))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("system", "kind", "external_id", name="uq_external_refs_object"),
        Index("ix_external_refs_lookup", "handoff_id", "system", "kind"),
    )


class ConnectorCredential(Base):
    """A connector's rotating secret (an OAuth refresh token), encrypted with Fernet.

    ``version`` is bumped by every rotation: a write that names an older version lost a race with
    another replica and must re-read (compare-and-set), so a rotated token is never overwritten.
    """

    __tablename__ = "connector_credentials"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InvoiceRow(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str | None] = mapped_column(ForeignKey("handoffs.id"), index=True)
    order_number: Mapped[str] = mapped_column(String(128), unique=True)
    txn_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    invoice_url: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal] = mapped_column(DecimalString)
    currency: Mapped[str] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(254))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What the bot concluded from Plisio's callbacks (services.payments.PaymentState), with the
    # amounts it compared: never the status word alone.
    payment_state: Mapped[str | None] = mapped_column(String(20))
    expected_amount: Mapped[Decimal | None] = mapped_column(DecimalString)
    expected_currency: Mapped[str | None] = mapped_column(String(20))
    received_amount: Mapped[Decimal | None] = mapped_column(DecimalString)
    received_currency: Mapped[str | None] = mapped_column(String(20))
    review_reason: Mapped[str | None] = mapped_column(Text)
    # Set when a reissue replaced this invoice; it stays for the audit trail.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SeenInteraction(Base):
    """A Slack interaction already handled, by its identity; a replay of it is acked and dropped.

    Kept only while Slack would still accept a replay (its signatures are good for 5 minutes);
    the primary key is what lets every web process agree on "first time".
    """

    __tablename__ = "seen_interactions"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RefundRow(Base):
    """One refund a handoff asked for: decided by policy or a person, executed exactly once.

    ``key`` (``{call_id}:refund``) is the idempotency key of every external write about it
    (Stripe's ``Idempotency-Key``, QuickBooks' ``requestid``). ``status`` is a
    ``services.refunds.RefundStatus``; ``payment_ref`` names the payment refunded (a Stripe
    ``ch_``/``pi_`` id, a Plisio ``txn_id``, or what the caller gave).
    """

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id"), unique=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_email: Mapped[str | None] = mapped_column(String(254), index=True)
    system: Mapped[str] = mapped_column(String(20))  # "stripe" | "manual"
    payment_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    amount: Mapped[Decimal] = mapped_column(DecimalString)
    currency: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(24), index=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(Text)  # the policy rule that allowed it
    decided_by: Mapped[str | None] = mapped_column(String(64))
    execute_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    external_id: Mapped[str | None] = mapped_column(String(128))  # e.g. Stripe's re_…
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Slack's OAuth installs (multi-workspace mode): the tables of slack_sdk's SQLAlchemy installation
# and OAuth state stores (``slack_sdk.oauth.*.sqlalchemy``), column for column, except that the
# token columns are Text: this bot stores them Fernet-encrypted (slack_adapter/workspaces.py),
# which is longer than the plain token. The stores keep naive UTC datetimes (plain DateTime).


class SlackInstallationRow(Base):
    __tablename__ = "slack_installations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32))
    app_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    enterprise_url: Mapped[str | None] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(200))
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str | None] = mapped_column(String(1000))
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    user_id: Mapped[str] = mapped_column(String(32))
    user_token: Mapped[str | None] = mapped_column(Text)
    user_scopes: Mapped[str | None] = mapped_column(String(1000))
    user_refresh_token: Mapped[str | None] = mapped_column(Text)
    user_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    incoming_webhook_url: Mapped[str | None] = mapped_column(String(200))
    incoming_webhook_channel: Mapped[str | None] = mapped_column(String(200))
    incoming_webhook_channel_id: Mapped[str | None] = mapped_column(String(200))
    incoming_webhook_configuration_url: Mapped[str | None] = mapped_column(String(200))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    token_type: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index(
            "slack_installations_idx",
            "client_id",
            "enterprise_id",
            "team_id",
            "user_id",
            "installed_at",
        ),
    )


class SlackBotRow(Base):
    __tablename__ = "slack_bots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32))
    app_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(200))
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str | None] = mapped_column(String(1000))
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    installed_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
    )


class SlackOAuthStateRow(Base):
    """An install's ``state``: issued by /slack/install, consumed once by the redirect."""

    __tablename__ = "slack_oauth_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(200))
    expire_at: Mapped[datetime] = mapped_column(DateTime)


class ApproverPref(Base):
    """One person's own choice of where approval requests reach them (the Home-tab toggle).

    ``approval_dms``: True "DM too", False "channel only"; no row: routing.toml decides.
    """

    __tablename__ = "approver_prefs"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    approval_dms: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApproverDm(Base):
    """One copy of a handoff's decision message in an approver's DM, kept in step with it.

    One per (handoff, approver, reason); the row is written before the post, so a retry that
    finds it without ``ts`` looks in the DM for the copy an interrupted try may have sent.
    """

    __tablename__ = "approver_dms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id"), index=True)
    approver: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))  # the DM's channel id
    ts: Mapped[str | None] = mapped_column(String(32))  # None until posted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("handoff_id", "approver", "reason", name="uq_approver_dms_once"),
    )


class InfoRequestRow(Base):
    """An approver's question on a handoff before deciding, and its answer (``services.info``).

    ``open_handoff_id`` holds the handoff id while the question waits for its answer and is NULL
    once answered: its unique constraint keeps one open request per handoff. The answer has the
    handoffs' reminder state (``next_reminder_at`` + ``reminder_step``), walked by the same ladder.
    """

    __tablename__ = "info_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id"), index=True)
    open_handoff_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    asked_by: Mapped[str] = mapped_column(String(32))
    asked_to: Mapped[str] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(Text)  # suppressed
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)  # suppressed
    answer_by: Mapped[str | None] = mapped_column(String(32))
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    reminder_step: Mapped[int] = mapped_column(Integer, default=0)


class Delegation(Base):
    """An approver away until ``until``: ``delegate`` approves (and is reminded) for them.

    One active row per approver (``ended_at`` NULL and ``until`` in the future); setting a new
    one ends the old one. ``until`` passing ends it by itself: every reader compares with now.
    """

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    approver: Mapped[str] = mapped_column(String(32))
    delegate: Mapped[str] = mapped_column(String(32), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_delegations_approver_ended", "approver", "ended_at"),)
