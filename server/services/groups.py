"""A group incident handled as one: one decision, applied to every member ticket through the one door.

The rules of `complaints.groups` decide what each member gets (the plan, the
compensation, a shared task, a progress update, a revisit); here the group's
record is kept and the members' changes go in as one push of the group's
branch (`server.services.sync.push`), so the rules settle every member and the
branch's next pull carries them, whatever door the decision came through.
Nothing is written if any member cannot take the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from complaints.enums import Satisfaction
from complaints.groups import (
    GroupError,
    apply_compensation,
    apply_plan,
    broadcast,
    live_members,
    representative,
    revisit_rate,
    shared_task,
)
from complaints.model import LogEntry, Task, Ticket, new_sync_key, revised
from complaints.steps import Step, StepRefused, take
from complaints.validation import MAX_TEXT, check_ticket
from server.services.changes import Actor, Change
from server.services.errors import Invalid, NotFound, Refused
from server.services.sync import LogEdit, Push, TaskEdit, TicketEdit, push
from server.services.tickets import branch_of, change_on, find_ticket
from server.storage.groups import ensure_groups, group_row, member_rows, member_tasks
from server.storage.models import BranchRow, GroupRow
from server.storage.rows import ticket_of


@dataclass
class GroupCase:
    """A group incident as stored: its record, its live members (by receipt) and their tasks."""

    branch: BranchRow
    record: GroupRow
    members: list[Ticket]
    tasks: list[Task]

    @property
    def representative(self) -> Ticket:
        return representative(self.members, self.record.representative)

    @property
    def revisit(self) -> tuple[int, int]:
        """Satisfied members and revisited members (`complaints.groups.revisit_rate`)."""
        return revisit_rate(self.members)


def group_id_of(session: Session, sync_key: str, scope: int | None) -> str:
    """The group incident of ticket ``sync_key`` (which the caller may see), or `NotFound`."""
    row = find_ticket(session, sync_key, scope)
    if not row.group_id:
        raise NotFound("not_in_group", "the ticket is not in a group incident / 该投诉单不属于群体事件")
    return row.group_id


def load_group(session: Session, branch: BranchRow, group_id: str, lock: bool = False) -> GroupCase:
    """The group incident ``group_id`` of ``branch``; ``lock`` for a change (the record made if missing)."""
    rows = member_rows(session, branch.id, group_id, lock)
    members = live_members((ticket_of(r, branch.code) for r in rows.values()), group_id)
    if not members:
        raise NotFound("not_found", "no such group incident / 没有该群体事件", {"group": group_id})
    if lock:  # a group linked before its record existed (migration 0010) gets it at its first decision
        ensure_groups(session, branch.id, [group_id], members[0].received_at, "system")
    record = group_row(session, branch.id, group_id, lock) or GroupRow(
        branch_id=branch.id, group_id=group_id, representative="", plan="", compensation=""
    )
    return GroupCase(branch, record, members, member_tasks(session, (t.sync_key for t in members)))


def view_group(session: Session, sync_key: str, scope: int | None) -> GroupCase:
    """The group incident of a member ticket, for reading."""
    group_id = group_id_of(session, sync_key, scope)
    branch = branch_of(session, find_ticket(session, sync_key, scope).branch_id)  # the row is cached
    return load_group(session, branch, group_id)


def change_on_group(
    session: Session, sync_key: str, scope: int | None, actor: Actor, now: datetime
) -> tuple[Change, GroupCase]:
    """A change to the group of member ``sync_key``: the branch locked first, then the group, its members."""
    group_id = group_id_of(session, sync_key, scope)
    change = change_on(session, sync_key, scope, actor, now)
    return change, load_group(session, change.branch, group_id, lock=True)


def _text(value: str, field: str) -> str:
    if len(value) > MAX_TEXT:
        raise Invalid(
            "too_long", f"at most {MAX_TEXT:,} characters / 最多 {MAX_TEXT:,} 个字符", {"field": field}
        )
    return value.strip()


def _refused(exc: GroupError, field: str) -> Invalid:
    return Invalid("group_refused", str(exc), {"field": field})


def _touch(change: Change, case: GroupCase) -> None:
    case.record.updated_at = change.now
    case.record.updated_by = change.actor.name


def _apply(
    change: Change,
    case: GroupCase,
    tickets: Sequence[Ticket] = (),
    tasks: Iterable[Task] = (),
    log: Iterable[LogEntry] = (),
) -> None:
    """Push the members' new states, tasks and log entries as one change; all or nothing."""
    by_id = {t.ticket_id: t for t in case.members}
    stored = {t.sync_key: t for t in case.members}
    problems = [f"{t.ticket_id}: {p.en} / {p.zh}" for t in tickets for p in check_ticket(t)]
    if problems:
        raise Refused("group_refused", "; ".join(problems), {"group": case.record.group_id})
    edits = Push(
        tickets=[
            TicketEdit(
                t.sync_key,
                t.version,
                {k: v for k, v in _fields(t).items() if v != _fields(stored[t.sync_key])[k]},
            )
            for t in tickets
        ],
        tasks=[
            TaskEdit(
                new_sync_key(),
                by_id[task.ticket_id].sync_key,
                None,
                {"task_no": task.task_no, "title": task.title, "owner": task.owner, "due": task.due},
            )
            for task in tasks
        ],
        log=[LogEdit(by_id[e.ticket_id].sync_key, e) for e in log],
    )
    result = push(change, edits)
    rejected = [r for kind in result["rejected"].values() for r in kind]
    if rejected:  # the checks above make this unlikely; the caller's transaction is rolled back
        messages = [e["message"] for r in rejected for e in r["errors"]]
        raise Refused("group_refused", "; ".join(messages), {"group": case.record.group_id})


def _fields(ticket: Ticket) -> dict[str, Any]:
    return {
        k: getattr(ticket, k) for k in ("plan", "plan_at", "compensation", "revisited_at", "satisfaction")
    } | {"suggestions": ticket.suggestions}


def choose_representative(change: Change, case: GroupCase, sync_key: str) -> Ticket:
    """Make member ``sync_key`` the customer who speaks for the group."""
    chosen = next((t for t in case.members if t.sync_key == sync_key), None)
    if chosen is None:
        raise Invalid(
            "not_a_member", "choose a member of the group / 请选择本群体事件的成员", {"field": "member"}
        )
    case.record.representative = sync_key
    _touch(change, case)
    return chosen


def decide_plan(change: Change, case: GroupCase, text: str, at: datetime | None = None) -> None:
    """The group's one plan: its text on every member, the plan milestone where not yet reached."""
    text, at = _text(text, "plan"), at or change.now
    try:
        planned = apply_plan(case.members, text, at)
    except GroupError as exc:
        raise _refused(exc, "plan") from exc
    case.record.plan, case.record.plan_at = text, at
    _touch(change, case)
    _apply(change, case, planned)


def decide_compensation(change: Change, case: GroupCase, text: str) -> None:
    """The group's one compensation decision, applied to every member."""
    try:
        decided = apply_compensation(case.members, _text(text, "compensation"))
    except GroupError as exc:
        raise _refused(exc, "compensation") from exc
    case.record.compensation = text.strip()
    _touch(change, case)
    _apply(change, case, decided)


def broadcast_progress(change: Change, case: GroupCase, text: str, channel: str = "") -> None:
    """One progress update to the customers: a progress entry on every member's log."""
    try:
        entries = broadcast(
            case.members, _text(text, "progress"), change.now, change.actor.name, _text(channel, "channel")
        )
    except GroupError as exc:
        raise _refused(exc, "progress") from exc
    _touch(change, case)
    _apply(change, case, log=entries)


def add_shared_task(
    change: Change, case: GroupCase, title: str, owner: str = "", due: date | None = None
) -> None:
    """The group's task, added to every member's plan."""
    try:
        tasks = shared_task(case.members, case.tasks, _text(title, "title"), _text(owner, "owner"), due)
    except GroupError as exc:
        raise _refused(exc, "title") from exc
    _touch(change, case)
    _apply(change, case, tasks=tasks)


def record_revisit(
    change: Change, case: GroupCase, sync_key: str, satisfaction: Satisfaction, suggestions: str = ""
) -> Ticket:
    """One member's answer at the group revisit (the Revisit step of `complaints.steps`)."""
    member = next((t for t in case.members if t.sync_key == sync_key), None)
    if member is None:
        raise Invalid(
            "not_a_member", "choose a member of the group / 请选择本群体事件的成员", {"field": "member"}
        )
    answered = revised(member, satisfaction=satisfaction, suggestions=_text(suggestions, "suggestions"))
    try:
        revisited, log = take(Step.REVISIT, answered, change.now, change.actor.name, change.clock)
    except StepRefused as exc:
        raise Refused("revisit_refused", f"{exc.en} / {exc.zh}", {"member": sync_key}) from exc
    _touch(change, case)
    _apply(change, case, [revisited], log=log)
    return revisited
