"""ledger: tickets imported from a branch's own ledger are marked, and each branch's confirmed mapping kept

Revision ID: 0007_ledger
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.storage.models import UtcDateTime

revision: str = "0007_ledger"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("imported_at", UtcDateTime(), nullable=True))
    op.create_table(
        "ledger_mappings",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_ledger_mappings_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_ledger_mappings")),
    )


def downgrade() -> None:
    op.drop_table("ledger_mappings")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("imported_at")
