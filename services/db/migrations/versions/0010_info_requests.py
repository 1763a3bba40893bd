"""info_requests: an approver's question on a handoff, its answer, and its reminder ladder

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "info_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.String(length=32), nullable=False),
        sa.Column("open_handoff_id", sa.String(length=32), nullable=True),
        sa.Column("asked_by", sa.String(length=32), nullable=False),
        sa.Column("asked_to", sa.String(length=32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_by", sa.String(length=32), nullable=True),
        sa.Column("next_reminder_at", UTCDateTime(), nullable=True),
        sa.Column("reminder_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_handoff_id"),
    )
    op.create_index("ix_info_requests_handoff_id", "info_requests", ["handoff_id"])
    op.create_index("ix_info_requests_next_reminder_at", "info_requests", ["next_reminder_at"])


def downgrade() -> None:
    op.drop_index("ix_info_requests_next_reminder_at", table_name="info_requests")
    op.drop_index("ix_info_requests_handoff_id", table_name="info_requests")
    op.drop_table("info_requests")
