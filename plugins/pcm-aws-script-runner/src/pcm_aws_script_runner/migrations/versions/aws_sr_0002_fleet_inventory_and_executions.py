"""The fleet inventory (instances, their tags, sync state, saved filters) and executions
(runs, their SendCommand batches, per-instance results).

Revision ID: aws_sr_0002
Revises: aws_sr_0001
Create Date: 2026-11-22 06:35:30.148912
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "aws_sr_0002"
down_revision: str | Sequence[str] | None = "aws_sr_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aws_sr_execution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("script_version", sa.Integer(), nullable=False),
        sa.Column("script_name", sa.String(length=100), nullable=False),
        sa.Column("script_sha256", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("document_name", sa.String(length=100), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("secret_parameters", sa.Text(), nullable=True),
        sa.Column("target_spec", sa.JSON(), nullable=False),
        sa.Column("max_concurrency", sa.String(length=10), nullable=False),
        sa.Column("max_errors", sa.String(length=10), nullable=False),
        sa.Column("delivery_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("execution_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("output_s3_bucket", sa.String(length=63), nullable=True),
        sa.Column("output_s3_prefix", sa.String(length=500), nullable=True),
        sa.Column("cloudwatch_log_group", sa.String(length=512), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("change_reference", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("target_count", sa.Integer(), nullable=False),
        sa.Column("account_regions", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("rerun_of", sa.Integer(), nullable=True),
        sa.Column("rerun_kind", sa.String(length=20), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(), nullable=True),
        sa.Column("cancel_requested_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("aws_sr_execution", schema=None) as batch_op:
        batch_op.create_index("ix_aws_sr_execution_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_aws_sr_execution_requested_by", ["requested_by"], unique=False)
        batch_op.create_index("ix_aws_sr_execution_script_id", ["script_id"], unique=False)
        batch_op.create_index("ix_aws_sr_execution_status", ["status"], unique=False)

    op.create_table(
        "aws_sr_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=30), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("platform_details", sa.String(length=100), nullable=False),
        sa.Column("instance_type", sa.String(length=30), nullable=False),
        sa.Column("private_ip", sa.String(length=45), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("ssm_managed", sa.Boolean(), nullable=False),
        sa.Column("ping_status", sa.String(length=20), nullable=False),
        sa.Column("agent_version", sa.String(length=30), nullable=False),
        sa.Column("last_ping_at", sa.DateTime(), nullable=True),
        sa.Column("launched_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "instance_id", name="uq_aws_sr_instance"),
    )
    with op.batch_alter_table("aws_sr_instance", schema=None) as batch_op:
        batch_op.create_index("ix_aws_sr_instance_instance_id", ["instance_id"], unique=False)
        batch_op.create_index("ix_aws_sr_instance_name", ["name"], unique=False)
        batch_op.create_index("ix_aws_sr_instance_ping_status", ["ping_status"], unique=False)
        batch_op.create_index("ix_aws_sr_instance_state", ["state"], unique=False)

    op.create_table(
        "aws_sr_inventory_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", name="uq_aws_sr_inventory_sync"),
    )
    op.create_table(
        "aws_sr_saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key", name="uq_aws_sr_saved_filter_name_key"),
    )
    op.create_table(
        "aws_sr_execution_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=30), nullable=False),
        sa.Column("instance_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["aws_sr_execution.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("execution_id", "number", name="uq_aws_sr_execution_batch"),
    )
    op.create_table(
        "aws_sr_execution_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("batch_number", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_details", sa.String(length=100), nullable=False),
        sa.Column("skip_reason", sa.String(length=300), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("stdout", sa.Text(), nullable=False),
        sa.Column("stderr", sa.Text(), nullable=False),
        sa.Column("stdout_truncated", sa.Boolean(), nullable=False),
        sa.Column("stderr_truncated", sa.Boolean(), nullable=False),
        sa.Column("output_url", sa.String(length=1000), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["aws_sr_execution.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("execution_id", "instance_id", name="uq_aws_sr_execution_target"),
    )
    with op.batch_alter_table("aws_sr_execution_target", schema=None) as batch_op:
        batch_op.create_index("ix_aws_sr_execution_target_account", ["account_id"], unique=False)
        batch_op.create_index(
            "ix_aws_sr_execution_target_status", ["execution_id", "status"], unique=False
        )

    op.create_table(
        "aws_sr_instance_tag",
        sa.Column("instance_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["instance_pk"], ["aws_sr_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_pk", "key"),
    )
    with op.batch_alter_table("aws_sr_instance_tag", schema=None) as batch_op:
        batch_op.create_index("ix_aws_sr_instance_tag_key_value", ["key", "value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("aws_sr_instance_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_aws_sr_instance_tag_key_value")

    op.drop_table("aws_sr_instance_tag")
    with op.batch_alter_table("aws_sr_execution_target", schema=None) as batch_op:
        batch_op.drop_index("ix_aws_sr_execution_target_status")
        batch_op.drop_index("ix_aws_sr_execution_target_account")

    op.drop_table("aws_sr_execution_target")
    op.drop_table("aws_sr_execution_batch")
    op.drop_table("aws_sr_saved_filter")
    op.drop_table("aws_sr_inventory_sync")
    with op.batch_alter_table("aws_sr_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_aws_sr_instance_state")
        batch_op.drop_index("ix_aws_sr_instance_ping_status")
        batch_op.drop_index("ix_aws_sr_instance_name")
        batch_op.drop_index("ix_aws_sr_instance_instance_id")

    op.drop_table("aws_sr_instance")
    with op.batch_alter_table("aws_sr_execution", schema=None) as batch_op:
        batch_op.drop_index("ix_aws_sr_execution_status")
        batch_op.drop_index("ix_aws_sr_execution_script_id")
        batch_op.drop_index("ix_aws_sr_execution_requested_by")
        batch_op.drop_index("ix_aws_sr_execution_created_at")

    op.drop_table("aws_sr_execution")
