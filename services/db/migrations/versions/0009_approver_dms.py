"""approval requests in approvers' DMs: each copy recorded, and each person's choice

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approver_prefs",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("approval_dms", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "approver_dms",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("handoff_id", sa.String(length=32), nullable=False),
        sa.Column("approver", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handoff_id", "approver", "reason", name="uq_approver_dms_once"),
    )
    with op.batch_alter_table("approver_dms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approver_dms_handoff_id"), ["handoff_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("approver_dms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approver_dms_handoff_id"))
    op.drop_table("approver_dms")
    op.drop_table("approver_prefs")
