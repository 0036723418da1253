"""authority: the author's role on history and log entries, and the device beside the author

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("device", sa.String(length=200), nullable=False, server_default=""))
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("device")
        batch.drop_column("role")
