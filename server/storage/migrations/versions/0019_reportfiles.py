"""reportfiles: a kept workbook is a file in the file store, its row names it by sha256

Revision ID: 0019_reportfiles
Revises: 0018_figdays
Create Date: 2026-12-04

The monthly analysis at a million tickets is a ~420 MB workbook: kept as one
database value it was held whole in memory to be stored and to be served.
From this revision it is streamed to the evidence store
(`server.storage.evidence`) and ``reports.sha256`` names it; ``content`` stays
for the workbooks kept before, which are served from it as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_reportfiles"
down_revision: str | None = "0018_figdays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=True))
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("sha256")
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
