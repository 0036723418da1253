"""contacts: the repeat rule reads each branch's customers from an index alone

Revision ID: 0017_contacts
Revises: 0016_lazysearch
Create Date: 2026-12-04

`server.storage.neighbours` groups a branch's live tickets by customer (the
repeat-complaint rule): (branch, cancelled, contact, resolved, sync key) holds
all it reads, so the flag scan's first walk and a push no longer read every
ticket row of the branch for it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_contacts"
down_revision: str | None = "0016_lazysearch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tickets_branch_contacts",
        "tickets",
        ["branch_id", "cancelled_at", "contact", "resolved_at", "sync_key"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_branch_contacts", table_name="tickets")
