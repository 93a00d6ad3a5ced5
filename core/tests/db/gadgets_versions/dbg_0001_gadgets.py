"""Gadgets, without the model's color column.

Revision ID: dbg_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dbg_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("db-gadgets",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dbg_gadget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("dbg_gadget")
