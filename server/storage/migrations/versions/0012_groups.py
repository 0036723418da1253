"""groups: a group incident handled as one, and each ticket's plan text

Revision ID: 0012_groups
Revises: 0011_messages
Create Date: 2026-12-04

The ``incident_groups`` table keeps, per branch and group incident, the
representative customer, the group's plan and its compensation decision (the
members are the tickets carrying the group's number). Tickets gain the plan's
text, which starts empty (the compensation column came with 0011_messages). Groups already linked
get their record the next time one of their tickets is written. The figures
row of each ticket gains the moment a group member answered at the revisit
(the group revisit figure), filled here for the members already revisited.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_groups"
down_revision: str | None = "0011_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXTS = ("plan",)


def upgrade() -> None:
    from server.storage.models import UtcDateTime

    with op.batch_alter_table("tickets") as batch:
        for name in TEXTS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("tickets") as batch:
        for name in TEXTS:
            batch.alter_column(name, server_default=None)
    op.create_table(
        "incident_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("representative", sa.String(length=32), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("plan_at", UtcDateTime(), nullable=True),
        sa.Column("compensation", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_incident_groups_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_groups")),
        sa.UniqueConstraint("branch_id", "group_id", name="uq_incident_groups_branch_group"),
    )
    with op.batch_alter_table("ticket_figures") as batch:
        batch.add_column(sa.Column("group_answered_at", UtcDateTime(), nullable=True))
    # the members of group incidents already revisited (a dissatisfied one reopened keeps its answer)
    op.execute(
        """
        UPDATE ticket_figures SET group_answered_at = (
            SELECT COALESCE(t.revisited_at, t.reopened_at) FROM tickets t
            WHERE t.sync_key = ticket_figures.sync_key AND t.satisfaction IS NOT NULL
        )
        WHERE group_id <> ''
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket_figures") as batch:
        batch.drop_column("group_answered_at")
    op.drop_table("incident_groups")
    with op.batch_alter_table("tickets") as batch:
        for name in TEXTS:
            batch.drop_column(name)
