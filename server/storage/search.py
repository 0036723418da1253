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
  and a run shorter than three is a term as it is. A run of six or more also
  gives every six (`LONG`): every ticket number holds the trigrams of
  ``2026110``, but only those of the first nine days of November hold its
  six-grams, so a longer piece of a number narrows as much as it says.

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

Each row's id is the ticket's **place**: the second it was received in (counted
from 2000), then a slot unique within that second. The inverted indexes list a
term's tickets by id, so the tickets holding a query's terms come out by receipt
second, newest or oldest first, from any second on (`in_place_order`): a broad
search reads the list's first page from the newest candidates instead of
walking every newer ticket with the ``LIKE``.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Select,
    any_,
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
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SECONDS = 1 << 35
"""Seconds a place tells apart from `_EPOCH` (past the validation's last year, 2999); outside: the ends."""
_SHIFT = 27
"""Bits of a place below its second: 7 of the branch (so two branches never compete for a slot) and 20 of
the slot itself (a million tickets of one branch in one second)."""
_SPAN = 1 << _SHIFT
_SLOT_BITS = 20
_SLOTS = 1 << _SLOT_BITS
FIRST_BATCH = 1_024
"""Candidates `in_place_order` reads first at most (then four times as many each time)."""
LONG = 6
"""The longer n-grams of an ASCII run (besides its trigrams). Measured on a tenth of the bench's tickets,
four- to seven-grams make FTS indexes within 5% of one another (a quarter more than trigrams alone) and
narrow its numbers alike; the longer, the rarer a phone number's piece, but the longer a query must be."""
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


def _grams(part: str, n: int) -> list[str]:
    return [part[i : i + n] for i in range(len(part) - n + 1)]


def terms_of(values: Iterable[str | None]) -> str:
    """The index terms of a ticket's searched texts, space-separated, each once."""
    found: set[str] = set()
    for value in values:
        for part in _parts(value or ""):
            n = _size(part)
            if n == 2:
                found.update(part)
            found.update(_grams(part, n) if len(part) >= n else (part,))
            if n == 3:
                found.update(_grams(part, LONG))
    return " ".join(sorted(found))


def query_terms(q: str) -> list[str]:
    """Terms a ticket matching ``q`` must hold (none: ``q`` has no piece the index can narrow).

    Each piece gives the n-grams that tile it (one every n characters and the last),
    the longest it has (an ASCII piece of six or more: its six-grams): every
    character is in one, and each list read costs time (every ticket number holds
    202, 026 and 261 of 2026). Single characters only when ``q`` has nothing
    longer: 第 or 号 are in nearly every ticket.
    """
    parts = list(_parts(q))
    found = {
        grams[i]
        for part in parts
        if (n := LONG if len(part) >= LONG and _size(part) == 3 else _size(part))
        if (grams := _grams(part, n))
        for i in {*range(0, len(grams), n), -1}
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


def second_of(at: datetime) -> int:
    """The receipt second of a place (`_EPOCH` on; clamped to what a place holds)."""
    second = (at.replace(tzinfo=at.tzinfo or UTC) - _EPOCH) // timedelta(seconds=1)
    return min(max(second, 0), _SECONDS - 1)


def seconds_from(second: int) -> int:
    """The lowest place of ``second``; its places are the `_SPAN` from there. Newer seconds come first (an
    index reads its lists forward several times faster than backward, and the newest end is read most)."""
    return (_SECONDS - 1 - second) << _SHIFT


def second_of_place(place: int) -> int:
    """The receipt second ``place`` lies in."""
    return _SECONDS - 1 - (place >> _SHIFT)


def moment_of(second: int) -> datetime:
    """The start of a receipt second (`second_of`)."""
    return _EPOCH + timedelta(seconds=second)


def _first_choice(branch_id: int, second: int, sync_key: str) -> int:
    slot = zlib.crc32(sync_key.encode()) % _SLOTS
    return seconds_from(second) + ((branch_id % (1 << (_SHIFT - _SLOT_BITS))) << _SLOT_BITS) + slot


def _next_slot(place: int) -> int:
    base = place - place % (1 << _SLOT_BITS)
    return base + (place - base + 1) % _SLOTS


def _places(connection: Connection, wanted: dict[str, tuple[int, int]]) -> dict[str, int]:
    """A free place for each ticket of ``wanted`` (sync key → branch id, receipt second).

    A slot taken (by another ticket, or one of these) moves on to the next of the
    same branch and second; every place stored counts as taken, also one about to be
    left. Only one catch-up writes a branch's places at a time (the mark's lock).
    """
    placed: dict[str, int] = {}
    used: set[int] = set()
    todo = {key: _first_choice(branch_id, second, key) for key, (branch_id, second) in wanted.items()}
    for _ in range(_SLOTS):
        if not todo:
            return placed
        taken = set(used)
        for part in chunks(list(todo.values())):
            taken.update(connection.scalars(select(search_table.c.id).where(search_table.c.id.in_(part))))
        moved: dict[str, int] = {}
        for key, place in todo.items():
            if place in taken:
                moved[key] = _next_slot(place)
            else:
                placed[key] = place
                used.add(place)
                taken.add(place)
        todo = moved
    raise RuntimeError("no free place in a second: more than a million tickets of one branch in it")


def _index_changes(session: Session, branch_id: int, after: int, upto: int, batch: int) -> int:
    t, s = tickets_table.c, search_table.c
    query = select(t.sync_key, t.received_at, *(t[name] for name in SEARCHED)).where(
        t.branch_id == branch_id, t.change_seq > after, t.change_seq <= upto
    )
    connection = session.connection()
    looked = 0
    for part in connection.execute(query.execution_options(yield_per=batch)).partitions():
        terms = {r.sync_key: terms_of(r[2:]) for r in part}
        seconds = {r.sync_key: second_of(r.received_at) for r in part}
        stored: dict[str, tuple[int, str]] = {}
        for keys in chunks(list(terms)):
            found = connection.execute(select(s.sync_key, s.id, s.terms).where(s.sync_key.in_(keys)))
            stored.update((key, (place, held)) for key, place, held in found)
        moving = {
            k: (branch_id, seconds[k])
            for k in terms
            if k not in stored or second_of_place(stored[k][0]) != seconds[k]
        }
        places = _places(connection, moving)
        fresh = [{"id": places[k], "sync_key": k, "terms": v} for k, v in terms.items() if k not in stored]
        changed = [
            {"key": k, "new_id": places.get(k, stored[k][0]), "new_terms": v}
            for k, v in terms.items()
            if k in stored and (stored[k][1] != v or k in places)
        ]
        insert_rows(connection, search_table, fresh)
        if changed:
            query_update = update(search_table).where(s.sync_key == bindparam("key"))
            connection.execute(
                query_update.values(id=bindparam("new_id"), terms=bindparam("new_terms")), changed
            )
        looked += len(terms)
    return looked


def fill_search_rows(connection: Connection, batch: int = 5_000) -> int:
    """Write the ``ticket_search`` row of every stored ticket (migration 0021, loads around the service).

    Rows go in each branch's receipt order, as the catch-up writes them: on
    PostgreSQL a search's candidates are read from the table's pages, and the
    tickets of one branch and time a ticket number narrows to then lie together
    (B002-2026110 at a million: 36,000 candidates on 5,354 pages, against
    27,000 in the order of the sync keys).
    """
    t = tickets_table.c
    connection.execute(delete(search_table))
    query = select(t.sync_key, t.branch_id, t.received_at, *(t[name] for name in SEARCHED)).order_by(
        t.branch_id, t.received_at, t.sync_key
    )
    done = 0
    for part in connection.execute(query.execution_options(yield_per=batch)).partitions():
        places = _places(connection, {r.sync_key: (r.branch_id, second_of(r.received_at)) for r in part})
        rows = [{"id": places[r.sync_key], "sync_key": r.sync_key, "terms": terms_of(r[3:])} for r in part]
        insert_rows(connection, search_table, rows)
        done += len(rows)
    return done


def holding(dialect: str, terms: Sequence[str], limit: int | None = None) -> Select[tuple[str]]:
    """Sync keys of the tickets holding every term (``dialect``: the database's name), up to ``limit``."""
    s = search_table.c
    if dialect == "postgresql":
        held = func.string_to_array(s.terms, literal_column("' '")).op("@>")(
            bindparam("terms", list(terms), type_=ARRAY(Text))
        )
        return select(s.sync_key).where(held).limit(limit)
    return select(s.sync_key).where(s.id.in_(_fts_match(terms, limit)))


def _fts_match(terms: Sequence[str], limit: int | None) -> Any:
    """SQLite: the places of the tickets holding every term, up to ``limit``, from the FTS5 index."""
    match = text(
        f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :match" + ("" if limit is None else " LIMIT :limit")
    )
    match = match.bindparams(match=" ".join(f'"{term}"' for term in terms))
    if limit is not None:
        match = match.bindparams(limit=limit)
    return match.columns(column("rowid", Integer))


def among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column`` holds one of ``values`` (a batch of candidates' keys or places): on PostgreSQL as one array
    parameter (a thousand placeholders took longer to convert and send than the database took to look them
    up)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def serial(session: Session) -> None:
    """PostgreSQL: no parallel workers for the rest of this transaction. The list's reads stop at a page or
    at the count's cap; parallel workers each start at their own end and read past it (red + overdue + 宽带
    at a million tickets: its count 90 ms in parallel, 53 ms by one process)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('max_parallel_workers_per_gather', '0', true)"))


@contextmanager
def _no_seqscan(session: Session) -> Iterator[None]:
    """PostgreSQL: the terms read through their GIN index (for a common term the planner would otherwise
    scan the table, splitting every row's terms)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        was = session.scalar(text("SELECT current_setting('enable_seqscan')"))
        session.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
    yield
    if postgres:
        session.execute(text("SELECT set_config('enable_seqscan', :was, true)"), {"was": was})


@dataclass(frozen=True)
class Candidates:
    """What the index says of a query's terms (`candidates`)."""

    keys: list[str] | None
    """Sync keys of every ticket holding the terms; None: more than the cap."""
    by_place: bool
    """Whether a broad search reads its candidates by place (`in_place_order`); else it walks the list's
    order with the ``LIKE``."""
    placed: list[int] = field(default_factory=list)
    """PostgreSQL: the place of every candidate, newest first, read once for every walk (their keys are
    read a batch at a time: 36,000 keys cost a third of the read and most batches are never walked)."""


PLACED_AT_MOST = 50_000
"""PostgreSQL reads a broad search's candidates by place when its planner expects at most this many."""


def candidates(session: Session, terms: Sequence[str], cap: int) -> Candidates:
    """The tickets holding every term: their keys when there are at most ``cap``, and how to walk them.

    SQLite's FTS5 lists a term's tickets in place order from any place on, so a
    broad search always reads them by place. PostgreSQL's GIN index hands its
    matches over as a bitmap: when the planner expects at most `PLACED_AT_MOST`,
    every candidate is read at once with its place (36,000 in about 0.1 s at a
    million tickets) and serves both the narrow case and the walks; with more,
    matches are common and walking the list's order with the ``LIKE`` finds a
    page sooner.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        terms = _narrowing(session, terms)
    if dialect == "postgresql" and _expected(session, terms) <= PLACED_AT_MOST:
        s = search_table.c
        query = holding(dialect, terms, PLACED_AT_MOST + 1).with_only_columns(s.id)
        with _no_seqscan(session):
            placed = sorted(place for (place,) in _driver_rows(session, query))
        if len(placed) <= cap:
            return Candidates([key for _, key in _with_keys(session, placed)], True)
        if len(placed) <= PLACED_AT_MOST:
            return Candidates(None, True, placed)
        return Candidates(None, False)  # the planner was wrong: the matches are common
    if dialect == "postgresql" and len(terms) == 1:
        return Candidates(None, False)  # one term: its share is in the statistics, so the estimate holds
    if dialect == "postgresql":
        with _no_seqscan(session):
            found = list(session.scalars(holding(dialect, terms, cap + 1)))
        return Candidates(None if len(found) > cap else found, False)
    # SQLite: the index alone says whether there are more than the cap (a broad one's keys are not read)
    places = list(session.scalars(_fts_match(terms, cap + 1)))
    if len(places) > cap:
        return Candidates(None, True)
    s = search_table.c
    return Candidates(list(session.scalars(select(s.sync_key).where(s.id.in_(places)))), True)


def _driver_rows(session: Session, query: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``query`` as the driver's own tuples: for tens of thousands of rows, SQLAlchemy's row
    objects cost as much as the lookup (36,000 candidates: about 40 ms)."""
    compiled = query.compile(dialect=session.get_bind().dialect)
    with session.connection().connection.driver_connection.cursor() as cursor:
        cursor.execute(compiled.string, compiled.params)
        return list(cursor.fetchall())


COMMON = 0.5
"""PostgreSQL looks a term up only when its statistics say at most this share of the tickets hold it (the
rarest is always looked up): a common term narrows little, and its posting list is most of the lookup's
cost (every ticket of November holds 202611 and every branch's number b00: 50 -> 22 ms at a million)."""


def _narrowing(session: Session, terms: Sequence[str]) -> Sequence[str]:
    """The terms worth looking up in the GIN index (`COMMON`); the ``LIKE`` still decides."""
    if len(terms) < 2:
        return terms
    shares = text(
        "SELECT e, f FROM pg_stats, unnest(most_common_elems::text::text[], most_common_elem_freqs) "
        "AS u(e, f) WHERE schemaname = current_schema() AND tablename = 'ix_ticket_search_terms' "
        "AND e = ANY(:terms)"
    ).bindparams(bindparam("terms", list(terms), type_=ARRAY(Text)))
    share = {term: float(f) for term, f in session.execute(shares).all()}
    kept = [term for term in terms if share.get(term, 0.0) <= COMMON]
    return kept or [min(terms, key=lambda term: share[term])]


def _expected(session: Session, terms: Sequence[str]) -> int:
    """PostgreSQL's estimate of the tickets holding every term (``EXPLAIN``: a millisecond or so)."""
    compiled = holding("postgresql", terms).compile(dialect=session.get_bind().dialect)
    plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    return int(plan[0]["Plan"]["Plan Rows"])


def in_place_order(
    session: Session,
    found: Candidates,
    terms: Sequence[str],
    newest_first: bool,
    second: int | None,
    first: int = FIRST_BATCH,
) -> Iterator[list[tuple[int, str]]]:
    """(place, sync key) of the tickets holding every term, by place: receipt second by second from ``second``
    (included; None: the newest or oldest end), newest or oldest first; a batch at a time, each of whole
    seconds, ``first`` (at most `FIRST_BATCH`) then up to four times as long as the one before.

    SQLite: a batch is one read of the index (its cost is mostly the index's, however many it returns):
    when full, its last second may go on in the next, so that second is left to the next batch.
    PostgreSQL: the batches are cut from the candidates `candidates` read (``found.placed``).
    """
    low, high = 0, seconds_from(-1)
    if second is not None:
        if newest_first:
            low = seconds_from(second)
        else:
            high = seconds_from(second) + _SPAN
    if session.get_bind().dialect.name == "postgresql":
        places = found.placed
        within = places[bisect_left(places, low) : bisect_left(places, high)]
        for batch in _batched(within if newest_first else within[::-1], first):
            yield _with_keys(session, batch)
        return
    size = min(first, FIRST_BATCH)
    while low < high:
        found_now = _placed_between(session, terms, low, high, newest_first, size)
        if len(found_now) < size:
            low = high  # every candidate on this side read
        else:
            edge = found_now[-1][0]
            cut = edge - edge % _SPAN  # the first place of the last second read
            whole = [(place, key) for place, key in found_now if place < cut or place >= cut + _SPAN]
            if whole:
                found_now = whole
                low, high = (cut, high) if newest_first else (low, cut + _SPAN)
            elif newest_first:  # one second fills the batch: read the rest of it
                found_now += _placed_between(session, terms, edge + 1, cut + _SPAN, True, None)
                low = cut + _SPAN
            else:
                found_now += _placed_between(session, terms, cut, edge, False, None)
                high = cut
        if found_now:
            yield found_now
        size = min(size * 4, 16_384)


def _with_keys(session: Session, places: list[int]) -> list[tuple[int, str]]:
    """(place, sync key) of each of ``places`` (PostgreSQL), in their order. A place left since the
    candidates were read (a catch-up moved its ticket: its receipt time was corrected) is left out: the
    ticket is at its new place, which this read did not see."""
    s = search_table.c
    keys = dict(session.execute(select(s.id, s.sync_key).where(among(session, s.id, places))).all())
    return [(place, keys[place]) for place in places if place in keys]


def _batched(found: list[int], first: int) -> Iterator[list[int]]:
    """``found`` in batches as `in_place_order` yields them: whole seconds, each up to four times as long
    as the one before."""
    size, start = min(first, FIRST_BATCH), 0
    while start < len(found):
        end = min(start + size, len(found))
        while end < len(found) and found[end] // _SPAN == found[end - 1] // _SPAN:
            end += 1  # the rest of the last second read
        yield found[start:end]
        start, size = end, min(size * 4, 16_384)


def _placed_between(
    session: Session, terms: Sequence[str], low: int, high: int, newest_first: bool, limit: int | None
) -> list[tuple[int, str]]:
    """(place, sync key) of the tickets holding every term placed in [``low``, ``high``), newest first
    (places ascending) or oldest first."""
    s = search_table.c
    direction = "ASC" if newest_first else "DESC"
    match = text(
        f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :match AND rowid >= :low AND rowid < :high "
        f"ORDER BY rowid {direction}" + ("" if limit is None else " LIMIT :limit")
    ).bindparams(match=" ".join(f'"{term}"' for term in terms), low=low, high=high)
    if limit is not None:
        match = match.bindparams(limit=limit)
    query = select(s.id, s.sync_key).where(s.id.in_(match.columns(column("rowid", Integer))))
    return sorted(((place, key) for place, key in session.execute(query)), reverse=not newest_first)
