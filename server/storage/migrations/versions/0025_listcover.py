"""listcover: the ticket list's index carries the filters it is most often read with

Revision ID: 0025_listcover
Revises: 0024_searchlong
Create Date: 2026-12-05

``ix_ticket_figures_list`` (received_at, sync_key) also holds each ticket's
branch, cancelled flag, level, status and overdue flag, so a filtered page or
count walks the list's order in the index alone and reads a ticket's row only
for the tickets that pass those filters (red + overdue + a search at a million
tickets: the count read the whole figures row of every ticket it passed).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025_listcover"
down_revision: str | None = "0024_searchlong"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_ticket_figures_list"
COVERED = ["received_at", "sync_key", "branch_id", "cancelled", "level", "status", "overdue"]


def upgrade() -> None:
    op.drop_index(NAME, table_name="ticket_figures")
    op.create_index(NAME, "ticket_figures", COVERED, unique=False)


def downgrade() -> None:
    op.drop_index(NAME, table_name="ticket_figures")
    op.create_index(NAME, "ticket_figures", COVERED[:2], unique=False)
