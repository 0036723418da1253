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
    # rows written before this revision get "" (their role is unknown); new rows always name it
    for table, names in (("history", ("role", "device")), ("log_entries", ("role",))):
        with op.batch_alter_table(table) as batch:
            for name in names:
                length = 200 if name == "device" else 16
                batch.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=""))
        with op.batch_alter_table(table) as batch:
            for name in names:
                batch.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("device")
        batch.drop_column("role")
