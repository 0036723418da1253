"""standard: the emergency checklist of a major case and the branch's emergency contacts

Revision ID: 0009_standard
Revises: 0008_evidence
Create Date: 2026-12-04

Three moments on each ticket (emergency plan started, legal review, external
statement) and, per branch, the senior-management, legal and public-relations
contacts told once when a ticket takes the emergency path. Nothing to backfill:
the new columns start empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_standard"
down_revision: str | None = "0008_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKLIST = ("emergency_plan_at", "legal_review_at", "external_statement_at")


def upgrade() -> None:
    from server.storage.models import UtcDateTime

    with op.batch_alter_table("tickets") as batch:
        for name in CHECKLIST:
            batch.add_column(sa.Column(name, UtcDateTime(), nullable=True))
    op.create_table(
        "emergency_contacts",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_emergency_contacts_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("branch_id", "role", name=op.f("pk_emergency_contacts")),
    )


def downgrade() -> None:
    op.drop_table("emergency_contacts")
    with op.batch_alter_table("tickets") as batch:
        for name in CHECKLIST:
            batch.drop_column(name)
