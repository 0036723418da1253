"""searchlong: the search terms of ASCII runs of six or more hold their six-grams too

Revision ID: 0024_searchlong
Revises: 0023_figdekads
Create Date: 2026-12-05

A query's ASCII piece of six characters or more is now looked up by its
six-grams (`server.storage.search.LONG`): ``2026110`` narrows to the tickets of
the first nine days of November instead of every ticket holding its trigrams.
Every stored row is written again with the new terms, at its place, as
migration 0021 did (the FTS table and the GIN index are built once over the
filled table); the index is then current for every branch.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_searchlong"
down_revision: str | None = "0023_figdekads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "ticket_search_fts"
FTS_TABLE = (
    f"CREATE VIRTUAL TABLE {FTS} USING fts5("
    "terms, content='ticket_search', content_rowid='id', tokenize='ascii', detail='none', columnsize=0)"
)
TRIGGERS = {  # as migrations 0014 and 0021 made them
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
    if sqlite:
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER ticket_search_{name}")
        op.execute(f"DROP TABLE {FTS}")
    else:  # emptied at once: a DELETE would leave every old row dead, in the table and in the new index
        op.execute("DROP INDEX ix_ticket_search_terms")
        op.execute("TRUNCATE ticket_search")
    fill_search_rows(connection)
    if sqlite:
        op.execute(FTS_TABLE)
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
        for name, body in TRIGGERS.items():
            op.execute(f"CREATE TRIGGER ticket_search_{name} {body}")
    else:  # the planner's statistics of the new terms: they decide how a broad search reads them
        op.execute(GIN)
        op.execute("ANALYZE ticket_search")
    op.execute("DELETE FROM search_marks")
    op.execute("INSERT INTO search_marks (branch_id, change_seq) SELECT id, change_seq FROM branches")


def downgrade() -> None:
    # nothing to undo: the older code's query terms (trigrams) are all still stored, and the six-grams it
    # leaves out of rows it writes again are written by the next upgrade
    pass
