"""delegations: an approver away until a time, and who approves for them meanwhile

Also ``approvals.on_behalf_of``: the away approver whose authority a delegate's approval used.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("approver", sa.String(length=32), nullable=False),
        sa.Column("delegate", sa.String(length=32), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delegations_delegate", "delegations", ["delegate"])
    op.create_index("ix_delegations_approver_ended", "delegations", ["approver", "ended_at"])
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("on_behalf_of", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("on_behalf_of")
    op.drop_index("ix_delegations_approver_ended", table_name="delegations")
    op.drop_index("ix_delegations_delegate", table_name="delegations")
    op.drop_table("delegations")
