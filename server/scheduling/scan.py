"""The flag scan: bring flags, status, deadlines and warning levels of stored tickets up to date.

Flags change only when time passes a threshold or when the ticket changes, so
the scan does not evaluate every ticket every time. Per branch it evaluates:

- tickets changed since the last scan (their change number is above the
  branch's scan cursor), with the group-incident and repeat-complaint
  neighbours the change may raise;
- tickets whose next check (``ticket_checks.next_check_at``) has come: the
  earliest future instant among the ticket's deadlines and the starts of their
  due-soon warnings (the SLA policy's offsets), the routing time of an
  unrouted ticket, the next no-progress instant and the open tasks' due times
  (`next_check`). The instants come from the
  ticket's own deadlines, so a rule change about which flag a deadline raises
  needs no change here; a change of the rules' inputs (policy, calendar) needs
  a full rescan (``full=True``, ``flask --app server scheduler run-job
  flag_scan --full``).

The branches, their cursors and whether any of their checks has come are read
in one query when the scan begins: a branch with no change since its cursor
and no check come costs the scan no query of its own.

A branch seen for the first time is walked (its unfinished tickets) in batches
with keyset pagination; ``full`` walks every ticket. Only tickets whose
computed values or level change are written, through the one door's rules and
write (`server.services.changes`: `settle_all`, `write`, branch row locked
first), so each gets a new version and history and travels to the branch with
its next pull. Memory stays bounded by
the batch size and by the size of the candidate groups.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, case, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaints.calendar import CalendarPendingError
from complaints.enums import Category, Flag, Status
from complaints.flags import Evaluation
from complaints.levels import LevelRules
from complaints.model import Task, Ticket
from complaints.rootcause import measure_open, watch_ends
from complaints.routing import RoutingTable, head_rule
from complaints.sla import PENDING, Clock, SlaClock
from server.services.changes import SCHEDULER, Change, Outcome, settle_all, stored_state, write
from server.storage.db import Database, get_db
from server.storage.models import BranchRow, ScanCursorRow, TicketCheckRow, TicketRow, tickets_table
from server.storage.neighbours import GroupFindings, find_groups
from server.storage.routing import routing_table
from server.storage.rows import (
    LIGHT_READ,
    TICKET_READ,
    chunks,
    clock_for,
    light_ticket,
    tasks_and_progress,
    ticket_of,
)

logger = logging.getLogger(__name__)

BATCH = 5_000
MAX_INCREMENTAL = 50_000
"""More tickets changed than this since the last scan: walk the branch instead of listing the changes."""
PENDING_RECHECK = timedelta(days=1)
"""A ticket with a deadline pending the calendar is looked at daily, so a newly loaded calendar is used."""
FINISHED = (Status.REVISITED.value, Status.CANCELLED.value)
MET_BY = {
    Clock.ACK: "acknowledged_at",
    Clock.PLAN: "plan_at",
    Clock.DEPT_FEEDBACK: "dept_feedback_at",
    Clock.RESOLVE: "resolved_at",
    Clock.FEEDBACK: "feedback_at",
    Clock.REVISIT_FROM: "revisited_at",
    Clock.REVISIT_UNTIL: "revisited_at",
    Clock.APPEAL_RISK: "plan_at",  # a substantive reply to the customer removes the appeal risk
}
"""The milestone that meets each deadline: a met deadline raises no flag, so it needs no check."""
_t = tickets_table.c
_b = BranchRow.__table__.c
_WALK = (
    select(*TICKET_READ)
    .where(_t.branch_id == bindparam("branch"), _t.ticket_id > bindparam("last"))
    .order_by(_t.ticket_id)
)
"""A page of a branch's tickets after ticket number ``last``, built once (its limit is the batch)."""
_WALK_STATUS = _WALK.where(_t.status == bindparam("status"))
_BY_KEYS = select(*TICKET_READ).where(_t.sync_key.in_(bindparam("keys", expanding=True)))
_checks = TicketCheckRow.__table__.c
_DUE = (
    select(*TICKET_READ, _checks.next_check_at.label("planned_check"))
    .select_from(tickets_table.join(TicketCheckRow.__table__, _checks.sync_key == _t.sync_key))
    .where(
        _checks.branch_id == bindparam("branch"),
        _checks.next_check_at <= bindparam("now"),
        _checks.sync_key > bindparam("last"),
    )
    .order_by(_checks.sync_key)
)
"""A page of a branch's tickets whose next check has come, after sync key ``last``, with that check (only
the scan writes the checks, so it is still the stored one when the page is written)."""
_cursors = ScanCursorRow.__table__.c
_BRANCHES = (
    select(
        _b.id,
        _b.code,
        _b.timezone,
        _b.change_seq,
        _cursors.change_seq.label("cursor"),
        exists().where(_checks.branch_id == _b.id, _checks.next_check_at <= bindparam("now")).label("due"),
    )
    .select_from(BranchRow.__table__.outerjoin(ScanCursorRow.__table__, _cursors.branch_id == _b.id))
    .order_by(_b.id)
)
"""Every branch, its scan cursor (None: never scanned) and whether any of its checks has come (one
index probe per branch on (branch, next check)): a branch with neither changes nor due checks costs no
more query."""
_LOCK = (
    select(_t.sync_key, _t.version, _t.change_seq)
    .where(_t.sync_key.in_(bindparam("keys", expanding=True)))
    .with_for_update()
)
"""The versions of tickets about to be written, locked (PostgreSQL) until the transaction ends."""
_MOVE_CURSOR = (
    update(ScanCursorRow.__table__)
    .where(_cursors.branch_id == bindparam("branch"))
    .values(
        change_seq=case(
            (_cursors.change_seq > bindparam("seq"), _cursors.change_seq), else_=bindparam("seq")
        ),
        scanned_at=bindparam("at"),
    )
)
"""Move a branch's scan cursor forward (never back) to change number ``seq``, scanned at ``at``."""
_NEW_CURSOR = insert(ScanCursorRow.__table__).values(
    branch_id=bindparam("branch"), change_seq=bindparam("seq"), scanned_at=bindparam("at")
)
_CHECKS_OF = select(_checks.sync_key, _checks.next_check_at).where(
    _checks.sync_key.in_(bindparam("keys", expanding=True))
)


@cache
def _upsert_checks(dialect: str) -> Any:
    """Store a ticket's next check, replacing the one it had (built once per dialect)."""
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(TicketCheckRow.__table__)
    return statement.on_conflict_do_update(
        index_elements=["sync_key"],
        set_={
            "next_check_at": statement.excluded.next_check_at,
            "checked_at": statement.excluded.checked_at,
        },
    )


@dataclass(slots=True)
class _Due:
    """A settled ticket and the next instant time alone may change its flags."""

    outcome: Outcome
    next_check_at: datetime | None

    @property
    def key(self) -> str:
        return self.outcome.key


@dataclass
class ScanReport:
    """What a scan did, for the job's record."""

    branches: int = 0
    evaluated: int = 0
    written: int = 0
    escalated: int = 0
    notices: int = 0
    full_branches: int = 0

    def describe(self) -> str:
        return (
            f"{self.branches} branches ({self.full_branches} walked in full), {self.evaluated} evaluated, "
            f"{self.written} changed, {self.escalated} raised by the level rules, {self.notices} notices"
        )


def scan_flags(now: datetime, full: bool = False, batch: int = BATCH) -> ScanReport:
    """Scan every branch at ``now``; ``full`` re-evaluates every ticket (after a rule or calendar change)."""
    db = get_db()
    with db.read() as session:
        branches = session.execute(_BRANCHES, {"now": now}).all()
    report = ScanReport()
    rules = LevelRules(**current_app.config.get("LEVEL_RULES", {}))
    for branch in branches:
        BranchScan(db, branch, now, rules, report, batch).run(branch.cursor, full, bool(branch.due))
        report.branches += 1
    return report


# --- when to look again --------------------------------------------------------------------------------


def next_check(
    ticket: Ticket, result: Evaluation, clock: SlaClock, now: datetime, tasks: Iterable[Task]
) -> datetime | None:
    """The earliest instant from ``now`` on at which the flags of ``ticket`` (evaluated as ``result``)
    may change with time alone: a deadline or the start of its due-soon warning, the next
    no-progress instant, an open task's or improvement measure's due time or warning, the end of a
    measure's watch (`complaints.rootcause`)."""
    if ticket.cancelled_at is not None:
        return None
    policy = clock.policy
    # when each deadline's due-soon warning starts (the policy's offsets; the revisit window has none)
    warn = {
        Clock.FEEDBACK: policy.feedback_due_soon,
        Clock.APPEAL_RISK: policy.appeal_due_soon,
        Clock.REVISIT_FROM: None,
        Clock.REVISIT_UNTIL: None,
    }
    moments: list[datetime] = []
    for name, due in result.deadlines.as_dict().items():
        if getattr(ticket, MET_BY[name]) is not None:
            continue  # met: its milestone is recorded (clearing it is a change, planned again then)
        if isinstance(due, datetime):
            offset = warn.get(name, policy.due_soon)
            moments += [due] if offset is None else [due, due - offset]
        elif due == PENDING:
            moments.append(now + PENDING_RECHECK)
    if ticket.routed_at is None:
        moments.append(clock.route_due(ticket))
    if result.last_progress_at is not None:
        try:
            moments.append(clock.progress_due(ticket, result.last_progress_at))
        except CalendarPendingError:
            moments.append(now + PENDING_RECHECK)
    for task in tasks:
        if task.due is not None and task.done_at is None:
            end = clock.end_of_day(task.due)
            moments += [end, end - policy.due_soon]
    if measure_open(ticket) and ticket.measure_due is not None:
        end = clock.end_of_day(ticket.measure_due)
        moments += [end, end - policy.due_soon]
    watched = watch_ends(ticket, policy.recurrence_days)
    if watched is not None:
        moments.append(watched)
    return min((m for m in moments if m >= now), default=None)


# --- one branch ---------------------------------------------------------------------------------------


class BranchScan:
    def __init__(
        self,
        db: Database,
        branch: Any,
        now: datetime,
        rules: LevelRules,
        report: ScanReport,
        batch: int,
    ) -> None:
        """``branch``: its row of `_BRANCHES`, read when the scan began."""
        self.db = db
        self.now = now
        self.rules = rules
        self.report = report
        self.batch = batch
        self.branch_id, self.code = branch.id, branch.code
        self.tz, self.latest = branch.timezone, branch.change_seq
        self._table: RoutingTable | None = None
        self._heads: dict[tuple[str, Category | None], str] = {}
        self.clock = clock_for(self.tz, current_app.config.get("CALENDAR_FILE"))
        self.cursor = self.latest
        self.contiguous = True
        self.first = False
        self.stored_cursor: int | None = None
        self.cursor_saved = False

    def run(self, cursor: int | None, full: bool, due: bool) -> None:
        """Scan this branch: every ticket with ``full``; every unfinished one when first seen (or after
        too many changes); otherwise the changed ones, their group neighbours and (``due``: some have
        come) the due checks."""
        self.first = cursor is None
        self.stored_cursor = cursor
        walk = full or self.first
        changed: list[Ticket] = []
        findings = GroupFindings()
        if walk or cursor != self.latest:  # the cursor at the branch's change number: nothing changed
            with self.db.read() as session:
                if not walk:  # at most one more than MAX_INCREMENTAL: enough to decide
                    changed = _load_light_changed(session, self.branch_id, cursor or 0)
                    walk = len(changed) > MAX_INCREMENTAL
                findings = find_groups(session, self.branch_id, self.rules, None if walk else changed)
        if walk:
            self.report.full_branches += 1
            self._walk(findings, everything=full)
        else:
            done = self._keys(sorted({t.sync_key for t in changed} | set(findings.bases)), findings)
            if due:
                self._due(done)
        self._save_cursor()

    def _walk(self, findings: GroupFindings, everything: bool) -> None:
        """Evaluate the branch's tickets in batches, in ticket number order (keyset pagination).

        Unless ``everything``, finished tickets (revisited, cancelled) are left as the sync stored
        them: the rules flag neither, so time changes nothing on them; the unfinished ones are
        read status by status through the (branch, status, ticket number) index. The statuses
        fill one batch (read in one session) before it is settled and written: a transaction
        per batch, not per status (most statuses of a branch hold a few tickets).
        """
        if everything:
            walks = [(_WALK, {})]
        else:
            walks = [(_WALK_STATUS, {"status": s.value}) for s in Status if s.value not in FINISHED]
        last = ""
        while walks:
            rows: list[Any] = []
            with self.db.read() as session:
                while walks and len(rows) < self.batch:
                    query, params = walks[0]
                    wanted = self.batch - len(rows)
                    page = session.execute(
                        query.limit(wanted), {**params, "branch": self.branch_id, "last": last}
                    ).all()
                    rows += page
                    if len(page) < wanted:  # this status is done: the next one fills the batch
                        walks.pop(0)
                        last = ""
                    else:
                        last = page[-1].ticket_id
                outcomes = self._evaluate(session, rows, findings)
            self._write(outcomes)

    def _keys(self, keys: list[str], findings: GroupFindings) -> set[str]:
        for chunk in chunks(keys, self.batch):
            with self.db.read() as session:
                rows = session.execute(_BY_KEYS, {"keys": chunk}).all()
                outcomes = self._evaluate(session, rows, findings)
            self._write(outcomes)
        return set(keys)

    def _due(self, done: set[str]) -> None:
        """Evaluate the tickets whose next check has come (skipping ``done``), in batches."""
        query = _DUE.limit(self.batch)
        last = ""
        while True:
            with self.db.read() as session:
                rows = session.execute(query, {"branch": self.branch_id, "now": self.now, "last": last}).all()
                if not rows:
                    return
                last = rows[-1].sync_key
                outcomes = self._evaluate(session, [r for r in rows if r.sync_key not in done], None)
            final = len(rows) < self.batch
            self._write(outcomes, {r.sync_key: r.planned_check for r in rows}, final=final)
            if final:
                return

    def _evaluate(self, session: Session, rows: Iterable[Any], findings: GroupFindings | None) -> list[_Due]:
        """Settle ``rows`` through the one door's rules (levels only with ``findings``)."""
        rows = list(rows)
        proposals = {r.sync_key: stored_state(r, ticket_of(r, self.code)) for r in rows}
        if proposals and self._table is None:  # the rules name each ticket's department head
            self._table = routing_table(session, self.branch_id)
        tasks, progress = tasks_and_progress(session, proposals)
        outcomes = settle_all(
            proposals,
            now=self.now,
            clock=self.clock,
            by=SCHEDULER.name,
            head_of=self._head_of,
            findings=findings,
            tasks=tasks,
            progress=progress,
        )
        self.report.evaluated += len(outcomes)
        return [
            _Due(o, next_check(o.ticket, o.settled.evaluation, self.clock, self.now, tasks.get(o.key, ())))
            for o in outcomes
        ]

    def _head_of(self, ticket: Ticket) -> str:
        """The head `head_rule` names, looked up once per department and category in this scan."""
        key = (ticket.department.strip(), ticket.category)
        head = self._heads.get(key)
        if head is None:
            assert self._table is not None, "read with the tickets (_evaluate)"
            rule = head_rule(self._table, ticket)
            head = self._heads[key] = rule.head if rule else ""
        return head

    def _write(
        self, due: list[_Due], planned: dict[str, datetime | None] | None = None, final: bool = False
    ) -> None:
        """In one transaction: write changed tickets (guarded, versioned), queue notices, plan checks
        (``planned``: the stored checks, when the tickets were read with them), and with ``final``
        (the branch's last write of this scan) save the scan cursor."""
        if not due:
            return
        with self.db.write() as session:
            branch = session.get(BranchRow, self.branch_id)
            assert branch is not None
            change = Change(session, branch, SCHEDULER, self.now, self.clock, self.rules, _table=self._table)
            pending = [d.outcome for d in due if d.outcome.values]
            skipped: set[str] = set()
            if pending:
                self._advance(
                    change.seq
                )  # the branch row first, then the tickets: the order every writer uses
                keys = {"keys": [o.key for o in pending]}
                locked = {key: (v, seq) for key, v, seq in session.execute(_LOCK, keys)}
                for o in pending:
                    row = o.proposal.row
                    if locked[o.key] != (row.version, row.change_seq):
                        skipped.add(o.key)  # changed meanwhile: the next scan takes it up as changed
            kept = [d for d in due if d.outcome.key not in skipped]
            written = write(change, [d.outcome for d in kept], first_scan=self.first)
            self.report.notices += change.notices
            self.report.written += len(written)
            self.report.escalated += sum(1 for o in written if o.settled.raised)
            self._checks(session, kept, planned)
            if final and self._cursor_moved():
                self._store_cursor(session)

    def _advance(self, seq: int) -> None:
        """Move the cursor over this scan's own change numbers while no other writer came in between."""
        if self.contiguous and seq == self.cursor + 1:
            self.cursor = seq
        else:
            self.contiguous = False

    def _checks(
        self, session: Session, outcomes: list[_Due], current: dict[str, datetime | None] | None
    ) -> None:
        """Store each ticket's next check where it moved from ``current`` (read here if not given)."""
        if current is None:
            current = dict(session.execute(_CHECKS_OF, {"keys": [o.key for o in outcomes]}).all())
        upserts = [
            {
                "sync_key": o.outcome.key,
                "branch_id": self.branch_id,
                "next_check_at": o.next_check_at,
                "checked_at": self.now,
            }
            for o in outcomes
            if o.key not in current or current[o.key] != o.next_check_at
        ]
        if upserts:
            session.connection().execute(_upsert_checks(session.get_bind().dialect.name), upserts)

    def _save_cursor(self) -> None:
        """Save the scan cursor unless the last write saved it or nothing is new since the stored one."""
        if not self.cursor_saved and self._cursor_moved():
            with self.db.write() as session:
                self._store_cursor(session)

    def _cursor_moved(self) -> bool:
        return self.stored_cursor is None or self.stored_cursor != self.cursor

    def _store_cursor(self, session: Session) -> None:
        values = {"branch": self.branch_id, "seq": self.cursor, "at": self.now}
        if session.execute(_MOVE_CURSOR, values).rowcount == 0:
            session.execute(_NEW_CURSOR, values)
        self.cursor_saved = True


def _load_light_changed(session: Session, branch_id: int, cursor: int) -> list[Ticket]:
    """The branch's tickets changed since ``cursor`` (at most one more than `MAX_INCREMENTAL`)."""
    rows = session.execute(_CHANGED, {"branch": branch_id, "cursor": cursor, "most": MAX_INCREMENTAL + 1})
    return [light_ticket(r) for r in rows]


_CHANGED = (
    select(*LIGHT_READ)
    .where(_t.branch_id == bindparam("branch"), _t.change_seq > bindparam("cursor"))
    .limit(bindparam("most"))
)


def revisit_list(session: Session, branch_id: int) -> list[TicketRow]:
    """The branch's closed tickets inside their revisit window or past it, soonest first."""
    flag = tickets_table.c.flags
    query = (
        select(TicketRow)
        .where(
            TicketRow.branch_id == branch_id,
            TicketRow.status == Status.CLOSED.value,
            flag.like(f"%{Flag.REVISIT_DUE.value}%") | flag.like(f"%{Flag.REVISIT_OVERDUE.value}%"),
        )
        .order_by(TicketRow.revisit_until, TicketRow.ticket_id)
    )
    return list(session.scalars(query))
