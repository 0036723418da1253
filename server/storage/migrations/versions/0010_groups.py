"""groups: a group incident handled as one, and each ticket's plan text and compensation decision

Revision ID: 0010_groups
Revises: 0009_standard
Create Date: 2026-12-04

The ``incident_groups`` table keeps, per branch and group incident, the
representative customer, the group's plan and its compensation decision (the
members are the tickets carrying the group's number). Tickets gain the plan's
text and the compensation decision, which start empty. Groups already linked
get their record the next time one of their tickets is written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_groups"
down_revision: str | None = "0009_standard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXTS = ("plan", "compensation")


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


def downgrade() -> None:
    op.drop_table("incident_groups")
    with op.batch_alter_table("tickets") as batch:
        for name in TEXTS:
            batch.drop_column(name)
