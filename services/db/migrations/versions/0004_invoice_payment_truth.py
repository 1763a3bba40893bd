"""what the bot concluded from an invoice's payments, and which invoice a reissue replaced

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.db.types import DecimalString, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("expected_amount", DecimalString(), nullable=True))
        batch_op.add_column(sa.Column("expected_currency", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("received_amount", DecimalString(), nullable=True))
        batch_op.add_column(sa.Column("received_currency", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        for column in (
            "superseded_at",
            "review_reason",
            "received_currency",
            "received_amount",
            "expected_currency",
            "expected_amount",
            "payment_state",
        ):
            batch_op.drop_column(column)
