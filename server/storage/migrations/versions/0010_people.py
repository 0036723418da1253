"""people: the coordinator named on each ticket; personal accounts bound to a branch and a staff name

Revision ID: 0010_people
Revises: 0009_standard
Create Date: 2026-12-04

Tickets gain the coordinator who handles them (their per-staff KPIs count it);
users gain the branch, the staff name as the tickets spell it and the
department of an investigator or a department head. Rows written before this
revision get "" (nobody named; head-office users have no branch).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_people"
down_revision: str | None = "0009_standard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_TEXT = (("staff_name", 200), ("department", 200))


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("coordinator", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("coordinator", server_default=None)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("branch_id", sa.Integer(), nullable=True))
        for name, length in USER_TEXT:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=""))
        batch.create_foreign_key(op.f("fk_users_branch_id_branches"), "branches", ["branch_id"], ["id"])
    with op.batch_alter_table("users") as batch:
        for name, _ in USER_TEXT:
            batch.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("fk_users_branch_id_branches"), type_="foreignkey")
        for name, _ in USER_TEXT:
            batch.drop_column(name)
        batch.drop_column("branch_id")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("coordinator")
