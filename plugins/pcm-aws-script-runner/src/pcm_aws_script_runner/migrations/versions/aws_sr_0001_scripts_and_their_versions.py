"""Scripts and their immutable versions.

Revision ID: aws_sr_0001
Revises: nothing (the first revision of the aws-script-runner tree)
Create Date: 2026-11-22 03:08:30.033473

Starts the branch ``aws-script-runner``. It depends on core_0002 (users, tokens, sessions
and the audit log, which every change to a script is recorded in); no table of this plugin
refers to core's or to another plugin's tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "aws_sr_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("aws-script-runner",)
depends_on: str | Sequence[str] | None = "core_0002"


def upgrade() -> None:
    op.create_table(
        "aws_sr_script",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("current_sha256", sa.String(length=64), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("archived_by", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key", name="uq_aws_sr_script_name_key"),
    )
    op.create_table(
        "aws_sr_script_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["script_id"],
            ["aws_sr_script.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("script_id", "number", name="uq_aws_sr_script_version_number"),
    )


def downgrade() -> None:
    op.drop_table("aws_sr_script_version")
    op.drop_table("aws_sr_script")
