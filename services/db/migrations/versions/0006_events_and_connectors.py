"""domain events keyed for connectors; external_refs; connector context; encrypted credentials;
handoffs found by their message (thread replies)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch copy): the append-only triggers on audit_log stay in place.
    op.add_column("audit_log", sa.Column("key", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_log_key", "audit_log", ["key"], unique=True)
    op.add_column("handoffs", sa.Column("context", sa.JSON(), nullable=True))
    op.create_index("ix_handoffs_channel_message", "handoffs", ["channel", "message_ts"])
    op.create_table(
        "external_refs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.String(length=32), nullable=True),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "kind", "external_id", name="uq_external_refs_object"),
    )
    op.create_index("ix_external_refs_handoff_id", "external_refs", ["handoff_id"])
    op.create_index("ix_external_refs_lookup", "external_refs", ["handoff_id", "system", "kind"])
    op.create_table(
        "connector_credentials",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("connector_credentials")
    op.drop_index("ix_external_refs_lookup", table_name="external_refs")
    op.drop_index("ix_external_refs_handoff_id", table_name="external_refs")
    op.drop_table("external_refs")
    op.drop_index("ix_handoffs_channel_message", table_name="handoffs")
    op.drop_column("handoffs", "context")
    op.drop_index("ix_audit_log_key", table_name="audit_log")
    op.drop_column("audit_log", "key")
