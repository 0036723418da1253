"""The sync protocol: one push-and-pull round trip that never loses an edit.

A push carries changed rows, each with the version it was based on. A row whose
base is current is applied as is; otherwise it is merged field by field
against the changes the server made since that version (from the history), and
a field changed on both sides to different values becomes a conflict that keeps
both values. What survives the merge goes through the one door
(`server.services.changes`): the rules settle it and it is written with its
history. The pull returns everything of the branch changed after the branch's
cursor. All of it runs in the caller's single transaction.

Doors hand in domain values (`TicketEdit`, `TaskEdit`, `LogEdit`): the API
decodes them from JSON (`parse_push`), the upload reads them from the workbook.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import Fishbone, LogKind
from complaints.flags import FLAG_LOG_KINDS
from complaints.ids import next_free_number, number_prefix
from complaints.levels import LevelRules
from complaints.model import LogEntry, Task, Ticket, revised
from complaints.pipeline import lowering_entry, lowering_problem
from complaints.rootcause import categories_from_settings, settle_measure
from complaints.schema import Column
from complaints.validation import LOG_COLUMNS, Problem, check_log, check_task, check_ticket, check_values
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
)
from server.services.changes import Change, Outcome, Proposal, settle_all, write
from server.storage.models import BranchRow, ConflictRow, HistoryRow, LogRow, TaskRow, TicketRow
from server.storage.neighbours import find_groups
from server.storage.recurrence import recurrences
from server.storage.rows import (
    chunks,
    log_entry_of,
    log_to_json,
    read_tickets,
    row_to_json,
    row_to_ticket,
    task_of,
    task_to_json,
    tasks_and_progress,
    ticket_of,
)
from server.storage.writes import history_row, insert_history, insert_log, json_text

SYNC_KEY = re.compile(r"^[0-9a-f]{32}$")
HEAD_OFFICE_ROLES = ("head_office", "admin")


class RowRejected(ValueError):
    """One pushed row cannot be applied; the others still are."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(e["message"] for e in errors))


def _reject(field_name: str, message: str) -> RowRejected:
    return RowRejected([{"field": field_name, "message": message}])


def _problems(problems: Iterable[Problem]) -> RowRejected:
    return RowRejected([{"field": p.field, "message": f"{p.en} / {p.zh}"} for p in problems])


# --- what a door hands in -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketEdit:
    """A pushed ticket row: its sync key, the version it was based on (None when new), decoded fields."""

    sync_key: str
    base_version: int | None
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskEdit:
    sync_key: str
    ticket_key: str
    base_version: int | None
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogEdit:
    ticket_key: str
    entry: LogEntry


@dataclass
class Push:
    """A whole push, decoded; rows the door could not decode are already rejected."""

    tickets: list[TicketEdit] = field(default_factory=list)
    tasks: list[TaskEdit] = field(default_factory=list)
    log: list[LogEdit] = field(default_factory=list)
    rejected: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"tickets": [], "tasks": [], "log": []}
    )

    def __bool__(self) -> bool:
        return bool(self.tickets or self.tasks or self.log)


def _key(item: dict[str, Any]) -> str:
    key = item.get("sync_key")
    if not isinstance(key, str) or not SYNC_KEY.match(key):
        raise _reject("sync_key", "sync_key must be 32 lowercase hex characters")
    return key


def _fields(item: dict[str, Any], allowed: tuple[str, ...], columns: dict[str, Column]) -> dict[str, Any]:
    raw = item.get("fields") or {}
    if not isinstance(raw, dict):
        raise _reject("fields", "fields must be an object")
    try:
        return decode_fields(raw, allowed, columns)
    except FieldErrors as exc:
        raise RowRejected([{"field": e.field, "message": str(e)} for e in exc.errors]) from exc


def _base(item: dict[str, Any]) -> int | None:
    base = item.get("base_version")
    if base is None:
        return None
    if isinstance(base, bool) or not isinstance(base, int) or base < 1:
        raise _reject("base_version", "base_version must be a positive integer")
    return base


def parse_push(body: dict[str, Any]) -> Push:
    """Decode the JSON of ``POST /api/sync``; a row that does not decode is rejected by name."""
    push = Push()
    for kind, parse, into in (
        ("tickets", _parse_ticket, push.tickets),
        ("tasks", _parse_task, push.tasks),
        ("log", _parse_log, push.log),
    ):
        for item in body.get(kind, []):
            try:
                into.append(parse(item))  # type: ignore[arg-type]
            except RowRejected as exc:
                push.rejected[kind].append({"sync_key": item.get("sync_key"), "errors": exc.errors})
    return push


def _parse_ticket(item: dict[str, Any]) -> TicketEdit:
    return TicketEdit(_key(item), _base(item), _fields(item, EDITABLE, COLUMNS))


def _parse_task(item: dict[str, Any]) -> TaskEdit:
    return TaskEdit(
        _key(item), str(item.get("ticket_key") or ""), _base(item), _fields(item, TASK_EDITABLE, TASK_COLUMNS)
    )


def _parse_log(item: dict[str, Any]) -> LogEdit:
    key = _key(item)
    try:
        at = decode("received_at", item.get("at"))
        kind = LogKind.parse(str(item.get("kind", "")))
    except (FieldError, ValueError) as exc:
        raise _reject("at" if isinstance(exc, FieldError) else "kind", str(exc)) from exc
    text = item.get("text")
    if at is None or not isinstance(text, str):
        raise _reject("text", "a log entry needs a time and a text")
    author, channel = item.get("author") or "", item.get("channel") or ""
    if not isinstance(author, str) or not isinstance(channel, str):
        raise _reject("author", "author and channel must be text")
    entry = LogEntry("", at, kind, text, author=author, channel=channel, sync_key=key)
    return LogEdit(str(item.get("ticket_key") or ""), entry)


# --- merging --------------------------------------------------------------------------------------------


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


def history_since(
    session: Session, entity: str, bases: dict[str, int], decoder: Callable[[str, Any], Any]
) -> dict[str, dict[str, Any]]:
    """For each key, the fields changed after its base version, each with its value at that version."""
    found: dict[str, dict[str, Any]] = {key: {} for key in bases}
    for chunk in chunks(sorted(bases)):
        rows = session.execute(
            select(HistoryRow.entity_key, HistoryRow.field, HistoryRow.old_value, HistoryRow.version)
            .where(HistoryRow.entity == entity, HistoryRow.entity_key.in_(chunk))
            .order_by(HistoryRow.version.desc(), HistoryRow.id.desc())
        )
        for key, name, old, version in rows:  # newest first, so the last one kept is the oldest value
            if version > bases[key]:
                found[key][name] = decoder(name, json.loads(old) if old is not None else None)
    return found


def _record_conflicts(
    change: Change, entity: str, key: str, ticket_id: str, base: int, conflicts: dict[str, tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """Store each conflict once: the same open conflict pushed again (a stale copy resent) is not repeated."""
    columns = TASK_COLUMNS if entity == "task" else COLUMNS
    out = []
    for name, (branch_value, server_value) in conflicts.items():
        mine, theirs = json_text(name, branch_value, columns), json_text(name, server_value, columns)
        row = change.session.scalar(
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
                branch_id=change.branch.id,
                entity=entity,
                entity_key=key,
                ticket_id=ticket_id,
                field=name,
                branch_value=mine,
                server_value=theirs,
                base_version=base,
                detected_at=change.now,
                change_seq=change.seq,
            )
            change.session.add(row)
            change.session.flush()
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


# --- the push ---------------------------------------------------------------------------------------------


@dataclass
class Pending:
    """What a push will settle: proposals by sync key, and the log entries it adds on its own account."""

    proposals: dict[str, Proposal] = field(default_factory=dict)
    extra_log: list[tuple[str, LogEntry]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    """Stored tickets whose tasks or log changed: settled again, as they are."""
    new_tasks: list[TaskRow] = field(default_factory=list)
    new_log: list[tuple[str, LogEntry]] = field(default_factory=list)
    """Tasks and log entries of tickets new in this push: stored after their tickets."""
    deferred: set[str] = field(default_factory=set)
    """Sync keys of ``new_tasks`` and ``new_log``."""

    def defer(self, sync_key: str) -> None:
        if sync_key in self.deferred:
            raise _reject("sync_key", "the same row is in this push twice")
        self.deferred.add(sync_key)

    def is_new(self, ticket_key: str) -> bool:
        proposal = self.proposals.get(ticket_key)
        return proposal is not None and proposal.row is None


def push(change: Change, edits: Push, version_check: bool = True) -> dict[str, Any]:
    """Apply a push: tickets first (a new task or log entry may belong to a new ticket), then tasks, log;
    then every touched ticket goes through the one door."""
    pending = Pending()
    tickets, rejected_tickets = _push_tickets(change, edits.tickets, pending, version_check)
    tasks, rejected_tasks = _each(change, edits.tasks, pending, _push_task)
    log, rejected_log = _each(change, edits.log, pending, _push_log)
    _lowered_entries(edits.log, pending)
    commit(change, pending)
    return {
        "tickets": tickets,
        "tasks": tasks,
        "log": log,
        "rejected": {
            "tickets": edits.rejected["tickets"] + rejected_tickets,
            "tasks": edits.rejected["tasks"] + rejected_tasks,
            "log": edits.rejected["log"] + rejected_log,
        },
    }


def commit(change: Change, pending: Pending) -> list[Outcome]:
    """Settle the proposals, the tickets their tasks or log touched, and their group/repeat neighbours;
    write what changed."""
    session, proposals = change.session, pending.proposals
    if not proposals and not pending.touched:
        return []
    session.flush()
    rules: LevelRules = change.rules
    changed = [p.after for p in proposals.values()]
    findings = find_groups(
        session, change.branch.id, rules, changed, {k: p.after for k, p in proposals.items()}
    )
    others = (pending.touched | set(findings.bases)) - set(proposals)
    for key, row in read_tickets(session, others, lock=True).items():
        if row.branch_id == change.branch.id:
            ticket = ticket_of(row, change.branch.code)
            proposals[key] = Proposal(row, ticket, ticket)
    _recurrences(change, proposals)
    tasks, progress = tasks_and_progress(session, [k for k, p in proposals.items() if p.row is not None])
    for task in pending.new_tasks:
        tasks[task.ticket_key].append(task_of(task))
    for key, entry in pending.new_log:
        if entry.kind in FLAG_LOG_KINDS:
            progress[key].append(entry)
    outcomes = settle_all(
        proposals,
        now=change.now,
        clock=change.clock,
        by=change.actor.name,
        head_of=change.head_of,
        findings=findings,
        tasks=tasks,
        progress=progress,
    )
    written = write(change, outcomes)
    session.add_all(pending.new_tasks)
    insert_log(session, change.stamp, change.branch.id, pending.new_log + pending.extra_log)
    return written


def _recurrences(change: Change, proposals: dict[str, Proposal]) -> None:
    """Set when each proposal's root cause recurred, adding the earlier tickets whose measure it judges."""
    measured = {k: (p.before, settle_measure(p.before, p.after, change.now)) for k, p in proposals.items()}
    days = change.clock.policy.recurrence_days
    found = recurrences(change.session, change.branch.id, change.branch.code, measured, days)
    for key, row in read_tickets(change.session, [k for k in found if k not in proposals], lock=True).items():
        ticket = ticket_of(row, change.branch.code)
        proposals[key] = Proposal(row, ticket, ticket)
    for key, when in found.items():
        p = proposals.get(key)
        if p is not None and p.after.recurred_at != when:
            proposals[key] = Proposal(p.row, p.before, revised(p.after, recurred_at=when), p.given)


def offered_categories() -> tuple[Fishbone, ...]:
    """The fishbone categories this server offers (``ROOT_CAUSE_CATEGORIES``, checked at start)."""
    return categories_from_settings(current_app.config.get("ROOT_CAUSE_CATEGORIES"))


def _push_tickets(
    change: Change, edits: list[TicketEdit], pending: Pending, version_check: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    done: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    valid: list[TicketEdit] = []
    seen: set[str] = set()
    for edit in edits:
        try:
            if edit.sync_key in seen:
                raise _reject("sync_key", "the same row is in this push twice")
            seen.add(edit.sync_key)
            problems = check_values(edit.fields, COLUMNS, change.now)
            if problems:
                raise _problems(problems)
            valid.append(edit)
        except RowRejected as exc:
            rejected.append({"sync_key": edit.sync_key, "errors": exc.errors})
    rows = read_tickets(change.session, [e.sync_key for e in valid], lock=True)
    stale = {
        e.sync_key: e.base_version
        for e in valid
        if e.sync_key in rows
        and e.base_version is not None
        and e.base_version < rows[e.sync_key].version
        and version_check
    }
    since = history_since(change.session, "ticket", stale, decode)  # type: ignore[arg-type]
    taken = _taken_numbers(
        change.session,
        change.branch.id,
        [e.fields.get("ticket_id", "") for e in valid if e.sync_key not in rows],
    )
    offered = offered_categories()  # once for the push, not per row
    for edit in valid:
        row = rows.get(edit.sync_key)
        try:
            if row is None:
                done.append(_new_ticket(change, edit, taken, pending, offered))
            else:
                since_base = since.get(edit.sync_key, {})
                done.append(_edit_ticket(change, row, edit, since_base, pending, version_check, offered))
        except RowRejected as exc:
            rejected.append({"sync_key": edit.sync_key, "errors": exc.errors})
    return done, rejected


def _edit_ticket(
    change: Change,
    row: Any,
    edit: TicketEdit,
    since: dict[str, Any],
    pending: Pending,
    version_check: bool,
    offered: tuple[Fishbone, ...],
) -> dict[str, Any]:
    if row.branch_id != change.branch.id:
        raise _reject("sync_key", "sync_key is already taken; generate a new one")
    base = edit.base_version
    if base is None or base > row.version:
        raise _reject("base_version", f"base_version must be between 1 and {row.version}")
    before = ticket_of(row, change.branch.code)
    pushed = edit.fields
    if "ticket_id" in pushed and pushed["ticket_id"] != before.ticket_id:
        raise _reject("ticket_id", "the ticket number cannot be changed")
    if "imported_at" in pushed and pushed["imported_at"] != before.imported_at:
        # set once, by the ledger import: moved later, it would hide a stored ticket's overdue work
        raise _reject("imported_at", "the moment a ticket was imported from a ledger cannot be changed")
    current = {k: getattr(before, k) for k in pushed}
    if version_check:
        result = merge(current, pushed, since, base == row.version)
    else:  # test harness only: last write wins
        result = Merge({k: v for k, v in pushed.items() if v != current[k]}, {})
    after = revised(before, **result.changes) if result.changes else before
    _judge(change, before, after, pending, offered)
    conflicts = _record_conflicts(change, "ticket", row.sync_key, row.ticket_id, base, result.conflicts)
    if result.changes or result.conflicts:
        # conflicts alone: settled too, so the pull carries the server's row and the branch can rebase
        pending.proposals[row.sync_key] = Proposal(row, before, after)
    return {
        "sync_key": row.sync_key,
        "ticket_id": row.ticket_id,
        "applied": sorted(result.changes),
        "conflicts": conflicts,
    }


def _judge(
    change: Change, before: Ticket, after: Ticket, pending: Pending, offered: tuple[Fishbone, ...]
) -> None:
    """Refuse an edit that makes the ticket break the policy, or lowers its level without a new reason."""
    known = {(p.field, p.en) for p in check_ticket(before, offered)}
    problems = [p for p in check_ticket(after, offered) if (p.field, p.en) not in known]
    lowering = lowering_problem(before, after)
    if lowering is not None:
        problems.append(lowering)
    if problems:
        raise _problems(problems)
    if after.level.rank < before.level.rank:
        by_head_office = _raised_by_head_office(change.session, after.sync_key)
        entry = lowering_entry(before, after, change.actor.name, change.now, by_head_office)
        pending.extra_log.append((after.sync_key, entry))


def _raised_by_head_office(session: Session, key: str) -> bool:
    """Whether the ticket's level was last set by head office (an admin counts as head office)."""
    role = session.scalar(
        select(HistoryRow.role)
        .where(HistoryRow.entity == "ticket", HistoryRow.entity_key == key, HistoryRow.field == "level")
        .order_by(HistoryRow.version.desc(), HistoryRow.id.desc())
        .limit(1)
    )
    return role in HEAD_OFFICE_ROLES


def _lowered_entries(log: list[LogEdit], pending: Pending) -> None:
    """A de-escalation the branch logged itself (the De-escalate button) is not logged twice."""
    logged = {e.ticket_key for e in log if e.entry.kind is LogKind.DEESCALATION}
    pending.extra_log = [(key, entry) for key, entry in pending.extra_log if key not in logged]


def _new_ticket(
    change: Change, edit: TicketEdit, taken: set[str], pending: Pending, offered: tuple[Fishbone, ...]
) -> dict[str, Any]:
    pushed = dict(edit.fields)
    if not isinstance(pushed.get("ticket_id"), str) or pushed.get("received_at") is None:
        missing = [k for k in ("ticket_id", "received_at") if not pushed.get(k)]
        raise RowRejected([{"field": k, "message": f"{k} is required for a new ticket"} for k in missing])
    ticket = Ticket(**({"sync_key": edit.sync_key, "branch": change.branch.code} | pushed))
    problems = check_ticket(ticket, offered)
    if problems:
        raise _problems(problems)
    notice: dict[str, Any] = {}
    number = ticket.ticket_id
    if number in taken:
        ticket.ticket_id = next_free_number(
            number, _numbers_like(change.session, change.branch.id, number) | taken
        )
        pushed["ticket_id"] = ticket.ticket_id
        notice["renumbered_from"] = number
    taken.add(ticket.ticket_id)
    pending.proposals[edit.sync_key] = Proposal(None, None, ticket, pushed)
    return {
        "sync_key": edit.sync_key,
        "ticket_id": ticket.ticket_id,
        "created": True,
        "conflicts": [],
        **notice,
    }


def _numbers_like(session: Session, branch_id: int, number: str) -> set[str]:
    prefix = number_prefix(number)
    like = select(TicketRow.ticket_id).where(
        TicketRow.branch_id == branch_id, TicketRow.ticket_id.like(f"{prefix}-%")
    )
    return set(session.scalars(like))


def _taken_numbers(session: Session, branch_id: int, numbers: list[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in chunks(sorted(set(numbers))):
        query = select(TicketRow.ticket_id).where(
            TicketRow.branch_id == branch_id, TicketRow.ticket_id.in_(chunk)
        )
        taken.update(session.scalars(query))
    return taken


def _each(
    change: Change, items: Iterable[Any], pending: Pending, apply: Callable[..., dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply rows one by one; each checks everything before it writes, so a rejected row wrote nothing."""
    done, rejected = [], []
    for item in items:
        try:
            done.append(apply(change, item, pending))
        except RowRejected as exc:
            key = item.sync_key if isinstance(item, TaskEdit) else item.entry.sync_key
            rejected.append({"sync_key": key, "errors": exc.errors})
    return done, rejected


def _owned_ticket(change: Change, ticket_key: str, pending: Pending) -> tuple[str, str]:
    """(sync key, number) of the push's own or a stored ticket of the branch."""
    proposal = pending.proposals.get(ticket_key)
    if proposal is not None:
        return ticket_key, proposal.after.ticket_id
    row = change.session.get(TicketRow, ticket_key) if ticket_key else None
    if row is None or row.branch_id != change.branch.id:
        raise _reject("ticket_key", "no such ticket")
    return row.sync_key, row.ticket_id


def _push_task(change: Change, edit: TaskEdit, pending: Pending) -> dict[str, Any]:
    pushed = edit.fields
    problems = check_values(pushed, TASK_COLUMNS, change.now)
    if problems:
        raise _problems(problems)
    key = edit.sync_key
    row = change.session.get(TaskRow, key, with_for_update=True)
    stamp = change.stamp
    if row is None:
        ticket_key, ticket_id = _owned_ticket(change, edit.ticket_key, pending)
        values = {"task_no": 0, "title": "", "owner": ""} | pushed
        problems = check_task(_task(ticket_id, values))
        if problems:
            raise _problems(problems)
        task = TaskRow(
            sync_key=key,
            ticket_key=ticket_key,
            branch_id=change.branch.id,
            ticket_id=ticket_id,
            version=1,
            change_seq=stamp.seq,
            **values,
        )
        if pending.is_new(ticket_key):
            pending.defer(key)
            pending.new_tasks.append(task)
        else:
            change.session.add(task)
            change.session.flush()
        insert_history(
            change.session,
            [
                history_row(stamp, "task", key, 1, k, None, json_text(k, v, TASK_COLUMNS))
                for k, v in pushed.items()
            ],
        )
        _touch(pending, ticket_key)
        return {"sync_key": key, "created": True, "conflicts": []}
    if row.branch_id != change.branch.id:
        raise _reject("sync_key", "sync_key is already taken; generate a new one")
    base = edit.base_version
    if base is None:  # an older add-in without task versions: merged as if based on the first version
        base = 1
    if base > row.version:
        raise _reject("base_version", f"base_version must be between 1 and {row.version}")
    current = {k: getattr(row, k) for k in pushed}
    since = history_since(change.session, "task", {key: base}, lambda k, v: decode(k, v, TASK_COLUMNS))[key]
    result = merge(current, pushed, since, base == row.version)
    if result.changes:
        problems = check_task(
            _task(row.ticket_id, {k: getattr(row, k) for k in TASK_EDITABLE} | result.changes)
        )
        if problems:
            raise _problems(problems)
        for name, value in result.changes.items():
            setattr(row, name, value)
        row.version += 1
        row.change_seq = stamp.seq
        insert_history(
            change.session,
            [
                history_row(
                    stamp,
                    "task",
                    key,
                    row.version,
                    k,
                    json_text(k, current[k], TASK_COLUMNS),
                    json_text(k, v, TASK_COLUMNS),
                )
                for k, v in result.changes.items()
            ],
        )
        _touch(pending, row.ticket_key)
    conflicts = _record_conflicts(change, "task", key, row.ticket_id, base, result.conflicts)
    return {"sync_key": key, "applied": sorted(result.changes), "conflicts": conflicts}


def _task(ticket_id: str, values: dict[str, Any]) -> Task:
    return Task(
        ticket_id,
        values.get("task_no") or 0,
        values.get("title") or "",
        values.get("owner") or "",
        values.get("due"),
        values.get("done_at"),
    )


def _touch(pending: Pending, ticket_key: str) -> None:
    if ticket_key not in pending.proposals:
        pending.touched.add(ticket_key)


def _push_log(change: Change, edit: LogEdit, pending: Pending) -> dict[str, Any]:
    """Append a log entry once; a resent entry (same sync key) is acknowledged, not duplicated."""
    entry = edit.entry
    existing = change.session.get(LogRow, entry.sync_key)
    if existing is not None:
        if existing.branch_id != change.branch.id:
            raise _reject("sync_key", "sync_key is already taken; generate a new one")
        return {"sync_key": entry.sync_key, "duplicate": True}
    ticket_key, ticket_id = _owned_ticket(change, edit.ticket_key, pending)
    problems = check_values(
        {"at": entry.at, "text": entry.text, "author": entry.author, "channel": entry.channel},
        LOG_COLUMNS,
        change.now,
    ) + check_log(entry)
    if problems:
        raise _problems(problems)
    entry = dataclasses.replace(entry, ticket_id=ticket_id, author=entry.author or change.actor.name)
    if pending.is_new(ticket_key):
        pending.defer(entry.sync_key)
        pending.new_log.append((ticket_key, entry))
    else:
        insert_log(change.session, change.stamp, change.branch.id, [(ticket_key, entry)])
    _touch(pending, ticket_key)
    return {"sync_key": entry.sync_key, "created": True}


# --- the pull ---------------------------------------------------------------------------------------------


@dataclass
class BranchState:
    """What of a branch changed after a cursor, as domain values (the upload writes it into the workbook)."""

    cursor: int
    tickets: list[Ticket]
    deadlines: dict[str, dict[str, Any]]
    tasks: list[Task]
    log: list[LogEntry]
    conflicts: list[dict[str, Any]]


def _changed_rows(session: Session, branch: BranchRow, cursor: int) -> tuple[int, Any, Any, Any, Any]:
    """The new cursor, then the branch's ticket, task, log and conflict rows changed after ``cursor``.

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
    return int(latest or 0), tickets, tasks, log, conflicts


def pull(session: Session, branch: BranchRow, cursor: int) -> dict[str, Any]:
    """Everything of ``branch`` changed after ``cursor``, as JSON, and the cursor to send next time."""
    latest, tickets, tasks, log, conflicts = _changed_rows(session, branch, cursor)
    return {
        "cursor": latest,
        "tickets": [row_to_json(r, branch.code) for r in tickets],
        "tasks": [task_to_json(r) for r in tasks],
        "log": [log_to_json(r) for r in log],
        "conflicts": [conflict_to_json(r) for r in conflicts],
    }


def changed_since(session: Session, branch: BranchRow, cursor: int) -> BranchState:
    """Everything of ``branch`` changed after ``cursor``, as domain values."""
    latest, ticket_rows, tasks, log, conflicts = _changed_rows(session, branch, cursor)
    tickets, deadlines = [], {}
    for row in ticket_rows:
        tickets.append(row_to_ticket(row, branch.code))
        deadlines[row.sync_key] = {column: getattr(row, column) for column in DEADLINE_COLUMNS}
    return BranchState(
        latest,
        tickets,
        deadlines,
        [task_of(r) for r in tasks],
        [log_entry_of(r) for r in log],
        [conflict_to_json(r) for r in conflicts],
    )


def level_rules() -> LevelRules:
    """The level rules' thresholds from the app's configuration."""
    return LevelRules(**current_app.config.get("LEVEL_RULES", {}))
