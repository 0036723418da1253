"""Rows ↔ domain objects: the only code that turns stored tickets, tasks and log entries into the model.

Two decoders of a ticket row share one mapping: `row_to_ticket` for an ORM row,
`ticket_of` for a Core row of `TICKET_READ` (the hot loops of the flag scan and
the one service: enum and flag values decoded once per distinct value).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from complaints.calendar import load_calendar
from complaints.enums import LogKind
from complaints.flags import FLAG_LOG_KINDS, Evaluation
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import ColType
from complaints.sla import SlaClock, policy_from_settings
from complaints.wire import COLUMNS, DEADLINE_COLUMNS, TICKET_ATTRS, decode, encode
from server.storage.models import BranchRow, LogRow, TaskRow, TicketRow, tickets_table

STORED_TICKET_FIELDS: tuple[str, ...] = tuple(
    k for k in COLUMNS if k in TICKET_ATTRS and k not in ("sync_key", "version")
)


_KIND: dict[str, ColType] = {key: column.type for key, column in COLUMNS.items()}


def to_db(key: str, value: Any) -> Any:
    """A model value as the database stores it (enum codes, comma-separated flags)."""
    kind = _KIND[key]
    if value is None:
        return None
    if kind is ColType.ENUM:
        return str(value)
    if kind is ColType.FLAGS:
        return ",".join(sorted(map(str, value)))
    return value


STORED_AS_IS: tuple[str, ...] = tuple(
    k for k in STORED_TICKET_FIELDS if COLUMNS[k].type not in (ColType.ENUM, ColType.FLAGS)
)
"""Stored ticket fields the database keeps as the model holds them (`to_db` is the identity)."""
STORED_CONVERTED: tuple[str, ...] = tuple(k for k in STORED_TICKET_FIELDS if k not in STORED_AS_IS)


def from_db(key: str, value: Any) -> Any:
    """A stored value as the model holds it."""
    kind = COLUMNS[key].type
    if kind is ColType.FLAGS:
        return decode(key, [f for f in (value or "").split(",") if f])
    if kind is ColType.ENUM:
        return decode(key, value)
    if value is None and kind in (ColType.TEXT, ColType.BOOL, ColType.INT):
        return decode(key, None)
    return value


def as_json_text(key: str, value: Any) -> str:
    """A model value as JSON text, for history and conflicts."""
    return json.dumps(encode(key, value), ensure_ascii=False)


def row_to_ticket(row: TicketRow, branch_code: str = "") -> Ticket:
    values = {k: from_db(k, getattr(row, k)) for k in STORED_TICKET_FIELDS}
    return Ticket(sync_key=row.sync_key, branch=branch_code, version=row.version, **values)


def row_to_json(row: TicketRow, branch_code: str) -> dict[str, Any]:
    """A stored ticket as the API returns it, computed columns included."""
    data = {k: encode(k, from_db(k, getattr(row, k))) for k in COLUMNS if k not in ("version", "sync_key")}
    data.update(sync_key=row.sync_key, version=row.version, branch=branch_code)
    return data


def task_to_json(row: TaskRow) -> dict[str, Any]:
    return {
        "sync_key": row.sync_key,
        "ticket_key": row.ticket_key,
        "ticket_id": row.ticket_id,
        "task_no": row.task_no,
        "title": row.title,
        "owner": row.owner,
        "due": row.due.isoformat() if row.due else None,
        "done_at": row.done_at.isoformat() if row.done_at else None,
        "version": row.version,
    }


def log_entry_of(row: LogRow) -> LogEntry:
    return LogEntry(row.ticket_id, row.at, LogKind(row.kind), row.text, row.author, row.channel, row.sync_key)


def log_to_json(row: LogRow) -> dict[str, Any]:
    return {
        "sync_key": row.sync_key,
        "ticket_key": row.ticket_key,
        "ticket_id": row.ticket_id,
        "at": row.at.isoformat(),
        "kind": row.kind,
        "text": row.text,
        "author": row.author,
        "role": row.role,
        "channel": row.channel,
    }


def next_change_seq(session: Session, branch_id: int) -> int:
    """Take the branch's next change number.

    The UPDATE locks the branch row until commit, so a branch's changes commit
    in the order of their numbers and a pull's cursor never skips one.
    """
    seq = session.execute(_NEXT_SEQ, {"branch": branch_id}).scalar_one()
    return int(seq)


_branches = BranchRow.__table__.c
_NEXT_SEQ = (
    update(BranchRow.__table__)
    .where(_branches.id == bindparam("branch"))
    .values(change_seq=_branches.change_seq + 1)
    .returning(_branches.change_seq)
)
"""Built once, on the table: the ORM's update machinery is not needed for a counter no loaded row reads."""


def clock_for(tz: str, calendar_path: str | None) -> SlaClock:
    """The SLA clock of a branch time zone under the app's ``SLA_POLICY`` settings, if any."""
    settings = current_app.config.get("SLA_POLICY") if has_app_context() else None
    return _clock(tz, calendar_path, json.dumps(settings or {}, sort_keys=True))


@cache
def _clock(tz: str, calendar_path: str | None, settings: str) -> SlaClock:
    """Cached: calendars cache their answers."""
    return SlaClock(load_calendar(calendar_path), policy_from_settings(json.loads(settings), tz))


def computed_values(result: Evaluation) -> dict[str, Any]:
    """The computed columns of an evaluation (status, flags, deadlines) as the database stores them."""
    values: dict[str, Any] = {"status": str(result.status), "flags": to_db("flags", result.flags)}
    for column, attr in DEADLINE_COLUMNS.items():
        value = getattr(result.deadlines, attr)
        values[column] = value if isinstance(value, datetime) else None
    return values


# --- the fast decoder of Core rows ----------------------------------------------------------------------

_t = tickets_table.c
_LOW_CARDINALITY = frozenset(
    k for k in STORED_TICKET_FIELDS if COLUMNS[k].type in (ColType.ENUM, ColType.FLAGS)
)
TICKET_READ = (
    *(_t[k] for k in STORED_TICKET_FIELDS),
    *(_t[k] for k in DEADLINE_COLUMNS),
    _t.sync_key,
    _t.branch_id,
    _t.version,
    _t.change_seq,
    _t.updated_by,
)
"""The stored fields first, in the order `ticket_of` reads them; then the deadlines and bookkeeping."""


@lru_cache(maxsize=8192)
def _decoded(key: str, value: Any) -> Any:
    return from_db(key, value)


_NULL_AS = {
    k: v for k in STORED_TICKET_FIELDS if k not in _LOW_CARDINALITY and (v := from_db(k, None)) is not None
}
"""What a null of the other fields reads as (texts, numbers, booleans): immutable, so one value serves."""
assert all(isinstance(v, str | int | float | bool) for v in _NULL_AS.values())


def ticket_of(row: Any, code: str) -> Ticket:
    """A ticket from a Core row of `TICKET_READ`.

    `from_db` passes non-null values of the other kinds through unchanged, so only nulls are
    replaced (by `_NULL_AS`).
    """
    values = dict(zip(STORED_TICKET_FIELDS, row, strict=False))
    for key in _LOW_CARDINALITY:
        values[key] = _decoded(key, values[key])
    for key, null in _NULL_AS.items():
        if values[key] is None:
            values[key] = null
    return Ticket(sync_key=row.sync_key, branch=code, version=row.version, **values)


def stored(row: Any, key: str) -> Any:
    """A column of a `TICKET_READ` row as stored (flags: "" for none)."""
    value = getattr(row, key)
    return value or "" if key == "flags" else value


LIGHT_READ = (_t.sync_key, _t.ticket_id, _t.received_at, _t.category, _t.place, _t.contact, _t.resolved_at)
"""Just what the group-incident and repeat-complaint rules read."""


def light_ticket(row: Any) -> Ticket:
    """A ticket with just the fields of `LIGHT_READ`."""
    return Ticket(
        ticket_id=row.ticket_id,
        received_at=row.received_at,
        sync_key=row.sync_key,
        category=_decoded("category", row.category),
        place=row.place or "",
        contact=row.contact or "",
        resolved_at=row.resolved_at,
    )


def chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` in slices short enough for an ``IN (…)`` list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_tickets(session: Session, keys: Iterable[str], lock: bool = False) -> dict[str, Any]:
    """`TICKET_READ` rows of ``keys`` (locked for this transaction with ``lock``), by sync key."""
    rows: dict[str, Any] = {}
    for chunk in chunks(sorted(set(keys))):
        query = select(*TICKET_READ).where(_t.sync_key.in_(chunk))
        rows.update((r.sync_key, r) for r in session.execute(query.with_for_update() if lock else query))
    return rows


def tasks_and_progress(
    session: Session, keys: Iterable[str]
) -> tuple[dict[str, list[Task]], dict[str, list[LogEntry]]]:
    """The tasks, progress updates and written confirmations of tickets ``keys``: what the flags read
    besides the ticket."""
    tasks: dict[str, list[Task]] = defaultdict(list)
    progress: dict[str, list[LogEntry]] = defaultdict(list)
    for chunk in chunks(sorted(set(keys)), 5_000):  # a scan's batch: a query, not ten
        for r in session.execute(_TASKS_OF, {"keys": chunk}):
            tasks[r.ticket_key].append(task_of(r))
        for key, ticket_id, at, kind, log_key in session.execute(_PROGRESS_OF, {"keys": chunk}):
            progress[key].append(LogEntry(ticket_id, at, LogKind(kind), "", sync_key=log_key))
    return tasks, progress


_tasks = TaskRow.__table__.c
_TASKS_OF = select(*_tasks).where(_tasks.ticket_key.in_(bindparam("keys", expanding=True)))
"""The tasks of some tickets as Core rows (`task_of` reads them as it reads an ORM row), built once, of
table columns: executed without the ORM's compile state (a scan runs it for every batch)."""
_log = LogRow.__table__.c
_PROGRESS_OF = select(_log.ticket_key, _log.ticket_id, _log.at, _log.kind, _log.sync_key).where(
    _log.ticket_key.in_(bindparam("keys", expanding=True)),
    _log.kind.in_([k.value for k in FLAG_LOG_KINDS]),
)


def task_of(row: Any) -> Task:
    """A task from its row (ORM or Core)."""
    return Task(
        row.ticket_id, row.task_no, row.title, row.owner, row.due, row.done_at, row.sync_key, row.version
    )
