"""lazysearch: the search index is caught up before a search, not written by each change

Revision ID: 0016_lazysearch
Revises: 0015_majorfig
Create Date: 2026-12-04

``search_marks`` holds, per branch, the change number up to which
``ticket_search`` holds every ticket's terms (`server.storage.search.catch_up`).
Until this revision the one service wrote the terms with each change, so every
branch is marked up to its current change number.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_lazysearch"
down_revision: str | None = "0015_majorfig"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_marks",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_search_marks_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_search_marks")),
    )
    op.execute("INSERT INTO search_marks (branch_id, change_seq) SELECT id, change_seq FROM branches")


def downgrade() -> None:
    op.drop_table("search_marks")
