"""Add a connection's client certificate for mutual TLS: the certificate (PEM) and its key
(encrypted with core's secrets, like the other credentials).

Revision ID: snow_0002
Revises: snow_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "snow_0002"
down_revision: str | Sequence[str] | None = "snow_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("snow_connection") as batch:
        batch.add_column(sa.Column("client_cert", sa.String(length=100000), nullable=True))
        batch.add_column(sa.Column("client_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snow_connection") as batch:
        batch.drop_column("client_key")
        batch.drop_column("client_cert")
