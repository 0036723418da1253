"""The ticket list's search index: n-gram terms of each ticket's searched text, kept by the one service.

A search is a substring match (``LIKE``) over the ticket number, the customer's
name, the contact and the description. At a million tickets that scan is too
slow for a rare word, so each ticket also keeps its *terms* (``ticket_search``),
written with the ticket by `server.services.changes.write`:

- Chinese (any non-ASCII letters): every character and every two adjacent ones
  (bigrams), so a one- or two-character query such as 王 or 宽带 is found through
  the index — a trigram index (SQLite FTS5's trigram tokenizer, PostgreSQL's
  pg_trgm) needs three characters;
- ASCII letters and digits: every three (trigrams); two digits would be too
  common to narrow anything (a phone number holds ten of the hundred pairs),
  and a run shorter than three is a term as it is.

Both halves are lower-cased (case folded) and split at anything that is not a
letter or digit. The database's own inverted index holds the terms: SQLite FTS5
(``ascii`` tokenizer, which never splits a term we wrote; ``detail=none``: the
index only says which tickets hold a term) and on PostgreSQL a GIN index over
``string_to_array(terms, ' ')`` (no text-search parser nor locale involved).

The index only narrows: every ticket whose text matches holds all the query's
terms, and the list still applies the ``LIKE`` itself, so a search finds
exactly what the scan found. A query without an indexable piece (one or two
ASCII letters or digits alone, such as 5G) is not narrowed: the list walks its
order with the ``LIKE`` and stops at a page, which is fast because such short
text is common.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    column,
    delete,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Text

from server.storage.models import search_table
from server.storage.writes import insert_rows

SEARCHED = ("ticket_id", "customer_name", "contact", "description")
"""The ticket's fields a search looks in (the ticket list's columns that hold free text)."""
FTS = "ticket_search_fts"
"""SQLite's FTS5 table over ``ticket_search.terms`` (external content, kept by triggers on that table)."""
_RUN = re.compile(r"[^\W_]+")
_PART = re.compile(r"[0-9a-z]+|[^0-9a-z]+")


class Matches(ColumnElement[bool]):
    """``column LIKE pattern`` without regard to (ASCII) case, escaped by a backslash: ``ILIKE`` on
    PostgreSQL, SQLite's own ``LIKE`` (already so; the ``lower(…) LIKE lower(…)`` SQLAlchemy writes for
    ``ilike`` takes twice the time of a search walking the list)."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[str], pattern: str) -> None:
        self.column = column
        self.pattern = bindparam(None, pattern, type_=Text())


@compiles(Matches)
def _ilike(element: Matches, compiler: SQLCompiler, **kw: Any) -> str:
    return "(" + compiler.process(element.column.ilike(element.pattern, escape="\\"), **kw) + ")"


@compiles(Matches, "sqlite")
def _like(element: Matches, compiler: SQLCompiler, **kw: Any) -> str:
    return "(" + compiler.process(element.column.like(element.pattern, escape="\\"), **kw) + ")"


def _parts(text: str) -> Iterable[str]:
    """Case-folded runs of letters and digits, each split into its ASCII and non-ASCII parts."""
    for run in _RUN.findall(text):
        yield from _PART.findall(run.casefold())


def _size(part: str) -> int:
    return 3 if part[0] < "\x80" else 2


def _grams(part: str) -> list[str]:
    n = _size(part)
    return [part[i : i + n] for i in range(len(part) - n + 1)]


def terms_of(values: Iterable[str | None]) -> str:
    """The index terms of a ticket's searched texts, space-separated, each once."""
    found: set[str] = set()
    for value in values:
        for part in _parts(value or ""):
            if _size(part) == 2:
                found.update(part)
            found.update(_grams(part) if len(part) >= _size(part) else (part,))
    return " ".join(sorted(found))


def query_terms(q: str) -> list[str]:
    """Terms a ticket matching ``q`` must hold (none: ``q`` has no piece the index can narrow).

    Each piece gives the n-grams that tile it (one every n characters and the last):
    every character is in one, and each list read costs time (every ticket number
    holds 202, 026 and 261 of 2026). Single characters only when ``q`` has nothing
    longer: 第 or 号 are in nearly every ticket.
    """
    parts = list(_parts(q))
    found = {
        grams[i]
        for part in parts
        if (grams := _grams(part))
        for i in {*range(0, len(grams), _size(part)), -1}
    }
    return sorted(found or {part for part in parts if len(part) == 1 and _size(part) == 2})


def search_row(key: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ticket_search`` row of the ticket ``key`` with the searched fields ``values``."""
    return {"sync_key": key, "terms": terms_of(values.get(name) for name in SEARCHED)}


def write_search_rows(connection: Connection, rows: list[dict[str, Any]], new: bool = False) -> None:
    """Store the rows of `search_row` (``new``: the tickets have none yet, else theirs are replaced)."""
    if not rows:
        return
    if new:
        insert_rows(connection, search_table, rows)
        return
    s = search_table.c
    connection.execute(
        update(search_table).where(s.sync_key == bindparam("key")).values(terms=bindparam("new_terms")),
        [{"key": r["sync_key"], "new_terms": r["terms"]} for r in rows],
    )


def fill_search_rows(connection: Connection, batch: int = 5_000) -> int:
    """Write the ``ticket_search`` row of every stored ticket (the migration, loads around the service)."""
    from server.storage.models import tickets_table

    t = tickets_table.c
    connection.execute(delete(search_table))
    query = select(t.sync_key, *(t[name] for name in SEARCHED)).order_by(t.sync_key)
    last, done = "", 0
    while True:
        part = connection.execute(query.where(t.sync_key > last).limit(batch)).all()
        if not part:
            return done
        rows = [search_row(r.sync_key, r._mapping) for r in part]
        insert_rows(connection, search_table, rows)
        done += len(rows)
        last = part[-1].sync_key


def holding(dialect: str, terms: Sequence[str]) -> Select[tuple[str]]:
    """Sync keys of the tickets holding every term (``dialect``: the database's name)."""
    s = search_table.c
    if dialect == "postgresql":
        held = func.string_to_array(s.terms, literal_column("' '")).op("@>")(
            bindparam("terms", list(terms), type_=ARRAY(Text))
        )
        return select(s.sync_key).where(held)
    match = text(f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :match").bindparams(
        match=" ".join(f'"{term}"' for term in terms)
    )
    return select(s.sync_key).where(s.id.in_(match.columns(column("rowid", Integer))))


def candidates(session: Session, terms: Sequence[str], cap: int) -> list[str] | None:
    """Sync keys of the tickets holding every term; None when there are more than ``cap``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # for a common term the planner would split every row's terms until the cap
        was = session.scalar(text("SELECT current_setting('enable_seqscan')"))
        session.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
    found = list(session.scalars(holding(dialect, terms).limit(cap + 1)))
    if dialect == "postgresql":
        session.execute(text("SELECT set_config('enable_seqscan', :was, true)"), {"was": was})
    return None if len(found) > cap else found
