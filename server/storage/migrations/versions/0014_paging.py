"""paging: the ticket list's keyset order and its search index

Revision ID: 0014_paging
Revises: 0013_rootcause
Create Date: 2026-12-04

An index on the figures' (received_at, sync_key), the list's order read from
either end; ``ticket_search`` with each ticket's search terms
(`server.storage.search`), indexed by FTS5 on SQLite (triggers keep it in step
with the table) and by a GIN index on PostgreSQL. The terms of the tickets already
stored are written by migration 0021 (which gives each row its place).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_paging"
down_revision: str | None = "0013_rootcause"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "ticket_search_fts"
SQLITE_INDEX = (
    f"CREATE VIRTUAL TABLE {FTS} USING fts5("
    "terms, content='ticket_search', content_rowid='id', tokenize='ascii', detail='none', columnsize=0)",
    f"CREATE TRIGGER ticket_search_added AFTER INSERT ON ticket_search BEGIN "
    f"INSERT INTO {FTS}(rowid, terms) VALUES (new.id, new.terms); END",
    f"CREATE TRIGGER ticket_search_removed AFTER DELETE ON ticket_search BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    f"CREATE TRIGGER ticket_search_changed AFTER UPDATE ON ticket_search BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, terms) VALUES ('delete', old.id, old.terms); "
    f"INSERT INTO {FTS}(rowid, terms) VALUES (new.id, new.terms); END",
)


def upgrade() -> None:
    op.create_index("ix_ticket_figures_list", "ticket_figures", ["received_at", "sync_key"], unique=False)
    op.create_table(
        "ticket_search",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sync_key", sa.String(length=32), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sync_key"], ["tickets.sync_key"], name=op.f("fk_ticket_search_sync_key_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_search")),
        sa.UniqueConstraint("sync_key", name=op.f("uq_ticket_search_sync_key")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_INDEX:
            op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX ix_ticket_search_terms ON ticket_search USING gin (string_to_array(terms, ' '))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("added", "removed", "changed"):
            op.execute(f"DROP TRIGGER ticket_search_{name}")
        op.execute(f"DROP TABLE {FTS}")
    else:
        op.execute("DROP INDEX ix_ticket_search_terms")
    op.drop_table("ticket_search")
    op.drop_index("ix_ticket_figures_list", table_name="ticket_figures")
