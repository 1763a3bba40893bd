"""refunds: one per refund handoff, decided by policy or a person, executed exactly once

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import DecimalString, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("customer_email", sa.String(length=254), nullable=True),
        sa.Column("system", sa.String(length=20), nullable=False),
        sa.Column("payment_ref", sa.String(length=128), nullable=True),
        sa.Column("amount", DecimalString(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("execute_after", UTCDateTime(), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handoff_id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_refunds_customer_email", "refunds", ["customer_email"])
    op.create_index("ix_refunds_payment_ref", "refunds", ["payment_ref"])
    op.create_index("ix_refunds_status", "refunds", ["status"])
    op.create_index("ix_refunds_execute_after", "refunds", ["execute_after"])


def downgrade() -> None:
    op.drop_index("ix_refunds_execute_after", table_name="refunds")
    op.drop_index("ix_refunds_status", table_name="refunds")
    op.drop_index("ix_refunds_payment_ref", table_name="refunds")
    op.drop_index("ix_refunds_customer_email", table_name="refunds")
    op.drop_table("refunds")
