"""People: per-staff KPIs for head office, and a branch's investigators and department heads at work.

- `staff_figures`: each coordinator's and investigator's figures over a period
  (`complaints.staff`), for the dashboard's staff page and the consolidated
  workbook's staff sheet — the same numbers in both.
- `my_tickets`: the open tickets assigned to a signed-in investigator or
  department head (`server.storage.people`), red first, with deadlines and flags.
- `record_dept_feedback`: the department's feedback (部门反馈时间, the cause
  found, a note) entered on the web, written through the one door
  (`server.services.sync.commit`) with the user as the history's author; the
  branch's next pull carries it into the workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from complaints.enums import Flag, Level, LogKind
from complaints.model import LogEntry, revised
from complaints.periods import Period
from complaints.schema import LOG
from complaints.sla import Due, SlaClock
from complaints.staff import StaffAccumulator, StaffKpis
from complaints.validation import check_ticket, check_values
from complaints.wire import COLUMNS
from server.services.analysis import branch_zones
from server.services.changes import Change, Proposal
from server.services.errors import Invalid, NotFound
from server.services.sync import Pending, commit
from server.storage.figures import staff_breakdown
from server.storage.lean import stream_lean_tickets
from server.storage.people import Assignment, assigned_ticket, open_tickets
from server.storage.rows import clock_for, from_db, read_tickets, row_to_ticket, ticket_of

LOG_COLUMNS = {c.key: c for c in LOG.columns}


def staff_figures(
    session: Session, branches: Sequence[str] | None, period: Period, calendar_path: str | None = None
) -> list[StaffKpis]:
    """Each person's KPIs over ``period`` in ``branches`` (None: all), each branch in its own local days.

    Counted by the database (`server.storage.figures.staff_breakdown`), as
    `reference_staff_figures` counts them ticket by ticket.
    Raises `server.services.analysis.UnknownBranchError` for an unknown branch code.
    """
    return staff_breakdown(session, branch_zones(session, branches), period)


def reference_staff_figures(
    session: Session, branches: Sequence[str] | None, period: Period, calendar_path: str | None = None
) -> list[StaffKpis]:
    """`staff_figures` ticket by ticket (`complaints.staff.StaffAccumulator`): the reference of the tests."""
    zones = branch_zones(session, branches)
    clocks = {code: clock_for(zone, calendar_path) for code, zone in zones.items()}
    accumulator = StaffAccumulator(period)
    if zones:
        for ticket in stream_lean_tickets(session, zones, period):
            accumulator.add(ticket, clocks[ticket.branch])
    return accumulator.result()


MY_DEADLINES = ("dept_feedback", "plan", "resolve")
"""The deadlines a staff member's list shows (`complaints.sla.Deadlines` attributes), in order."""


@dataclass(frozen=True)
class MyTicket:
    """An open ticket on a staff member's list: its stored row, level, flags and the deadlines it runs to."""

    row: Any
    level: Level
    flags: frozenset[Flag]
    dues: dict[str, Due]
    """`MY_DEADLINES` as the rules compute them (a datetime, `PENDING`, or None)."""

    @property
    def overdue(self) -> bool:
        return any(flag.is_overdue for flag in self.flags)

    @property
    def next_due(self) -> datetime:
        found = [d for d in self.dues.values() if isinstance(d, datetime)]
        return min(found) if found else datetime.max.replace(tzinfo=UTC)


def my_tickets(session: Session, who: Assignment, code: str, clock: SlaClock) -> list[MyTicket]:
    """The open tickets assigned to ``who`` (branch ``code``, its ``clock``): red first, then yellow;
    overdue ones before the others, then by the next deadline."""
    found = []
    for row in open_tickets(session, who):
        deadlines = clock.deadlines(row_to_ticket(row, code))
        found.append(
            MyTicket(
                row,
                from_db("level", row.level) or Level.BLUE,
                from_db("flags", row.flags),
                {name: getattr(deadlines, name) for name in MY_DEADLINES},
            )
        )
    return sorted(found, key=lambda m: (-m.level.rank, not m.overdue, m.next_due, m.row.ticket_id))


def assigned(session: Session, who: Assignment, sync_key: str) -> Any:
    """The stored ticket if it is assigned to ``who``; `NotFound` otherwise (another's is as missing)."""
    row = assigned_ticket(session, who, sync_key)
    if row is None:
        raise NotFound("not_found", "no such ticket", {"sync_key": sync_key})
    return row


def record_dept_feedback(change: Change, sync_key: str, at: datetime, cause: str, note: str = "") -> bool:
    """Record the department's feedback on a ticket (the caller checked it is the user's) as one change.

    Sets 部门反馈时间 and the cause found (blank: unchanged) and adds ``note`` to the
    ticket's log; the rules settle the ticket (its DEPT_FEEDBACK_OVERDUE flag
    clears) and the history names the user. `Invalid` for a value the policy
    refuses (a time in the future, text too long, milestones out of order).
    False when nothing was recorded (the same values again, no note).
    """
    values: dict[str, Any] = {"dept_feedback_at": at}
    if cause.strip():
        values["cause"] = cause.strip()
    problems = check_values(values, COLUMNS, change.now)
    if note.strip():
        problems += check_values({"text": note}, LOG_COLUMNS, change.now)
    if problems:
        raise Invalid("invalid", "; ".join(str(p) for p in problems), {"field": problems[0].field})
    row = read_tickets(change.session, [sync_key], lock=True)[sync_key]
    before = ticket_of(row, change.branch.code)
    after = revised(before, **values)
    known = {(p.field, p.en) for p in check_ticket(before)}
    new = [p for p in check_ticket(after) if (p.field, p.en) not in known]
    if new:
        raise Invalid("invalid", "; ".join(str(p) for p in new), {"field": new[0].field})
    pending = Pending(proposals={sync_key: Proposal(row, before, after)})
    if note.strip():
        entry = LogEntry(before.ticket_id, change.now, LogKind.NOTE, note.strip(), author=change.actor.name)
        pending.extra_log.append((sync_key, entry))
    written = {o.key for o in commit(change, pending)}
    return sync_key in written or bool(pending.extra_log)
