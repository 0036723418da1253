"""staffnames: each ticket's coordinator and investigator in its figures row

Revision ID: 0020_staffnames
Revises: 0019_reportfiles
Create Date: 2026-12-04

The staff figures count ``ticket_figures`` by person (`server.storage.figures.STAFF_COUNTS`);
the names were read by joining ``tickets`` on the sync key for every count, which
made their first read at a million tickets take minutes. The two names are
copied here once (in SQL) and written with each row from now on; the default
that filled the existing rows is dropped afterwards, as every column added here
since 0004 (the model has none: the service writes both names with each row).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_staffnames"
down_revision: str | None = "0019_reportfiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMES = ("coordinator", "investigator")


def upgrade() -> None:
    for name in NAMES:
        op.add_column("ticket_figures", sa.Column(name, sa.Text(), nullable=False, server_default=""))
    op.execute(  # UPDATE … FROM: PostgreSQL, and SQLite from 3.33
        "UPDATE ticket_figures SET coordinator = t.coordinator, investigator = t.investigator "
        "FROM tickets AS t WHERE t.sync_key = ticket_figures.sync_key "
        "AND (t.coordinator <> '' OR t.investigator <> '')"
    )
    with op.batch_alter_table("ticket_figures") as batch:
        for name in NAMES:
            batch.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ticket_figures") as batch:
        for name in NAMES:
            batch.drop_column(name)
