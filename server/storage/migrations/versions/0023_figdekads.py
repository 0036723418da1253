"""figdekads: the rolled-up figures summed per dekad

Revision ID: 0023_figdekads
Revises: 0022_figmonths
Create Date: 2026-12-05

``figure_dekads`` holds, per branch, family and dekad (旬: the 1st to the 10th,
the 11th to the 20th, the 21st to the month's end), the sums of the days stored
in ``figure_days`` (`server.storage.rollup`): a period of part of a month reads
its whole dekads from one row per count instead of ten. It is filled here from
the days already stored, and kept with each day stored from now on.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0023_figdekads"
down_revision: str | None = "0022_figmonths"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dekads = op.create_table(
        "figure_dekads",
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), primary_key=True),
        sa.Column("family", sa.SmallInteger(), primary_key=True),
        sa.Column("dekad", sa.Date(), primary_key=True),
        sa.Column("kind", sa.SmallInteger(), primary_key=True),
        sa.Column("department", sa.Text(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    days = sa.table(
        "figure_days",
        *(sa.column(name) for name in ("branch_id", "family", "day", "kind", "department", "key", "n")),
    )
    summed: Counter[tuple[int, int, date, int, str, str]] = Counter()
    rows = op.get_bind().execute(sa.select(days).execution_options(yield_per=20_000))
    for branch_id, family, day, kind, department, key, n in rows:
        if isinstance(day, str):  # SQLite hands a lightweight table's dates back as text
            day = date.fromisoformat(day)
        first = day.replace(day=min(21, day.day - (day.day - 1) % 10))
        summed[(branch_id, family, first, kind, department, key)] += n
    names = ("branch_id", "family", "dekad", "kind", "department", "key")
    filled = [{**dict(zip(names, k, strict=True)), "n": n} for k, n in summed.items() if n]
    for start in range(0, len(filled), 5_000):
        op.bulk_insert(dekads, filled[start : start + 5_000])


def downgrade() -> None:
    op.drop_table("figure_dekads")
