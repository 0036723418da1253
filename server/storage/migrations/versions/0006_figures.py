"""figures: what the head-office figures read of each ticket, in a narrow table the database counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

The rows of the tickets already stored are written once the upgrade reaches the
head (`server.storage.db.Database.upgrade` → `server.storage.figures.fill_figure_rows`),
when the code's tables match the schema: written here, with today's columns, the
rows would not fit the table of this revision. Deadlines are computed again with
the holiday calendar of ``COMPLAINTS_CALENDAR`` (as the server does); about a
minute and a half per million tickets.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENTS = (
    "received_at",
    "acknowledged_at",
    "plan_at",
    "resolved_at",
    "feedback_at",
    "closed_at",
    "revisited_at",
)


def upgrade() -> None:
    from server.storage.models import UtcDateTime

    flags = ("cancelled", "overdue", "revisit_due", "grouped", "repeat", "training", "resolved")
    op.create_table(
        "ticket_figures",
        sa.Column("sync_key", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        *(sa.Column(m, UtcDateTime(), nullable=m != "received_at") for m in MOMENTS),
        *(sa.Column(name, sa.Boolean(), nullable=False) for name in flags),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        *(
            sa.Column(f"{m}_met", sa.SmallInteger(), nullable=True)
            for m in ("acknowledge", "plan", "resolve", "feedback", "revisit")
        ),
        sa.Column("closed_loop_met", sa.SmallInteger(), nullable=True),
        sa.Column("close_workdays", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.String(length=32), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("improvement", sa.Text(), nullable=False),
        sa.Column("improvement_done", sa.Boolean(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_ticket_figures_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["sync_key"], ["tickets.sync_key"], name=op.f("fk_ticket_figures_sync_key_tickets")
        ),
        sa.PrimaryKeyConstraint("sync_key", name=op.f("pk_ticket_figures")),
    )
    op.create_index("ix_tickets_received_at", "tickets", ["received_at"], unique=False)  # the list's order
    op.create_index(
        "ix_ticket_figures_cancelled",
        "ticket_figures",
        ["branch_id"],
        unique=False,
        sqlite_where=sa.text("cancelled IS 1"),
        postgresql_where=sa.text("cancelled IS true"),
    )
    for m in MOMENTS:
        op.create_index(f"ix_ticket_figures_{m}", "ticket_figures", ["branch_id", m], unique=False)


def downgrade() -> None:
    op.drop_table("ticket_figures")
    op.drop_index("ix_tickets_received_at", table_name="tickets")
