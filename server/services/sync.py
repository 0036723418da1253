"""The sync protocol: one push-and-pull round trip that never loses an edit.

A push carries changed rows, each with the version it was based on. A row whose
base is current is applied as is; otherwise it is merged field by field
against the changes the server made since that version (from the history), and
a field changed on both sides to different values becomes a conflict that keeps
both values. The pull returns everything of the branch changed after the
branch's cursor. All of it runs in the caller's single transaction.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from complaints.enums import LogKind
from complaints.ids import next_free_number, number_prefix
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import Column
from complaints.sla import SlaClock
from complaints.wire import (
    COLUMNS,
    DEADLINE_COLUMNS,
    EDITABLE,
    TASK_COLUMNS,
    TASK_EDITABLE,
    FieldError,
    FieldErrors,
    decode,
    decode_fields,
    encode,
)
from server.storage.models import (
    BranchRow,
    ConflictRow,
    HistoryRow,
    LogRow,
    TaskRow,
    TicketRow,
    tickets_table,
)
from server.storage.rows import (
    STORED_TICKET_FIELDS,
    computed_values,
    from_db,
    log_to_json,
    next_change_seq,
    row_to_json,
    row_to_ticket,
    task_to_json,
    to_db,
)

SYNC_KEY = re.compile(r"^[0-9a-f]{32}$")
MAX_INT = 2**31 - 1  # the database's INTEGER
YEARS = (1900, 2999)  # deadlines are counted past a date: year 9999 would overflow
NOT_EMPTY = ("received_at", "grade")  # every deadline depends on them


class RowRejected(ValueError):
    """One pushed row cannot be applied; the others still are."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(e["message"] for e in errors))


def _reject(field_name: str, message: str) -> RowRejected:
    return RowRejected([{"field": field_name, "message": message}])


@dataclass
class SyncContext:
    """What one round trip needs: the open transaction, the branch, who, when, and the rules' clock."""

    session: Session
    branch: BranchRow
    by: str
    now: datetime
    clock: SlaClock
    version_check: bool = True
    source: str = "branch"
    _seq: int | None = None
    touched: set[str] = field(default_factory=set)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seq(self) -> int:
        """This transaction's change number, taken on first use (it locks the branch row)."""
        if self._seq is None:
            self._seq = next_change_seq(self.session, self.branch.id)
        return self._seq


@dataclass(frozen=True)
class Merge:
    changes: dict[str, Any]
    conflicts: dict[str, tuple[Any, Any]]
    """field → (branch value, server value)"""


def merge(
    current: dict[str, Any],
    pushed: dict[str, Any],
    server_changed: dict[str, Any],
    base_is_current: bool,
) -> Merge:
    """Decide what a pushed row changes.

    ``server_changed`` maps each field the server changed after the push's base
    version to its value at that base. A field the branch changed (pushed value
    differs from the base value) is applied unless the server changed it too;
    changed on both sides to different values, it is a conflict.
    """
    if base_is_current:
        return Merge({k: v for k, v in pushed.items() if v != current[k]}, {})
    changes: dict[str, Any] = {}
    conflicts: dict[str, tuple[Any, Any]] = {}
    for key, value in pushed.items():
        base = server_changed.get(key, current[key])
        if value == base:
            continue  # the branch did not change this field
        if key not in server_changed:
            changes[key] = value
        elif value != current[key]:
            conflicts[key] = (value, current[key])
    return Merge(changes, conflicts)


def _history_at(
    session: Session, entity: str, bases: dict[str, int], decoder: Callable[[str, Any], Any]
) -> dict[str, dict[str, Any]]:
    """For each key, the fields changed after its base version, each with its value at that version."""
    found: dict[str, dict[str, Any]] = {key: {} for key in bases}
    for chunk in _chunks(sorted(bases)):
        rows = session.execute(
            select(HistoryRow.entity_key, HistoryRow.field, HistoryRow.old_value, HistoryRow.version)
            .where(HistoryRow.entity == entity, HistoryRow.entity_key.in_(chunk))
            .order_by(HistoryRow.version.desc(), HistoryRow.id.desc())
        )
        for key, name, old, version in rows:  # newest first, so the last one kept is the oldest value
            if version > bases[key]:
                found[key][name] = decoder(name, json.loads(old) if old is not None else None)
    return found


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _history(
    ctx: SyncContext,
    entity: str,
    key: str,
    version: int,
    old: dict[str, Any],
    new: dict[str, Any],
    columns: dict[str, Column],
) -> None:
    """Queue one history row per changed field (written in bulk by `flush_history`)."""
    for name, value in new.items():
        ctx.history.append(
            {
                "entity": entity,
                "entity_key": key,
                "version": version,
                "field": name,
                "old_value": json.dumps(encode(name, old.get(name), columns), ensure_ascii=False),
                "new_value": json.dumps(encode(name, value, columns), ensure_ascii=False),
                "by": ctx.by,
                "source": ctx.source,
                "at": ctx.now,
            }
        )


def flush_history(ctx: SyncContext) -> None:
    if ctx.history:
        ctx.session.execute(insert(HistoryRow), ctx.history)
        ctx.history.clear()


def _record_conflicts(
    ctx: SyncContext, entity: str, key: str, ticket_id: str, base: int, conflicts: dict[str, tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """Store each conflict once: the same open conflict pushed again (a stale copy resent) is not repeated."""
    columns = TASK_COLUMNS if entity == "task" else COLUMNS
    out = []
    for name, (branch_value, server_value) in conflicts.items():
        mine = json.dumps(encode(name, branch_value, columns), ensure_ascii=False)
        theirs = json.dumps(encode(name, server_value, columns), ensure_ascii=False)
        row = ctx.session.scalar(
            select(ConflictRow).where(
                ConflictRow.entity == entity,
                ConflictRow.entity_key == key,
                ConflictRow.field == name,
                ConflictRow.resolved_at.is_(None),
                ConflictRow.branch_value == mine,
                ConflictRow.server_value == theirs,
            )
        )
        if row is None:
            row = ConflictRow(
                branch_id=ctx.branch.id,
                entity=entity,
                entity_key=key,
                ticket_id=ticket_id,
                field=name,
                branch_value=mine,
                server_value=theirs,
                base_version=base,
                detected_at=ctx.now,
                change_seq=ctx.seq,
            )
            ctx.session.add(row)
            ctx.session.flush()
        out.append(conflict_to_json(row))
    return out


def conflict_to_json(row: ConflictRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "entity": row.entity,
        "sync_key": row.entity_key,
        "ticket_id": row.ticket_id,
        "field": row.field,
        "branch_value": json.loads(row.branch_value) if row.branch_value is not None else None,
        "server_value": json.loads(row.server_value) if row.server_value is not None else None,
        "detected_at": row.detected_at.isoformat(),
        "resolved": row.resolved_at is not None,
        "resolution": row.resolution,
    }


def write_changes(ctx: SyncContext, changed: list[tuple[TicketRow, dict[str, Any]]]) -> None:
    """Write field changes to tickets in one statement, each guarded by its version and branch.

    ``UPDATE … WHERE sync_key AND branch_id AND version``: a row that changed
    since it was read is not overwritten; the whole push fails and is retried.
    """
    changed = [(row, changes) for row, changes in changed if changes]
    if not changed:
        return
    names = sorted({name for _, changes in changed for name in changes})
    t = tickets_table
    statement = (
        update(t)
        .where(t.c.sync_key == bindparam("k_key"), t.c.branch_id == bindparam("k_branch"))
        .where(t.c.version == bindparam("k_version"))
        .values(
            {name: bindparam(f"v_{name}", type_=t.c[name].type) for name in names}
            | {
                "version": bindparam("v_version"),
                "change_seq": ctx.seq,
                "updated_at": ctx.now,
                "updated_by": ctx.by,
            }
        )
    )
    params = []
    for row, changes in changed:
        old = {name: from_db(name, getattr(row, name)) for name in names}
        values = {f"v_{name}": to_db(name, changes.get(name, old[name])) for name in names}
        params.append({"k_key": row.sync_key, "k_branch": ctx.branch.id, "k_version": row.version,
                       "v_version": row.version + 1, **values})  # fmt: skip
        _history(ctx, "ticket", row.sync_key, row.version + 1, old, changes, COLUMNS)
        ctx.touched.add(row.sync_key)
    result = ctx.session.connection().execute(statement, params)
    if result.rowcount != len(params):  # cannot happen under the row locks; refuse rather than overwrite
        raise StaleWrite("a ticket changed while this push was applied; send the push again")


class StaleWrite(RuntimeError):
    """A guarded write found a row at another version than it read."""


def change_ticket(ctx: SyncContext, row: TicketRow, changes: dict[str, Any]) -> None:
    """Write one ticket's field changes (a server-side change: escalation, conflict resolution)."""
    write_changes(ctx, [(row, changes)])
    flush_history(ctx)


def _next_number(session: Session, branch_id: int, taken: set[str], ticket_id: str) -> str:
    """A free visible number for a ticket whose number another row already has."""
    prefix = number_prefix(ticket_id)
    like = select(TicketRow.ticket_id).where(
        TicketRow.branch_id == branch_id, TicketRow.ticket_id.like(f"{prefix}-%")
    )
    return next_free_number(ticket_id, taken | set(session.scalars(like)))


def _out_of_range(values: dict[str, Any], not_empty: tuple[str, ...] = NOT_EMPTY) -> None:
    """Refuse decoded values the model takes but the database or the deadline arithmetic cannot hold."""
    errors = []
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_INT:
            message = f"{name}: {value} is out of range (0–{MAX_INT}) / {name} 超出范围 (0–{MAX_INT})"
        elif isinstance(value, date) and not YEARS[0] <= value.year <= YEARS[1]:
            message = (
                f"{name}: the year must be {YEARS[0]}–{YEARS[1]} / {name} 的年份须在 {YEARS[0]}–{YEARS[1]}"
            )
        elif value is None and name in not_empty:
            message = f"{name} cannot be emptied / {name} 不能为空"
        else:
            continue
        errors.append({"field": name, "message": message})
    if errors:
        raise RowRejected(errors)


def _parse_ticket(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = item.get("sync_key")
    if not isinstance(key, str) or not SYNC_KEY.match(key):
        raise _reject("sync_key", "sync_key must be 32 lowercase hex characters")
    try:
        pushed = decode_fields(item.get("fields") or {}, EDITABLE)
    except FieldErrors as exc:
        raise RowRejected([{"field": e.field, "message": str(e)} for e in exc.errors]) from exc
    _out_of_range(pushed)
    return key, pushed


def _lock(session: Session, keys: list[str]) -> dict[str, TicketRow]:
    """The existing tickets among ``keys``, locked for this transaction."""
    rows: dict[str, TicketRow] = {}
    for chunk in _chunks(sorted(keys)):
        query = select(TicketRow).where(TicketRow.sync_key.in_(chunk)).with_for_update()
        rows.update((r.sync_key, r) for r in session.scalars(query.execution_options(populate_existing=True)))
    return rows


def _taken_numbers(session: Session, branch_id: int, numbers: list[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in _chunks(sorted(set(numbers))):
        taken.update(
            session.scalars(
                select(TicketRow.ticket_id).where(
                    TicketRow.branch_id == branch_id, TicketRow.ticket_id.in_(chunk)
                )
            )
        )
    return taken


def push_tickets(
    ctx: SyncContext, items: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply pushed ticket rows in bulk: new ones inserted, edits merged, bad rows rejected by name."""
    done: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    parsed: list[tuple[str, dict[str, Any], Any]] = []
    seen: set[str] = set()
    for item in items:
        try:
            key, pushed = _parse_ticket(item)
            if key in seen:
                raise _reject("sync_key", "the same row is in this push twice")
            seen.add(key)
            parsed.append((key, pushed, item.get("base_version")))
        except RowRejected as exc:
            rejected.append({"sync_key": item.get("sync_key"), "errors": exc.errors})
    rows = _lock(ctx.session, [key for key, _, _ in parsed])
    stale = {
        key: base
        for key, _, base in parsed
        if key in rows and isinstance(base, int) and 1 <= base < rows[key].version and ctx.version_check
    }
    since = _history_at(ctx.session, "ticket", stale, decode)
    taken = _taken_numbers(
        ctx.session, ctx.branch.id, [p.get("ticket_id", "") for k, p, _ in parsed if k not in rows]
    )
    changed: list[tuple[TicketRow, dict[str, Any]]] = []
    created: list[dict[str, Any]] = []
    for key, pushed, base in parsed:
        row = rows.get(key)
        try:
            if row is None:
                outcome, values = _new_ticket(ctx, key, pushed, taken)
                created.append(values)
            else:
                outcome, changes = _edit_ticket(ctx, row, pushed, base, since.get(key, {}))
                changed.append((row, changes))
            done.append(outcome)
        except RowRejected as exc:
            rejected.append({"sync_key": key, "errors": exc.errors})
    if created:
        ctx.session.execute(insert(TicketRow), created)
    write_changes(ctx, changed)
    return done, rejected


def _edit_ticket(
    ctx: SyncContext, row: TicketRow, pushed: dict[str, Any], base: Any, since: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if row.branch_id != ctx.branch.id:
        raise _reject("sync_key", "sync_key is already taken; generate a new one")
    if not isinstance(base, int) or base < 1 or base > row.version:
        raise _reject("base_version", f"base_version must be between 1 and {row.version}")
    if "ticket_id" in pushed and pushed["ticket_id"] != row.ticket_id:
        raise _reject("ticket_id", "the ticket number cannot be changed")
    current = {k: from_db(k, getattr(row, k)) for k in pushed}
    if ctx.version_check:
        result = merge(current, pushed, since, base == row.version)
    else:  # test harness only: last write wins
        result = Merge({k: v for k, v in pushed.items() if v != current[k]}, {})
    conflicts = _record_conflicts(ctx, "ticket", row.sync_key, row.ticket_id, base, result.conflicts)
    if result.conflicts:
        ctx.touched.add(row.sync_key)  # the pull then carries the server's row, so the branch can rebase
    outcome = {"sync_key": row.sync_key, "ticket_id": row.ticket_id, "applied": sorted(result.changes),
               "conflicts": conflicts}  # fmt: skip
    return outcome, result.changes


def _new_ticket(
    ctx: SyncContext, key: str, pushed: dict[str, Any], taken: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    missing = [k for k in ("ticket_id", "received_at") if not pushed.get(k)]
    if missing:
        raise RowRejected([{"field": k, "message": f"{k} is required for a new ticket"} for k in missing])
    notice: dict[str, Any] = {}
    number = pushed["ticket_id"]
    if number in taken:
        pushed["ticket_id"] = _next_number(ctx.session, ctx.branch.id, taken, number)
        notice["renumbered_from"] = number
    taken.add(pushed["ticket_id"])
    ticket = dataclasses.replace(Ticket(pushed["ticket_id"], pushed["received_at"], sync_key=key), **pushed)
    values = {k: to_db(k, getattr(ticket, k)) for k in STORED_TICKET_FIELDS}
    values.update(
        sync_key=key,
        branch_id=ctx.branch.id,
        version=1,
        change_seq=ctx.seq,
        updated_at=ctx.now,
        updated_by=ctx.by,
    )
    _history(ctx, "ticket", key, 1, {}, pushed, COLUMNS)
    ctx.touched.add(key)
    return {
        "sync_key": key,
        "ticket_id": pushed["ticket_id"],
        "created": True,
        "conflicts": [],
        **notice,
    }, values


def _owned_ticket(ctx: SyncContext, ticket_key: Any) -> TicketRow:
    row = ctx.session.get(TicketRow, ticket_key) if isinstance(ticket_key, str) else None
    if row is None or row.branch_id != ctx.branch.id:
        raise _reject("ticket_key", "no such ticket")
    return row


def push_task(ctx: SyncContext, item: dict[str, Any]) -> dict[str, Any]:
    key = item.get("sync_key")
    if not isinstance(key, str) or not SYNC_KEY.match(key):
        raise _reject("sync_key", "sync_key must be 32 lowercase hex characters")
    try:
        pushed = decode_fields(item.get("fields") or {}, TASK_EDITABLE, TASK_COLUMNS)
    except FieldErrors as exc:
        raise RowRejected([{"field": e.field, "message": str(e)} for e in exc.errors]) from exc
    _out_of_range(pushed, ())
    row = ctx.session.get(TaskRow, key, with_for_update=True)
    if row is None:
        ticket = _owned_ticket(ctx, item.get("ticket_key"))
        if not pushed.get("title") or not pushed.get("task_no"):
            raise _reject("title", "a new task needs a number and a title")
        row = TaskRow(
            sync_key=key,
            ticket_key=ticket.sync_key,
            branch_id=ctx.branch.id,
            ticket_id=ticket.ticket_id,
            version=1,
            change_seq=ctx.seq,
            **pushed,
        )
        ctx.session.add(row)
        ctx.session.flush()
        _history(ctx, "task", key, 1, {}, pushed, TASK_COLUMNS)
        ctx.touched.add(ticket.sync_key)
        return {"sync_key": key, "created": True, "conflicts": []}
    if row.branch_id != ctx.branch.id:
        raise _reject("sync_key", "sync_key is already taken; generate a new one")
    base = item.get("base_version")
    if base is None:  # tasks are edited at the branch: without a base, the row applies over the current one
        base = row.version
    if not isinstance(base, int) or base < 1 or base > row.version:
        raise _reject("base_version", f"base_version must be between 1 and {row.version}")
    current = {k: getattr(row, k) for k in pushed}
    since = _history_at(ctx.session, "task", {key: base}, lambda k, v: decode(k, v, TASK_COLUMNS))[key]
    result = merge(current, pushed, since, base == row.version or not ctx.version_check)
    if result.changes:
        old = dict(current)
        for name, value in result.changes.items():
            setattr(row, name, value)
        row.version += 1
        row.change_seq = ctx.seq
        _history(ctx, "task", key, row.version, old, result.changes, TASK_COLUMNS)
        ctx.touched.add(row.ticket_key)
    conflicts = _record_conflicts(ctx, "task", key, row.ticket_id, base, result.conflicts)
    return {"sync_key": key, "applied": sorted(result.changes), "conflicts": conflicts}


def push_log(ctx: SyncContext, item: dict[str, Any]) -> dict[str, Any]:
    """Append a log entry once; a resent entry (same sync key) is acknowledged, not duplicated."""
    key = item.get("sync_key")
    if not isinstance(key, str) or not SYNC_KEY.match(key):
        raise _reject("sync_key", "sync_key must be 32 lowercase hex characters")
    existing = ctx.session.get(LogRow, key)
    if existing is not None:
        if existing.branch_id != ctx.branch.id:
            raise _reject("sync_key", "sync_key is already taken; generate a new one")
        return {"sync_key": key, "duplicate": True}
    ticket = _owned_ticket(ctx, item.get("ticket_key"))
    try:
        at = decode("received_at", item.get("at"))
        kind = LogKind.parse(str(item.get("kind", "")))
    except (FieldError, ValueError) as exc:
        raise _reject("at" if isinstance(exc, FieldError) else "kind", str(exc)) from exc
    _out_of_range({"at": at}, ())
    text = item.get("text")
    if at is None or not isinstance(text, str) or not text.strip():
        raise _reject("text", "a log entry needs a time and a text")
    ctx.session.add(
        LogRow(
            sync_key=key,
            ticket_key=ticket.sync_key,
            branch_id=ctx.branch.id,
            ticket_id=ticket.ticket_id,
            at=at,
            kind=kind.value,
            text=text,
            author=str(item.get("author") or ctx.by),
            channel=str(item.get("channel") or ""),
            change_seq=ctx.seq,
        )
    )
    ctx.touched.add(ticket.sync_key)
    return {"sync_key": key, "created": True}


def _each(
    ctx: SyncContext,
    items: Iterable[dict[str, Any]],
    apply: Callable[[SyncContext, dict[str, Any]], dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply rows one by one; each checks everything before it writes, so a rejected row wrote nothing."""
    done, rejected = [], []
    for item in items:
        try:
            done.append(apply(ctx, item))
        except RowRejected as exc:
            rejected.append({"sync_key": item.get("sync_key"), "errors": exc.errors})
    return done, rejected


def recompute_touched(ctx: SyncContext) -> None:
    """Bring status, flags and deadlines of every touched ticket up to date with the rules, in bulk."""
    if not ctx.touched:
        return
    ctx.session.flush()
    t = tickets_table
    names = ["status", "flags", *DEADLINE_COLUMNS]
    statement = (
        update(t)
        .where(t.c.sync_key == bindparam("k_key"))
        .values(
            {name: bindparam(f"v_{name}", type_=t.c[name].type) for name in names} | {"change_seq": ctx.seq}
        )
    )
    for chunk in _chunks(sorted(ctx.touched)):
        rows = ctx.session.scalars(
            select(TicketRow).where(TicketRow.sync_key.in_(chunk)).execution_options(populate_existing=True)
        )
        tasks: dict[str, list[Task]] = defaultdict(list)
        for r in ctx.session.scalars(select(TaskRow).where(TaskRow.ticket_key.in_(chunk))):
            tasks[r.ticket_key].append(
                Task(r.ticket_id, r.task_no, r.title, r.owner, r.due, r.done_at, r.sync_key)
            )
        progress: dict[str, list[LogEntry]] = defaultdict(list)
        query = select(LogRow).where(LogRow.ticket_key.in_(chunk), LogRow.kind == LogKind.PROGRESS.value)
        for r in ctx.session.scalars(query):
            progress[r.ticket_key].append(
                LogEntry(r.ticket_id, r.at, LogKind.PROGRESS, r.text, sync_key=r.sync_key)
            )
        params = []
        for row in rows:
            values = computed_values(
                row_to_ticket(row), ctx.clock, ctx.now, tasks[row.sync_key], progress[row.sync_key]
            )
            params.append({"k_key": row.sync_key, **{f"v_{k}": v for k, v in values.items()}})
        if params:
            ctx.session.connection().execute(statement, params)
    ctx.touched.clear()


def push(ctx: SyncContext, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a push: tickets first (a new task or log entry may belong to a new ticket), then tasks, log."""
    tickets, rejected_tickets = push_tickets(ctx, body.get("tickets", []))
    tasks, rejected_tasks = _each(ctx, body.get("tasks", []), push_task)
    log, rejected_log = _each(ctx, body.get("log", []), push_log)
    flush_history(ctx)
    recompute_touched(ctx)
    return {
        "tickets": tickets,
        "tasks": tasks,
        "log": log,
        "rejected": {"tickets": rejected_tickets, "tasks": rejected_tasks, "log": rejected_log},
    }


def pull(session: Session, branch: BranchRow, cursor: int) -> dict[str, Any]:
    """Everything of ``branch`` changed after ``cursor``, and the cursor to send next time.

    The new cursor is read before the rows: every change numbered up to it is
    committed and so included; a later one may be included too and is simply
    sent again next time (applying a row twice is harmless).
    """
    latest = session.scalar(select(BranchRow.change_seq).where(BranchRow.id == branch.id))
    tickets = session.scalars(
        select(TicketRow)
        .where(TicketRow.branch_id == branch.id, TicketRow.change_seq > cursor)
        .order_by(TicketRow.change_seq, TicketRow.ticket_id)
        .execution_options(populate_existing=True)
    )
    tasks = session.scalars(
        select(TaskRow).where(TaskRow.branch_id == branch.id, TaskRow.change_seq > cursor)
    )
    log = session.scalars(
        select(LogRow).where(LogRow.branch_id == branch.id, LogRow.change_seq > cursor).order_by(LogRow.at)
    )
    conflicts = session.scalars(
        select(ConflictRow).where(ConflictRow.branch_id == branch.id, ConflictRow.change_seq > cursor)
    )
    return {
        "cursor": int(latest or 0),
        "tickets": [row_to_json(r, branch.code) for r in tickets],
        "tasks": [task_to_json(r) for r in tasks],
        "log": [log_to_json(r) for r in log],
        "conflicts": [conflict_to_json(r) for r in conflicts],
    }
