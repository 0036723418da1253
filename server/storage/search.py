"""The ticket list's search index: n-gram terms of each ticket's searched text, kept by the one service.

A search is a substring match (``LIKE``) over the ticket number, the customer's
name, the contact and the description. At a million tickets that scan is too
slow for a rare word, so each ticket also keeps its *terms* (``ticket_search``):

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

The terms are not written with each change (a fifth of a big push's time went
to them): `catch_up` brings the index up to date before a search and after each
flag scan. Per branch, ``search_marks`` holds the change number up to which the
index holds every ticket; a change's tickets carry its number (``change_seq``),
so the tickets changed since are found through the branch's change index.
Change numbers are taken under the branch's lock, so every change numbered up to
the branch's counter as read is committed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Text

from server.storage.db import Database
from server.storage.models import BranchRow, search_marks_table, search_table, tickets_table
from server.storage.rows import chunks
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


def bring_up_to_date(db: Database) -> int:
    """`catch_up` in a transaction of its own when a branch is behind (a read first: usually none is)."""
    with db.read() as session:
        if not lagging(session):
            return 0
    with db.write() as session:
        return catch_up(session)


def catch_up(session: Session, batch: int = 5_000) -> int:
    """Bring the index up to date with every committed change; returns how many tickets were looked at.

    Per branch behind its mark: the mark's row is locked (two catch-ups would
    otherwise race, the older text written last), then the tickets changed after
    the mark up to the branch's counter get their terms, written only where they
    differ from the stored ones.
    """
    looked = 0
    for branch_id, latest in lagging(session):
        indexed = _lock_mark(session, branch_id)
        if indexed >= latest:  # another catch-up did it while this one waited
            continue
        looked += _index_changes(session, branch_id, indexed, latest, batch)
        m = search_marks_table.c
        session.execute(update(search_marks_table).where(m.branch_id == branch_id).values(change_seq=latest))
    return looked


def lagging(session: Session) -> list[tuple[int, int]]:
    """(branch id, change counter) of each branch whose index is behind its changes."""
    b, m = BranchRow.__table__.c, search_marks_table.c
    query = (
        select(b.id, b.change_seq)
        .outerjoin(search_marks_table, m.branch_id == b.id)
        .where(b.change_seq > func.coalesce(m.change_seq, 0))
        .order_by(b.id)
    )
    return [(branch_id, latest) for branch_id, latest in session.execute(query)]


def _lock_mark(session: Session, branch_id: int) -> int:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    m = search_marks_table.c
    session.execute(
        dialect.insert(search_marks_table)
        .values(branch_id=branch_id, change_seq=0)
        .on_conflict_do_nothing(index_elements=["branch_id"])
    )
    query = select(m.change_seq).where(m.branch_id == branch_id).with_for_update()
    return int(session.scalar(query) or 0)


def _index_changes(session: Session, branch_id: int, after: int, upto: int, batch: int) -> int:
    t, s = tickets_table.c, search_table.c
    query = select(t.sync_key, *(t[name] for name in SEARCHED)).where(
        t.branch_id == branch_id, t.change_seq > after, t.change_seq <= upto
    )
    connection = session.connection()
    looked = 0
    for part in connection.execute(query.execution_options(yield_per=batch)).partitions():
        terms = {r.sync_key: terms_of(r[1:]) for r in part}
        stored: dict[str, str] = {}
        for keys in chunks(list(terms)):
            stored.update(connection.execute(select(s.sync_key, s.terms).where(s.sync_key.in_(keys))).all())
        fresh = [{"sync_key": k, "terms": v} for k, v in terms.items() if k not in stored]
        changed = [{"key": k, "new_terms": v} for k, v in terms.items() if k in stored and stored[k] != v]
        insert_rows(connection, search_table, fresh)
        if changed:
            query_update = update(search_table).where(s.sync_key == bindparam("key"))
            connection.execute(query_update.values(terms=bindparam("new_terms")), changed)
        looked += len(terms)
    return looked


def fill_search_rows(connection: Connection, batch: int = 5_000) -> int:
    """Write the ``ticket_search`` row of every stored ticket (migration 0014, loads around the service)."""
    t = tickets_table.c
    connection.execute(delete(search_table))
    query = select(t.sync_key, *(t[name] for name in SEARCHED)).order_by(t.sync_key)
    last, done = "", 0
    while True:
        part = connection.execute(query.where(t.sync_key > last).limit(batch)).all()
        if not part:
            return done
        rows = [{"sync_key": r.sync_key, "terms": terms_of(r[1:])} for r in part]
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
