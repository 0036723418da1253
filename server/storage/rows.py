"""Rows ↔ domain objects, the branch change counter, and recomputing a ticket with the rules."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from complaints.calendar import load_calendar
from complaints.flags import evaluate
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import ColType
from complaints.sla import SlaClock, SlaPolicy
from complaints.wire import COLUMNS, DEADLINE_COLUMNS, TICKET_ATTRS, decode, encode
from server.storage.models import BranchRow, LogRow, TaskRow, TicketRow

STORED_TICKET_FIELDS: tuple[str, ...] = tuple(
    k for k in COLUMNS if k in TICKET_ATTRS and k not in ("sync_key", "version")
)


def to_db(key: str, value: Any) -> Any:
    """A model value as the database stores it (enum codes, comma-separated flags)."""
    kind = COLUMNS[key].type
    if value is None:
        return None
    if kind is ColType.ENUM:
        return str(value)
    if kind is ColType.FLAGS:
        return ",".join(sorted(str(f) for f in value))
    return value


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


def log_to_json(row: LogRow) -> dict[str, Any]:
    return {
        "sync_key": row.sync_key,
        "ticket_key": row.ticket_key,
        "ticket_id": row.ticket_id,
        "at": row.at.isoformat(),
        "kind": row.kind,
        "text": row.text,
        "author": row.author,
        "channel": row.channel,
    }


def next_change_seq(session: Session, branch_id: int) -> int:
    """Take the branch's next change number.

    The UPDATE locks the branch row until commit, so a branch's changes commit
    in the order of their numbers and a pull's cursor never skips one.
    """
    seq = session.execute(
        update(BranchRow)
        .where(BranchRow.id == branch_id)
        .values(change_seq=BranchRow.change_seq + 1)
        .returning(BranchRow.change_seq)
    ).scalar_one()
    return int(seq)


@cache
def clock_for(tz: str, calendar_path: str | None) -> SlaClock:
    """The SLA clock of a branch time zone (cached: calendars cache their answers)."""
    return SlaClock(load_calendar(calendar_path), SlaPolicy(tz=tz))


def computed_values(
    ticket: Ticket, clock: SlaClock, now: datetime, tasks: list[Task], log: list[LogEntry]
) -> dict[str, Any]:
    """The computed columns of a ticket (status, flags, deadlines) as the database stores them."""
    result = evaluate(ticket, clock, now, tasks, log)
    values: dict[str, Any] = {"status": str(result.status), "flags": to_db("flags", result.flags)}
    for column, attr in DEADLINE_COLUMNS.items():
        value = getattr(result.deadlines, attr)
        values[column] = value if isinstance(value, datetime) else None
    return values
