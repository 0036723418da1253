"""Writing tickets, their history and their log: bulk statements, each ticket guarded by its version.

A ticket is written with ``UPDATE … WHERE sync_key AND branch_id AND version``:
a row that changed since it was read is never overwritten (the caller holds
the branch lock, so this cannot happen; if it does, the whole change fails and
is sent again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, Update, bindparam, update
from sqlalchemy.orm import Session

from complaints.model import LogEntry
from complaints.schema import Column
from complaints.wire import encode
from server.storage.models import HistoryRow, LogRow, tickets_table

CREATED = "*"
"""The history field of a ticket's creation: one row holding every field it was created with, as JSON."""


class StaleWrite(RuntimeError):
    """A guarded write found a row at another version than it read."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who wrote, from which door, when, and the branch's change number of this transaction."""

    by: str
    role: str
    door: str
    device: str
    at: datetime
    seq: int


def json_text(key: str, value: Any, columns: Mapping[str, Column]) -> str:
    """A model value as JSON text, for history and conflicts."""
    return json.dumps(encode(key, value, columns), ensure_ascii=False)


def history_row(
    stamp: Stamp, entity: str, key: str, version: int, name: str, old: str | None, new: str | None
) -> dict[str, Any]:
    return {
        "entity": entity,
        "entity_key": key,
        "version": version,
        "field": name,
        "old_value": old,
        "new_value": new,
        "by": stamp.by,
        "role": stamp.role,
        "source": stamp.door,
        "device": stamp.device,
        "at": stamp.at,
    }


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dictionaries with the same keys) straight through the driver.

    The values are converted by the columns' own bind processors, so they are stored
    exactly as ``connection.execute(insert(table), rows)`` stores them, in a fraction of
    the time: SQLAlchemy builds and processes a parameter dictionary per row (most of a
    5,000-ticket push on SQLite), and on PostgreSQL sends a statement per row where COPY
    streams them all. A column empty in every row is left out (NULL); a column missing
    from the rows gets its default.
    """
    if not rows:
        return
    given = _by_column(rows)
    dialect = connection.dialect
    columns, cells = [], []
    for c in table.c:
        default = c.default.arg if c.default is not None else None
        values = given(c.key, default)
        if values.count(None) == len(values) and not (c.default is not None and c.default.is_scalar):
            continue  # empty in every row: left out, so NULL or the database's own default
        process = c.type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(c)
        cells.append(values if process is None else _converted(values, process))
    quote = dialect.identifier_preparer
    names = ", ".join(quote.format_column(c) for c in columns)
    if dialect.name == "postgresql":  # COPY: one stream instead of a statement per row
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f"COPY {quote.format_table(table)} ({names}) FROM STDIN") as copy:
                for row in zip(*cells, strict=True):
                    copy.write_row(row)
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({', '.join([marker] * len(columns))})"
    connection.exec_driver_sql(sql, list(zip(*cells, strict=True)))


def _by_column(rows: list[dict[str, Any]]) -> Callable[[str, Any], Sequence[Any]]:
    """A column's values over ``rows`` by its key, ``default`` where a row lacks it.

    Rows built by one piece of code share their keys' order: they are turned into
    columns by ``zip`` in one pass, not a dictionary look-up per cell.
    """
    keys = tuple(rows[0])
    if all(tuple(row) == keys for row in rows):
        columns = dict(zip(keys, zip(*(row.values() for row in rows), strict=True), strict=True))
        return lambda key, default: columns.get(key) or (default,) * len(rows)
    return lambda key, default: [row.get(key, default) for row in rows]


def _converted(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``values`` through a column's bind processor, each distinct value once.

    A push's rows share most of their times (when written, end-of-day deadlines):
    converting a datetime for SQLite costs two calls, a dictionary lookup far less.
    """
    try:
        done = {v: process(v) for v in set(values) if v is not None}
    except TypeError:  # a value that cannot be a key (none of our columns today): one by one
        return [None if v is None else process(v) for v in values]
    done[None] = None
    return [done[v] for v in values]


def insert_history(session: Session, rows: list[dict[str, Any]]) -> None:
    insert_rows(session.connection(), HistoryRow.__table__, rows)


def insert_tickets(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert new tickets."""
    insert_rows(session.connection(), tickets_table, rows)


def update_tickets(
    session: Session, branch_id: int, stamp: Stamp, changes: list[tuple[Any, dict[str, Any]]]
) -> None:
    """Write ``(row as read, {column: new value})`` changes in one statement.

    The row as read (ORM or Core, with every column) gives the version the write is
    guarded by and the values of the columns another ticket of the statement changes.
    Every ticket gets the next version, the transaction's change number and who/when.
    """
    if not changes:
        return
    names = tuple(sorted({name for _, values in changes for name in values}))
    statement = _update_statement(names)
    common = {"k_branch": branch_id, "v_seq": stamp.seq, "v_at": stamp.at, "v_by": stamp.by}
    params = [
        {"k_key": row.sync_key, "k_version": row.version, "v_version": row.version + 1}
        | common
        | {f"v_{name}": values[name] if name in values else getattr(row, name) for name in names}
        for row, values in changes
    ]
    result = session.connection().execute(statement, params)
    if result.rowcount != len(params):  # cannot happen under the branch lock; refuse rather than overwrite
        raise StaleWrite("a ticket changed while this change was applied; send it again")


@lru_cache(maxsize=256)
def _update_statement(names: tuple[str, ...]) -> Update:
    """The guarded UPDATE of tickets writing columns ``names`` (built once per column set)."""
    t = tickets_table
    return (
        update(t)
        .where(t.c.sync_key == bindparam("k_key"), t.c.branch_id == bindparam("k_branch"))
        .where(t.c.version == bindparam("k_version"))
        .values(
            {name: bindparam(f"v_{name}", type_=t.c[name].type) for name in names}
            | {
                "version": bindparam("v_version"),
                "change_seq": bindparam("v_seq"),
                "updated_at": bindparam("v_at", type_=t.c.updated_at.type),
                "updated_by": bindparam("v_by"),
            }  # fmt: skip
        )
    )


def insert_log(
    session: Session, stamp: Stamp, branch_id: int, entries: Iterable[tuple[str, LogEntry]], role: str = ""
) -> None:
    """Append log entries ``(ticket sync key, entry)``; the author's role is the writer's unless given."""
    rows = [
        {
            "sync_key": entry.sync_key,
            "ticket_key": key,
            "branch_id": branch_id,
            "ticket_id": entry.ticket_id,
            "at": entry.at,
            "kind": entry.kind.value,
            "text": entry.text,
            "author": entry.author or stamp.by,
            "role": role or stamp.role,
            "channel": entry.channel or stamp.door,
            "change_seq": stamp.seq,
        }
        for key, entry in entries
    ]
    insert_rows(session.connection(), LogRow.__table__, rows)
