"""searchorder: PostgreSQL keeps the search rows in each branch's receipt order

Revision ID: 0026_searchorder
Revises: 0025_listcover
Create Date: 2026-12-05

A search on PostgreSQL reads its candidates from the table's pages (the GIN
index gives where they are, not their places). Migrations 0021 and 0024 wrote
the rows in the order of the sync keys, which scatters the tickets of one branch
and time over the whole table: the 36,000 candidates of a ticket number's first
eleven characters lay on 27,000 of its pages. The rows are written again in each
branch's receipt order, as the catch-up writes new ones (and as
`server.storage.search.fill_search_rows` now does). SQLite keeps its rows in the
order of their ids and its index lists them itself: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_searchorder"
down_revision: str | None = "0025_listcover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GIN = "CREATE INDEX ix_ticket_search_terms ON ticket_search USING gin (string_to_array(terms, ' '))"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TEMPORARY TABLE search_in_order ON COMMIT DROP AS "
        "SELECT s.id, s.sync_key, s.terms FROM ticket_search s JOIN tickets t ON t.sync_key = s.sync_key "
        "ORDER BY t.branch_id, t.received_at, t.sync_key"
    )
    op.execute("DROP INDEX ix_ticket_search_terms")  # built once over the new rows, not row by row
    op.execute("TRUNCATE ticket_search")
    op.execute("INSERT INTO ticket_search SELECT id, sync_key, terms FROM search_in_order")
    op.execute(GIN)
    op.execute("ANALYZE ticket_search")


def downgrade() -> None:
    pass  # the order is only where the rows lie; the older code reads them the same
