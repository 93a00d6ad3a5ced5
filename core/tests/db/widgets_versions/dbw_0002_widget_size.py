"""Widget size.

Revision ID: dbw_0002
Revises: dbw_0001
Create Date: 2025-01-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dbw_0002"
down_revision: str | Sequence[str] | None = "dbw_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dbw_widget") as batch_op:
        batch_op.add_column(sa.Column("size", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("dbw_widget") as batch_op:
        batch_op.drop_column("size")
