"""rootcause: the fishbone category of a root cause, its improvement measure and what came of it

Revision ID: 0013_rootcause
Revises: 0012_groups
Create Date: 2026-12-04

On each ticket: the fishbone category, the measure's owner, due date, status and
done time, and the computed recurrence and effect (`complaints.rootcause`). On
each figures row: the category, the measure's status, whether it is overdue and
whether it was effective. Existing tickets start without a category or measure
state; the next write of a ticket (or a full scan) fills its computed values.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_rootcause"
down_revision: str | None = "0012_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from server.storage.models import UtcDateTime

    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("fishbone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("measure_owner", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("measure_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("measure_status", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("measure_done_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("recurred_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("effect", sa.String(length=32), nullable=True))
    with op.batch_alter_table("ticket_figures") as batch:
        batch.add_column(sa.Column("fishbone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("measure_status", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("measure_overdue", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("improved", sa.SmallInteger(), nullable=True))
    # the defaults only filled the rows already there; the service writes every value from now on
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("measure_owner", server_default=None)
    with op.batch_alter_table("ticket_figures") as batch:
        batch.alter_column("measure_overdue", server_default=None)
    # a measure ticked done before measures had a done time is not effective until the ticket is judged again
    op.execute("UPDATE ticket_figures SET improved = 0")


def downgrade() -> None:
    with op.batch_alter_table("ticket_figures") as batch:
        for name in ("improved", "measure_overdue", "measure_status", "fishbone"):
            batch.drop_column(name)
    with op.batch_alter_table("tickets") as batch:
        for name in (
            "effect",
            "recurred_at",
            "measure_done_at",
            "measure_status",
            "measure_due",
            "measure_owner",
            "fishbone",
        ):
            batch.drop_column(name)
