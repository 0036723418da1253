"""majorfig: the major grade on each figures row, for the head-office major-case figures

Revision ID: 0015_majorfig
Revises: 0014_paging
Create Date: 2026-12-04

On each figures row: whether the ticket is graded major (`complaints.major`),
back-filled from the tickets' grade. The plan's on-time verdict is already there
(``plan_met``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_majorfig"
down_revision: str | None = "0014_paging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_figures") as batch:
        batch.add_column(sa.Column("major", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        """
        UPDATE ticket_figures SET major = EXISTS (
            SELECT 1 FROM tickets t WHERE t.sync_key = ticket_figures.sync_key AND t.grade = 'major'
        )
        """
    )
    # the default only filled the rows already there; the service writes the value from now on
    with op.batch_alter_table("ticket_figures") as batch:
        batch.alter_column("major", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ticket_figures") as batch:
        batch.drop_column("major")
