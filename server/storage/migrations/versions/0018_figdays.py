"""figdays: the figures' counts per branch and local day, rolled up on read and marked stale on write

Revision ID: 0018_figdays
Revises: 0017_contacts
Create Date: 2026-12-04

Three tables of `server.storage.rollup`: ``figure_days`` (the counts of each
branch and local day, by department and by person), ``figure_days_done`` (the days they hold, each with a
token that changes with every rewrite) and ``figure_day_marks`` (days a write
changed since). They start empty: the first reads count their days from
``ticket_figures`` and store them. And a partial index on the moment a group
member answered the revisit (its count read the whole table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_figdays"
down_revision: str | None = "0017_contacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "figure_days",
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("ix_figure_days_branch_day", "figure_days", ["branch_id", "family", "day"])
    op.create_table(
        "figure_days_done",
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), primary_key=True),
        sa.Column("family", sa.SmallInteger(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
    )
    op.create_table(
        "figure_day_marks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.create_index("ix_figure_day_marks_branch_day", "figure_day_marks", ["branch_id", "family", "day"])
    answered = sa.text("group_answered_at IS NOT NULL")
    op.create_index(
        "ix_ticket_figures_group_answered_at",
        "ticket_figures",
        ["branch_id", "group_answered_at"],
        sqlite_where=answered,
        postgresql_where=answered,
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_figures_group_answered_at", "ticket_figures")
    op.drop_table("figure_day_marks")
    op.drop_table("figure_days_done")
    op.drop_index("ix_figure_days_branch_day", "figure_days")
    op.drop_table("figure_days")
