"""The call summary's outcome as its own column, so the review list can filter and sort by it.

The summary itself (JSON) already has the ``calls.summary`` column from 0001.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("outcome", sa.String(32)))
        batch.create_index("ix_calls_outcome", ["outcome"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_outcome")
        batch.drop_column("outcome")
