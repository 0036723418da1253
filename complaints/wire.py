"""Ticket fields ↔ JSON values, driven by the workbook schema (one list of fields everywhere).

Pure (no Flask): the server's storage and API and the add-in's sync client share it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from complaints.enums import Flag, LogKind
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import TASKS, TICKETS, ColType, Column

TICKET_ATTRS = frozenset(f.name for f in dataclasses.fields(Ticket))
COLUMNS: dict[str, Column] = {c.key: c for c in TICKETS.columns}
TASK_COLUMNS: dict[str, Column] = {c.key: c for c in TASKS.columns}
BRANCH_COMPUTED: frozenset[str] = frozenset({"reopened_at", "imported_at"})
"""Computed columns a branch's copy may carry to the server: Check deadlines reopens a ticket after a
dissatisfied revisit (`complaints.lifecycle.record_revisit`), and the server must receive the moment, or it
would count the second investigation's deadlines from the receipt; a ledger imported into a workbook
(``flask ledger import -o``) marks its tickets as history (`complaints.history`)."""
EDITABLE: tuple[str, ...] = tuple(
    c.key for c in TICKETS.columns if (not c.computed or c.key in BRANCH_COMPUTED) and c.key in TICKET_ATTRS
)
"""Fields a branch may change; everything else is computed by the rules on the server."""
TASK_EDITABLE: tuple[str, ...] = ("task_no", "title", "owner", "due", "done_at")
DEADLINE_COLUMNS: dict[str, str] = {
    "ack_due": "acknowledge",
    "plan_due": "plan",
    "resolve_due": "resolve",
    "feedback_due": "feedback",
    "revisit_from": "revisit_from",
    "revisit_until": "revisit_until",
    "appeal_risk_at": "appeal_risk",
}
"""Computed deadline columns → the `complaints.sla.Deadlines` attribute they hold."""


class FieldError(ValueError):
    """A value that does not fit its field; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def encode(key: str, value: Any, columns: Mapping[str, Column] = COLUMNS) -> Any:
    """A Python value of field ``key`` as JSON (ISO datetimes in UTC, enum codes, flag lists)."""
    if value is None:
        return None
    kind = columns[key].type
    if kind is ColType.DATETIME:
        return value.astimezone(UTC).isoformat()
    if kind is ColType.DATE:
        return value.isoformat()
    if kind is ColType.FLAGS:
        return sorted(str(f) for f in value)
    if kind is ColType.ENUM:
        return str(value)
    return value


_PLAIN = frozenset(k for k, c in COLUMNS.items() if c.type in (ColType.TEXT, ColType.INT, ColType.BOOL))
"""Ticket fields whose JSON is the model's value itself."""


def encode_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """`encode` of every ticket field of ``values``: those held as JSON holds them are taken as they are
    (most of a row; a function call each made up a third of writing a new ticket's history)."""
    return {key: value if key in _PLAIN else encode(key, value) for key, value in values.items()}


def decode(key: str, raw: Any, columns: dict[str, Column] = COLUMNS) -> Any:
    """A JSON value of field ``key`` as the Python value the model holds; `FieldError` if it does not fit."""
    column = columns.get(key)
    if column is None:
        raise FieldError(key, "unknown field")
    kind = column.type
    if raw is None or raw == "":
        if kind is ColType.TEXT:
            return ""
        if kind is ColType.BOOL:
            return False
        if kind is ColType.INT:
            return 0
        if kind is ColType.FLAGS:
            return frozenset()
        return None
    try:
        if kind is ColType.TEXT:
            if not isinstance(raw, str):
                raise TypeError("expected text")
            return raw
        if kind is ColType.DATETIME:
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                raise ValueError("datetime needs a UTC offset")
            return moment
        if kind is ColType.DATE:
            return date.fromisoformat(raw)
        if kind is ColType.INT:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise TypeError("expected an integer")
            return raw
        if kind is ColType.BOOL:
            if not isinstance(raw, bool):
                raise TypeError("expected true or false")
            return raw
        if kind is ColType.ENUM:
            assert column.enum is not None
            return column.enum.parse(str(raw))
        if kind is ColType.FLAGS:
            return frozenset(Flag(f) for f in raw)
    except (TypeError, ValueError) as exc:
        raise FieldError(key, f"{raw!r} is not valid ({exc})") from exc
    raise FieldError(key, f"unsupported type {kind}")


def ticket_to_json(ticket: Ticket) -> dict[str, Any]:
    """Every model field of ``ticket`` that the schema knows, as JSON."""
    return {key: encode(key, getattr(ticket, key)) for key in COLUMNS if key in TICKET_ATTRS}


def decode_fields(
    raw: dict[str, Any], allowed: tuple[str, ...] = EDITABLE, columns: dict[str, Column] = COLUMNS
) -> dict[str, Any]:
    """Decode a pushed row's fields, refusing computed or unknown ones; errors name every bad field."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    accepted = _as_set(allowed)
    for key, value in raw.items():
        if key not in accepted:
            errors.append(
                FieldError(key, "unknown or computed field (computed fields are set by the server)")
            )
            continue
        column = columns.get(key)
        if type(value) is str and value and column is not None and column.type is ColType.TEXT:
            values[key] = value  # most fields of a row: `decode` would hand the text back
            continue
        try:
            values[key] = decode(key, value, columns)
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise FieldErrors(errors)
    return values


@cache
def _as_set(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(keys)


class FieldErrors(ValueError):
    """Several bad fields of one row."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def ticket_fields(ticket: Ticket) -> dict[str, Any]:
    """The fields a branch pushes for a ticket, as JSON."""
    return {key: encode(key, getattr(ticket, key)) for key in EDITABLE}


def task_fields(task: Task) -> dict[str, Any]:
    return {key: encode(key, getattr(task, key), TASK_COLUMNS) for key in TASK_EDITABLE}


def push_ticket(ticket: Ticket) -> dict[str, Any]:
    """A ticket as a pushed row: its editable fields and the version it was based on (none if new)."""
    return {
        "sync_key": ticket.sync_key,
        "base_version": ticket.version or None,
        "fields": ticket_fields(ticket),
    }


def push_task(task: Task, ticket_key: str, known_version: int | None = None) -> dict[str, Any]:
    """A task as a pushed row, with the version it was based on, so that the server merges it as a ticket.

    The base is the task's own version (the workbook's version column), else ``known_version`` (kept
    elsewhere by an older workbook), else 1: a task whose version is unknown may be older than the
    server's, so every change made there since is merged field by field and a field changed on both
    sides becomes a conflict, never a silent overwrite (a new task is created whatever its base).
    """
    base_version = task.version or known_version or 1
    return {"sync_key": task.sync_key, "ticket_key": ticket_key, "base_version": base_version,
            "fields": task_fields(task)}  # fmt: skip


def push_log(entry: LogEntry, ticket_key: str) -> dict[str, Any]:
    """A log entry as a pushed row (append-only: sent again, it is stored once)."""
    return {
        "sync_key": entry.sync_key,
        "ticket_key": ticket_key,
        "at": encode("received_at", entry.at),
        "kind": entry.kind.value,
        "text": entry.text,
        "author": entry.author,
        "channel": entry.channel,
    }


def ticket_from_json(row: dict[str, Any], branch: str = "") -> Ticket:
    """A pulled ticket row as a Ticket (computed status and flags included)."""
    values = {k: decode(k, row.get(k)) for k in COLUMNS if k in TICKET_ATTRS and k in row and k != "branch"}
    values["sync_key"] = row["sync_key"]
    values["version"] = int(row.get("version") or 0)
    return Ticket(branch=branch, **values)


def task_from_json(row: dict[str, Any]) -> Task:
    """A pulled task row as a Task, with the server's version."""
    values = {k: decode(k, row.get(k), TASK_COLUMNS) for k in TASK_EDITABLE}
    version = int(row.get("version") or 0)
    return Task(ticket_id=row["ticket_id"], sync_key=row["sync_key"], version=version, **values)


def log_from_json(row: dict[str, Any]) -> LogEntry:
    return LogEntry(
        ticket_id=row["ticket_id"],
        at=decode("received_at", row["at"]),
        kind=LogKind.parse(row["kind"]),
        text=row["text"],
        author=row.get("author") or "",
        channel=row.get("channel") or "",
        sync_key=row["sync_key"],
    )


def deadlines_from_json(row: dict[str, Any]) -> dict[str, Any]:
    """The computed deadline columns of a pulled ticket row, decoded."""
    return {column: decode(column, row.get(column)) for column in DEADLINE_COLUMNS}
