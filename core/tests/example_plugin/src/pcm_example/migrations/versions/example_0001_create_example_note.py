"""Create example_note.

Revision ID: example_0001
Revises:
Create Date: 2025-01-01 00:00:00

The first revision of the plugin's tree: it starts the branch ``example`` (the plugin id,
which ``pcm-ops db downgrade example@base`` uses) and depends on core's first revision, so
core's tables exist before the plugin's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "example_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("example",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "example_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("example_note")
