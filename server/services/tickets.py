"""Changes made on the server to one ticket: escalation and notes (head office or the branch), and
conflict resolution.

Each goes through the one door (`server.services.changes`): the escalated ticket
is settled by the rules and written with its history and log entry, then carried
to the branch by its next pull. Callers hold the branch lock (`Change.seq`)
before they read the ticket, as every writer does.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import LogKind
from complaints.levels import LevelError, escalate
from complaints.model import LogEntry, Ticket
from complaints.validation import MAX_TEXT
from complaints.wire import COLUMNS, TASK_COLUMNS, decode
from server.services.changes import Actor, Change, Outcome, Proposal
from server.services.errors import Invalid, NotFound, Refused
from server.services.sync import Pending, commit, level_rules
from server.storage.models import BranchRow, ConflictRow, TaskRow, TicketRow
from server.storage.rows import clock_for, read_tickets, ticket_of
from server.storage.writes import history_row, insert_history, insert_log, json_text


def find_ticket(session: Session, sync_key: str, branch_id: int | None) -> TicketRow:
    """The ticket, if the caller may see it; another branch's ticket is as missing as an unknown one."""
    row = session.get(TicketRow, sync_key)
    if row is None or (branch_id is not None and row.branch_id != branch_id):
        raise NotFound("not_found", "no such ticket", {"sync_key": sync_key})
    return row


def change_on(session: Session, sync_key: str, scope: int | None, actor: Actor, now: datetime) -> Change:
    """A change to ticket ``sync_key`` (if ``scope``, the caller's branch, may see it), the branch locked."""
    row = find_ticket(session, sync_key, scope)
    branch = branch_of(session, row.branch_id)
    clock = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
    change = Change(session, branch, actor, now, clock, level_rules())
    _ = change.seq  # the branch lock first, then the ticket's, as a push takes them
    return change


def _stored(change: Change, sync_key: str) -> tuple[Any, Ticket]:
    row = read_tickets(change.session, [sync_key], lock=True)[sync_key]
    return row, ticket_of(row, change.branch.code)


def escalate_ticket(change: Change, sync_key: str, reason: str, head: str) -> Outcome:
    """Raise a ticket one warning level with a reason; a log entry records who and why."""
    if not reason.strip():
        raise Invalid(
            "reason_required", "give a reason for the escalation / 请填写升级原因", {"field": "reason"}
        )
    if len(reason) > MAX_TEXT or len(head) > MAX_TEXT:
        raise Invalid(
            "too_long", f"at most {MAX_TEXT:,} characters / 最多 {MAX_TEXT:,} 个字符", {"field": "reason"}
        )
    row, before = _stored(change, sync_key)
    try:
        raised, _record, entry = escalate(
            before, reason, change.actor.name, change.now, head or change.head_of(before)
        )
    except LevelError as exc:
        raise Refused("cannot_escalate", str(exc), {"sync_key": sync_key}) from exc
    pending = Pending(proposals={sync_key: Proposal(row, before, raised)}, extra_log=[(sync_key, entry)])
    written = {o.key: o for o in commit(change, pending)}
    return written[sync_key]


def add_note(change: Change, sync_key: str, text: str) -> LogEntry:
    """A note on a ticket's log, carried to the branch by its next pull; its role is its author's."""
    if not text.strip():
        raise Invalid("text_required", "write the note / 请填写备注内容", {"field": "text"})
    if len(text) > MAX_TEXT:
        raise Invalid(
            "too_long", f"at most {MAX_TEXT:,} characters / 最多 {MAX_TEXT:,} 个字符", {"field": "text"}
        )
    row, ticket = _stored(change, sync_key)
    entry = LogEntry(ticket.ticket_id, change.now, LogKind.NOTE, text, author=change.actor.name)
    insert_log(change.session, change.stamp, change.branch.id, [(sync_key, entry)])
    return entry


def resolve_conflict(change: Change, conflict: ConflictRow, keep: str) -> None:
    """Settle a conflict: keep the server's value, or apply the branch's value as a new change."""
    if conflict.resolved_at is not None:
        raise Refused("already_resolved", "this conflict is already resolved", {"conflict": conflict.id})
    pending = Pending()
    if keep == "branch":
        raw = json.loads(conflict.branch_value) if conflict.branch_value is not None else None
        if conflict.entity == "ticket":
            row, before = _stored(change, conflict.entity_key)
            after = dataclasses.replace(before, **{conflict.field: decode(conflict.field, raw, COLUMNS)})
            pending.proposals[row.sync_key] = Proposal(row, before, after)
        else:
            task = change.session.get(TaskRow, conflict.entity_key, with_for_update=True)
            assert task is not None
            old = getattr(task, conflict.field)
            new = decode(conflict.field, raw, TASK_COLUMNS)
            setattr(task, conflict.field, new)
            task.version += 1
            task.change_seq = change.seq
            insert_history(
                change.session,
                [
                    history_row(
                        change.stamp,
                        "task",
                        task.sync_key,
                        task.version,
                        conflict.field,
                        json_text(conflict.field, old, TASK_COLUMNS),
                        json_text(conflict.field, new, TASK_COLUMNS),
                    )
                ],
            )
            pending.touched.add(task.ticket_key)
    conflict.resolved_at = change.now
    conflict.resolution = keep
    conflict.resolved_by = change.actor.name
    conflict.change_seq = change.seq
    commit(change, pending)


def branch_of(session: Session, branch_id: int) -> BranchRow:
    branch = session.get(BranchRow, branch_id)
    assert branch is not None
    return branch


def find_conflict(session: Session, conflict_id: int, branch_id: int | None) -> ConflictRow:
    row = session.get(ConflictRow, conflict_id)
    if row is None or (branch_id is not None and row.branch_id != branch_id):
        raise NotFound("not_found", "no such conflict", {"conflict": conflict_id})
    return row


def open_conflicts(session: Session, branch_id: int | None) -> list[ConflictRow]:
    query = select(ConflictRow).where(ConflictRow.resolved_at.is_(None))
    if branch_id is not None:
        query = query.where(ConflictRow.branch_id == branch_id)
    return list(session.scalars(query.order_by(ConflictRow.id)))
