"""remember handled Slack interactions for a few minutes, so a replay acts once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_interactions",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("seen_interactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_interactions_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seen_interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_interactions_seen_at"))
    op.drop_table("seen_interactions")
