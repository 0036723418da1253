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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from complaints.enums import LogKind
from complaints.model import Ticket
from complaints.schema import Column
from complaints.sla import SlaClock
from server.codec import (
    COLUMNS,
    EDITABLE,
    TASK_COLUMNS,
    TASK_EDITABLE,
    FieldError,
    FieldErrors,
    decode,
    decode_fields,
    encode,
)
from server.models import BranchRow, ConflictRow, HistoryRow, LogRow, TaskRow, TicketRow
from server.store import (
    STORED_TICKET_FIELDS,
    from_db,
    log_to_json,
    next_change_seq,
    recompute,
    row_to_json,
    task_to_json,
    to_db,
)

SYNC_KEY = re.compile(r"^[0-9a-f]{32}$")
TICKET_NUMBER = re.compile(r"^(?P<prefix>.+-\d{8})-(?P<seq>\d+)$")


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


def _server_changes_since(
    session: Session, entity: str, key: str, version: int, decoder: Callable[[str, Any], Any]
) -> dict[str, Any]:
    """Fields changed after ``version``, each with its value at that version."""
    rows = session.execute(
        select(HistoryRow.field, HistoryRow.old_value)
        .where(HistoryRow.entity == entity, HistoryRow.entity_key == key, HistoryRow.version > version)
        .order_by(HistoryRow.version.desc(), HistoryRow.id.desc())
    )
    earliest: dict[str, Any] = {}
    for name, old in rows:  # newest first, so the last write is the oldest value
        earliest[name] = decoder(name, json.loads(old) if old is not None else None)
    return earliest


def _record_history(
    ctx: SyncContext,
    entity: str,
    key: str,
    version: int,
    old: dict[str, Any],
    new: dict[str, Any],
    columns: dict[str, Column],
) -> None:
    for name, value in new.items():
        ctx.session.add(
            HistoryRow(
                entity=entity,
                entity_key=key,
                version=version,
                field=name,
                old_value=json.dumps(encode(name, old.get(name), columns), ensure_ascii=False),
                new_value=json.dumps(encode(name, value, columns), ensure_ascii=False),
                by=ctx.by,
                source=ctx.source,
                at=ctx.now,
            )
        )


def _record_conflicts(
    ctx: SyncContext, entity: str, key: str, ticket_id: str, base: int, conflicts: dict[str, tuple[Any, Any]]
) -> list[dict[str, Any]]:
    columns = TASK_COLUMNS if entity == "task" else COLUMNS
    out = []
    for name, (branch_value, server_value) in conflicts.items():
        row = ConflictRow(
            branch_id=ctx.branch.id,
            entity=entity,
            entity_key=key,
            ticket_id=ticket_id,
            field=name,
            branch_value=json.dumps(encode(name, branch_value, columns), ensure_ascii=False),
            server_value=json.dumps(encode(name, server_value, columns), ensure_ascii=False),
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


def change_ticket(ctx: SyncContext, row: TicketRow, changes: dict[str, Any]) -> None:
    """Write field changes to a ticket: guarded by its version, with history, bumping version and cursor."""
    if not changes:
        return
    old = {k: from_db(k, getattr(row, k)) for k in changes}
    result = ctx.session.execute(
        update(TicketRow)
        .where(
            TicketRow.sync_key == row.sync_key,
            TicketRow.branch_id == ctx.branch.id,
            TicketRow.version == row.version,
        )
        .values(
            {
                **{k: to_db(k, v) for k, v in changes.items()},
                "version": row.version + 1,
                "change_seq": ctx.seq,
                "updated_at": ctx.now,
                "updated_by": ctx.by,
            }
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # cannot happen under the row lock; refuse rather than overwrite
        raise _reject("version", f"ticket {row.ticket_id} changed concurrently; push again")
    _record_history(ctx, "ticket", row.sync_key, row.version + 1, old, changes, COLUMNS)
    ctx.touched.add(row.sync_key)


def _next_number(session: Session, branch_id: int, ticket_id: str) -> str:
    """A free visible number for a ticket whose number another row already has."""
    match = TICKET_NUMBER.match(ticket_id)
    prefix = match["prefix"] if match else ticket_id
    taken = session.scalars(
        select(TicketRow.ticket_id).where(
            TicketRow.branch_id == branch_id, TicketRow.ticket_id.like(f"{prefix}-%")
        )
    )
    highest = max(
        (int(m["seq"]) for t in taken if (m := TICKET_NUMBER.match(t)) and m["prefix"] == prefix), default=0
    )
    width = len(match["seq"]) if match else 4
    return f"{prefix}-{highest + 1:0{width}d}"


def push_ticket(ctx: SyncContext, item: dict[str, Any]) -> dict[str, Any]:
    """Apply one pushed ticket row; returns what the branch needs to know about it."""
    key = item.get("sync_key")
    if not isinstance(key, str) or not SYNC_KEY.match(key):
        raise _reject("sync_key", "sync_key must be 32 lowercase hex characters")
    try:
        pushed = decode_fields(item.get("fields") or {}, EDITABLE)
    except FieldErrors as exc:
        raise RowRejected([{"field": e.field, "message": str(e)} for e in exc.errors]) from exc
    row = ctx.session.get(TicketRow, key, with_for_update=True)
    if row is None:
        return _create_ticket(ctx, key, pushed)
    if row.branch_id != ctx.branch.id:
        raise _reject("sync_key", "sync_key is already taken; generate a new one")
    base = item.get("base_version")
    if not isinstance(base, int) or base < 1 or base > row.version:
        raise _reject("base_version", f"base_version must be between 1 and {row.version}")
    if "ticket_id" in pushed and pushed["ticket_id"] != row.ticket_id:
        raise _reject("ticket_id", "the ticket number cannot be changed")
    current = {k: from_db(k, getattr(row, k)) for k in pushed}
    if ctx.version_check:
        since = _server_changes_since(ctx.session, "ticket", key, base, decode)
        result = merge(current, pushed, since, base == row.version)
    else:  # test harness only: last write wins
        result = Merge({k: v for k, v in pushed.items() if v != current[k]}, {})
    change_ticket(ctx, row, result.changes)
    conflicts = _record_conflicts(ctx, "ticket", key, row.ticket_id, base, result.conflicts)
    return {
        "sync_key": key,
        "ticket_id": row.ticket_id,
        "applied": sorted(result.changes),
        "conflicts": conflicts,
    }


def _create_ticket(ctx: SyncContext, key: str, pushed: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("ticket_id", "received_at") if not pushed.get(k)]
    if missing:
        raise RowRejected([{"field": k, "message": f"{k} is required for a new ticket"} for k in missing])
    number = pushed["ticket_id"]
    notice: dict[str, Any] = {}
    clash = ctx.session.scalar(
        select(func.count()).where(TicketRow.branch_id == ctx.branch.id, TicketRow.ticket_id == number)
    )
    if clash:
        pushed["ticket_id"] = _next_number(ctx.session, ctx.branch.id, number)
        notice["renumbered_from"] = number
    ticket = dataclasses.replace(Ticket(pushed["ticket_id"], pushed["received_at"], sync_key=key), **pushed)
    values = {k: to_db(k, getattr(ticket, k)) for k in STORED_TICKET_FIELDS}
    row = TicketRow(
        sync_key=key,
        branch_id=ctx.branch.id,
        version=1,
        change_seq=ctx.seq,
        updated_at=ctx.now,
        updated_by=ctx.by,
        **values,
    )
    ctx.session.add(row)
    ctx.session.flush()
    _record_history(ctx, "ticket", key, 1, {}, pushed, COLUMNS)
    ctx.touched.add(key)
    return {"sync_key": key, "ticket_id": row.ticket_id, "created": True, "conflicts": [], **notice}


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
        _record_history(ctx, "task", key, 1, {}, pushed, TASK_COLUMNS)
        ctx.touched.add(ticket.sync_key)
        return {"sync_key": key, "created": True, "conflicts": []}
    if row.branch_id != ctx.branch.id:
        raise _reject("sync_key", "sync_key is already taken; generate a new one")
    base = item.get("base_version")
    if not isinstance(base, int) or base < 1 or base > row.version:
        raise _reject("base_version", f"base_version must be between 1 and {row.version}")
    current = {k: getattr(row, k) for k in pushed}
    since = _server_changes_since(ctx.session, "task", key, base, lambda k, v: decode(k, v, TASK_COLUMNS))
    result = merge(current, pushed, since, base == row.version or not ctx.version_check)
    if result.changes:
        old = dict(current)
        for name, value in result.changes.items():
            setattr(row, name, value)
        row.version += 1
        row.change_seq = ctx.seq
        _record_history(ctx, "task", key, row.version, old, result.changes, TASK_COLUMNS)
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


def _apply_all(
    ctx: SyncContext,
    items: Iterable[dict[str, Any]],
    apply: Callable[[SyncContext, dict[str, Any]], dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    done, rejected = [], []
    for item in items:
        savepoint = ctx.session.begin_nested()
        try:
            done.append(apply(ctx, item))
            savepoint.commit()
        except RowRejected as exc:
            savepoint.rollback()
            rejected.append({"sync_key": item.get("sync_key"), "errors": exc.errors})
    return done, rejected


def recompute_touched(ctx: SyncContext) -> None:
    """Bring status, flags and deadlines of every touched ticket up to date with the rules."""
    for key in sorted(ctx.touched):
        row = ctx.session.get(TicketRow, key, populate_existing=True)
        assert row is not None
        recompute(ctx.session, row, ctx.clock, ctx.now)
        row.change_seq = ctx.seq
    ctx.session.flush()


def push(ctx: SyncContext, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a push: tickets first (a new task or log entry may belong to a new ticket), then tasks, log."""
    tickets, rejected_tickets = _apply_all(ctx, body.get("tickets", []), push_ticket)
    tasks, rejected_tasks = _apply_all(ctx, body.get("tasks", []), push_task)
    log, rejected_log = _apply_all(ctx, body.get("log", []), push_log)
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
