"""evidence: the attachments of each ticket (their content is kept on disk, once per hash)

Revision ID: 0008_evidence
Revises: 0007_ledger
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.storage.models import UtcDateTime

revision: str = "0008_evidence"
down_revision: str | None = "0007_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_key", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("door", sa.String(length=16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_attachments_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_key"], ["tickets.sync_key"], name=op.f("fk_attachments_ticket_key_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("ticket_key", "sha256", name="uq_attachments_ticket_sha256"),
    )
    op.create_index(op.f("ix_attachments_branch_id"), "attachments", ["branch_id"], unique=False)
    op.create_index(op.f("ix_attachments_ticket_key"), "attachments", ["ticket_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_attachments_ticket_key"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_branch_id"), table_name="attachments")
    op.drop_table("attachments")
