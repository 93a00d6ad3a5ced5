"""The secret key's check value (pcm_secret_key_check).

One row holding a known text encrypted with the installation's key, written by the first
process that starts on the database. A process started with another key cannot decrypt it
and refuses to start instead of encrypting new secrets under a key the others lack.

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0004"
down_revision: str | Sequence[str] | None = "core_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pcm_secret_key_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_value", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("pcm_secret_key_check")
