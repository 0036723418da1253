"""searchplace: each search row's id is its ticket's place in the list (receipt second, then a slot)

Revision ID: 0021_searchplace
Revises: 0020_staffnames
Create Date: 2026-12-05

The inverted indexes (SQLite FTS5, PostgreSQL GIN) list a term's tickets by the
row id. With the id a ticket's receipt second (then a slot unique in it,
`server.storage.search`), the candidates of a broad search come out newest
first and the list's page is read from them, instead of walking every newer
ticket with the ``LIKE``. Every row is written again with its place (about a
minute per million tickets); the index is then current for every branch.
PostgreSQL's id becomes 64-bit and loses its sequence (the place is given).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_searchplace"
down_revision: str | None = "0020_staffnames"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "ticket_search_fts"
FTS_TABLE = (
    f"CREATE VIRTUAL TABLE {FTS} USING fts5("
    "terms, content='ticket_search', content_rowid='id', tokenize='ascii', detail='none', columnsize=0)"
)
TRIGGERS = {  # as migration 0014 made them
    "added": f"AFTER INSERT ON ticket_search BEGIN "
    f"INSERT INTO {FTS}(rowid, terms) VALUES (new.id, new.terms); END",
    "removed": f"AFTER DELETE ON ticket_search BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "changed": f"AFTER UPDATE ON ticket_search BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, terms) VALUES ('delete', old.id, old.terms); "
    f"INSERT INTO {FTS}(rowid, terms) VALUES (new.id, new.terms); END",
}
GIN = "CREATE INDEX ix_ticket_search_terms ON ticket_search USING gin (string_to_array(terms, ' '))"


def upgrade() -> None:
    from server.storage.search import fill_search_rows

    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # the FTS table is built once over the filled table, then kept by the triggers again
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER ticket_search_{name}")
        op.execute(f"DROP TABLE {FTS}")
    else:
        op.execute("DROP INDEX ix_ticket_search_terms")
        op.execute("ALTER TABLE ticket_search ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS ticket_search_id_seq")
        op.execute("ALTER TABLE ticket_search ALTER COLUMN id TYPE BIGINT")
    fill_search_rows(connection)
    if sqlite:
        op.execute(FTS_TABLE)
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
        for name, body in TRIGGERS.items():
            op.execute(f"CREATE TRIGGER ticket_search_{name} {body}")
    else:
        op.execute(GIN)
    op.execute("DELETE FROM search_marks")
    op.execute("INSERT INTO search_marks (branch_id, change_seq) SELECT id, change_seq FROM branches")


def downgrade() -> None:
    # the rows are emptied and every mark set back: the older code writes each ticket's row again
    op.execute("DELETE FROM ticket_search")
    op.execute("UPDATE search_marks SET change_seq = 0")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ticket_search ALTER COLUMN id TYPE INTEGER")
        op.execute("CREATE SEQUENCE ticket_search_id_seq OWNED BY ticket_search.id")
        op.execute("ALTER TABLE ticket_search ALTER COLUMN id SET DEFAULT nextval('ticket_search_id_seq')")
