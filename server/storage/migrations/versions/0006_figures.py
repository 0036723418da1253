"""figures: working days to close stored with each ticket; per-branch indexes on the moments of the figures

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04

The backfill computes ``close_workdays`` of every closed ticket with the
holiday calendar of ``COMPLAINTS_CALENDAR`` (as the server does), in batches.
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
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
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("close_workdays", sa.Integer(), nullable=True))
    for moment in MOMENTS:
        op.create_index(f"ix_tickets_{moment}", "tickets", ["branch_id", moment], unique=False)
    from server.storage.backfill import fill_close_workdays

    fill_close_workdays(op.get_bind(), os.environ.get("COMPLAINTS_CALENDAR"))


def downgrade() -> None:
    for moment in MOMENTS:
        op.drop_index(f"ix_tickets_{moment}", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("close_workdays")
