"""Flags (DESIGN §3.3): overdue marks and due-soon warnings from a ticket and an explicit ``now``.

The same function runs in the branch workbook (Check deadlines) and in the
server's scheduler, so both always agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from complaints.calendar import CalendarPendingError
from complaints.enums import Flag, LogKind, Status
from complaints.lifecycle import MilestoneError, derive_status, milestone_errors
from complaints.major import checklist_missing
from complaints.messages import feedback_off_channel, unconfirmed_commitment
from complaints.model import LogEntry, Task, Ticket
from complaints.rootcause import measure_open
from complaints.sla import PENDING, Deadlines, Due, SlaClock
from complaints.textcheck import missing_information, vague_description

OPEN_BEFORE_RESOLUTION = frozenset(
    {Status.NEW, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.EXECUTING, Status.REINVESTIGATING}
)

FLAG_LOG_KINDS = frozenset({LogKind.PROGRESS, LogKind.CONFIRMATION})
"""The log entries the flags read: progress updates (`NO_PROGRESS`), written confirmations
(`UNCONFIRMED_COMMITMENT`)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything the rules derive for one ticket at one instant."""

    status: Status
    deadlines: Deadlines
    flags: frozenset[Flag]
    errors: tuple[MilestoneError, ...]
    last_progress_at: datetime | None


def _clock(
    flags: set[Flag],
    due: Due,
    now: datetime,
    soon: timedelta,
    overdue: Flag,
    warn: Flag,
    history: datetime | None = None,
) -> None:
    """Add ``overdue`` when ``now`` is past ``due``, ``warn`` when it is within ``soon`` of it.

    A deadline before ``history`` (an imported ticket's import) is history: nothing is added.
    """
    if due is None:
        return
    if history is not None and isinstance(due, datetime) and due < history:
        return
    if due == PENDING:
        flags.add(Flag.PENDING_CALENDAR)
        return
    assert isinstance(due, datetime)
    if now > due:
        flags.add(overdue)
    elif now > due - soon:
        flags.add(warn)


def last_progress(ticket: Ticket, log: Iterable[LogEntry]) -> datetime | None:
    """When the customer last heard of progress: the plan, or a later progress update."""
    latest = ticket.plan_at
    for entry in log:
        if entry.kind is LogKind.PROGRESS and entry.ticket_id == ticket.ticket_id:
            if latest is None or entry.at > latest:
                latest = entry.at
    return latest


def evaluate(
    ticket: Ticket,
    clock: SlaClock,
    now: datetime,
    tasks: Iterable[Task] = (),
    log: Iterable[LogEntry] = (),
) -> Evaluation:
    """Derive status, deadlines, flags and milestone errors of ``ticket`` at ``now``."""
    status = derive_status(ticket)
    deadlines = clock.deadlines(ticket)
    log = tuple(log)  # read twice: progress, then written confirmations
    progress_at = last_progress(ticket, log)
    flags: set[Flag] = set()
    if status is Status.CANCELLED:
        return Evaluation(status, deadlines, frozenset(), (), progress_at)
    p = clock.policy
    past = ticket.imported_at
    soon = p.due_soon
    before_resolution = status in OPEN_BEFORE_RESOLUTION
    if ticket.acknowledged_at is None and before_resolution:
        _clock(flags, deadlines.acknowledge, now, soon, Flag.ACK_OVERDUE, Flag.ACK_DUE_SOON, past)
    if ticket.plan_at is None and before_resolution:
        _clock(flags, deadlines.plan, now, soon, Flag.PLAN_OVERDUE, Flag.PLAN_DUE_SOON, past)
        _clock(
            flags,
            deadlines.appeal_risk,
            now,
            p.appeal_due_soon,
            Flag.APPEAL_RISK,
            Flag.APPEAL_RISK_SOON,
            past,
        )
    if ticket.routed_at is None and before_resolution:
        route_due = clock.route_due(ticket)
        if now > route_due and (past is None or route_due >= past):
            flags.add(Flag.ROUTE_OVERDUE)
    if ticket.routed_at is not None and ticket.dept_feedback_at is None and before_resolution:
        _clock(
            flags,
            deadlines.dept_feedback,
            now,
            soon,
            Flag.DEPT_FEEDBACK_OVERDUE,
            Flag.DEPT_FEEDBACK_DUE_SOON,
            past,
        )
    if before_resolution:
        _clock(flags, deadlines.resolve, now, soon, Flag.RESOLVE_OVERDUE, Flag.RESOLVE_DUE_SOON, past)
    if status is Status.RESOLVED:
        _clock(
            flags,
            deadlines.feedback,
            now,
            p.feedback_due_soon,
            Flag.FEEDBACK_OVERDUE,
            Flag.FEEDBACK_DUE_SOON,
            past,
        )
    if status is Status.CLOSED:
        _revisit(flags, deadlines, now, past)
    if status in (Status.EXECUTING, Status.REINVESTIGATING) and progress_at is not None:
        _no_progress(flags, clock, ticket, progress_at, now, past)
    if measure_open(ticket) and ticket.measure_due is not None:  # improvement outlives the case
        due = clock.end_of_day(ticket.measure_due)
        _clock(flags, due, now, soon, Flag.MEASURE_OVERDUE, Flag.MEASURE_DUE_SOON, past)
    if before_resolution:
        _tasks(flags, clock, ticket, tasks, now)
        if checklist_missing(ticket, p.emergency_groups):
            flags.add(Flag.CHECKLIST_INCOMPLETE)
        if missing_information(ticket):
            flags.add(Flag.INFO_INCOMPLETE)
        if vague_description(ticket.description):
            flags.add(Flag.VAGUE_DESCRIPTION)
    if past is None and unconfirmed_commitment(ticket, log):  # an imported ticket's promises are history
        flags.add(Flag.UNCONFIRMED_COMMITMENT)
    if feedback_off_channel(ticket):
        flags.add(Flag.FEEDBACK_CHANNEL)
    return Evaluation(status, deadlines, frozenset(flags), tuple(milestone_errors(ticket)), progress_at)


def _revisit(flags: set[Flag], deadlines: Deadlines, now: datetime, history: datetime | None) -> None:
    start, end = deadlines.revisit_from, deadlines.revisit_until
    if PENDING in (start, end):
        flags.add(Flag.PENDING_CALENDAR)
        return
    assert isinstance(start, datetime) and isinstance(end, datetime)
    if history is not None and end < history:
        return
    if now > end:
        flags.add(Flag.REVISIT_OVERDUE)
    elif now >= start:
        flags.add(Flag.REVISIT_DUE)


def _no_progress(
    flags: set[Flag],
    clock: SlaClock,
    ticket: Ticket,
    since: datetime,
    now: datetime,
    history: datetime | None,
) -> None:
    try:
        due = clock.progress_due(ticket, since)
    except CalendarPendingError:
        flags.add(Flag.PENDING_CALENDAR)
        return
    if now > due and (history is None or due >= history):
        flags.add(Flag.NO_PROGRESS)


def _tasks(flags: set[Flag], clock: SlaClock, ticket: Ticket, tasks: Iterable[Task], now: datetime) -> None:
    for task in tasks:
        if task.ticket_id != ticket.ticket_id or task.done_at is not None or task.due is None:
            continue
        _clock(
            flags,
            clock.end_of_day(task.due),
            now,
            clock.policy.due_soon,
            Flag.TASK_OVERDUE,
            Flag.TASK_DUE_SOON,
            ticket.imported_at,
        )


def refresh(
    ticket: Ticket,
    clock: SlaClock,
    now: datetime,
    tasks: Iterable[Task] = (),
    log: Iterable[LogEntry] = (),
) -> Ticket:
    """Return ``ticket`` with its computed status and flags brought up to date."""
    result = evaluate(ticket, clock, now, tasks, log)
    if result.status is ticket.status and result.flags == ticket.flags:
        return ticket
    return dataclasses.replace(ticket, status=result.status, flags=result.flags)
