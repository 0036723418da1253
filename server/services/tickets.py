"""Server-side changes to tickets: head-office escalation and notes, and conflict resolution.

They go through the same guarded write as a branch push (`change_ticket`), so
they are versioned, kept in the history and carried to the branch by its next pull.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import LogKind
from complaints.levels import LevelError, escalate
from complaints.model import new_sync_key
from complaints.wire import COLUMNS, TASK_COLUMNS, decode
from server.errors import ApiError
from server.services.notices import enqueue_escalation_notice
from server.services.sync import SyncContext, change_ticket, recompute_touched
from server.storage.models import BranchRow, ConflictRow, LogRow, TaskRow, TicketRow
from server.storage.rows import from_db, row_to_ticket


def find_ticket(session: Session, sync_key: str, branch_id: int | None) -> TicketRow:
    """The ticket, if the caller may see it; another branch's ticket is as missing as an unknown one."""
    row = session.get(TicketRow, sync_key)
    if row is None or (branch_id is not None and row.branch_id != branch_id):
        raise ApiError(404, "not_found", "no such ticket", {"sync_key": sync_key})
    return row


def escalate_ticket(ctx: SyncContext, row: TicketRow, reason: str, head: str) -> dict[str, Any]:
    """Raise a ticket one warning level with a reason; a log entry records who and why."""
    ticket = row_to_ticket(row, ctx.branch.code)
    try:
        raised, record, entry = escalate(ticket, reason, ctx.by, ctx.now, head)
    except LevelError as exc:
        raise ApiError(409, "cannot_escalate", str(exc), {"sync_key": row.sync_key}) from exc
    changes = {k: getattr(raised, k) for k in ("level", "level_reason", "escalated_at", "escalated_to")}
    changes = {k: v for k, v in changes.items() if v != from_db(k, getattr(row, k))}
    change_ticket(ctx, row, changes)
    ctx.session.add(
        LogRow(
            sync_key=new_sync_key(),
            ticket_key=row.sync_key,
            branch_id=row.branch_id,
            ticket_id=row.ticket_id,
            at=entry.at,
            kind=LogKind.ESCALATION.value,
            text=entry.text,
            author=ctx.by,
            channel=ctx.source,
            change_seq=ctx.seq,
        )
    )
    recompute_touched(ctx)
    enqueue_escalation_notice(ctx.session, ctx.branch, raised, ctx.by, ctx.now)
    return {"from": record.from_level.value, "to": record.to_level.value, "reason": record.reason}


def add_note(ctx: SyncContext, row: TicketRow, text: str) -> LogRow:
    """Head office's note on a ticket: an internal note in its log, carried to the branch by its next pull."""
    entry = LogRow(
        sync_key=new_sync_key(),
        ticket_key=row.sync_key,
        branch_id=row.branch_id,
        ticket_id=row.ticket_id,
        at=ctx.now,
        kind=LogKind.NOTE.value,
        text=text,
        author=ctx.by,
        channel=ctx.source,
        change_seq=ctx.seq,
    )
    ctx.session.add(entry)
    return entry


def resolve_conflict(ctx: SyncContext, conflict: ConflictRow, keep: str) -> None:
    """Settle a conflict: keep the server's value, or apply the branch's value as a new change."""
    if conflict.resolved_at is not None:
        raise ApiError(
            409, "already_resolved", "this conflict is already resolved", {"conflict": conflict.id}
        )
    if keep == "branch":
        raw = json.loads(conflict.branch_value) if conflict.branch_value is not None else None
        if conflict.entity == "ticket":
            row = ctx.session.get(TicketRow, conflict.entity_key, with_for_update=True)
            assert row is not None
            change_ticket(ctx, row, {conflict.field: decode(conflict.field, raw, COLUMNS)})
        else:
            task = ctx.session.get(TaskRow, conflict.entity_key, with_for_update=True)
            assert task is not None
            setattr(task, conflict.field, decode(conflict.field, raw, TASK_COLUMNS))
            task.version += 1
            task.change_seq = ctx.seq
            ctx.touched.add(task.ticket_key)
    conflict.resolved_at = ctx.now
    conflict.resolution = keep
    conflict.resolved_by = ctx.by
    conflict.change_seq = ctx.seq
    recompute_touched(ctx)


def branch_of(session: Session, branch_id: int) -> BranchRow:
    branch = session.get(BranchRow, branch_id)
    assert branch is not None
    return branch


def find_conflict(session: Session, conflict_id: int, branch_id: int | None) -> ConflictRow:
    row = session.get(ConflictRow, conflict_id)
    if row is None or (branch_id is not None and row.branch_id != branch_id):
        raise ApiError(404, "not_found", "no such conflict", {"conflict": conflict_id})
    return row


def open_conflicts(session: Session, branch_id: int | None) -> list[ConflictRow]:
    query = select(ConflictRow).where(ConflictRow.resolved_at.is_(None))
    if branch_id is not None:
        query = query.where(ConflictRow.branch_id == branch_id)
    return list(session.scalars(query.order_by(ConflictRow.id)))
