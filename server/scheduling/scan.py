"""The flag scan: bring flags, status, deadlines and warning levels of stored tickets up to date.

Flags change only when time passes a threshold or when the ticket changes, so
the scan does not evaluate every ticket every time. Per branch it evaluates:

- tickets changed since the last scan (their change number is above the
  branch's scan cursor), with the group-incident and repeat-complaint
  neighbours the change may raise;
- tickets whose next check (``ticket_checks.next_check_at``) has come: the
  earliest future instant among the ticket's deadlines and the starts of their
  due-soon warnings (the SLA policy's offsets), the next no-progress instant
  and the open tasks' due times (`next_check`). The instants come from the
  ticket's own deadlines, so a rule change about which flag a deadline raises
  needs no change here; a change of the rules' inputs (policy, calendar) needs
  a full rescan (``full=True``, ``flask --app server scheduler run-job
  flag_scan --full``).

A branch seen for the first time is walked (its unfinished tickets) in batches
with keyset pagination; ``full`` walks every ticket. Only tickets whose
computed values or level change are written, through the sync's guarded write
(`write_changes`, branch row locked first), so each gets a new version and
history and travels to the branch with its next pull. Memory stays bounded by
the batch size and by the size of the candidate groups.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import Integer, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaints.calendar import CalendarPendingError
from complaints.enums import Flag, Level, LogKind, Status
from complaints.flags import Evaluation, evaluate
from complaints.levels import Assessment, Basis, LevelRules, apply_assessment, assess
from complaints.model import LogEntry, Task, Ticket
from complaints.routing import RoutingTable
from complaints.schema import ColType
from complaints.sla import PENDING, Clock, SlaClock
from complaints.wire import COLUMNS, DEADLINE_COLUMNS, TICKET_ATTRS
from server.services.notices import QUIET_STATUSES, Notice, enqueue, escalation_key, escalation_notice
from server.services.sync import SyncContext, flush_history, write_changes
from server.storage.db import Database, get_db
from server.storage.models import (
    BranchRow,
    LogRow,
    OutboxRow,
    ScanCursorRow,
    TaskRow,
    TicketCheckRow,
    TicketRow,
    tickets_table,
)
from server.storage.routing import head_rule, routing_table
from server.storage.rows import STORED_TICKET_FIELDS, clock_for, from_db, to_db

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
LEVEL_FIELDS = ("level", "level_reason", "level_basis", "group_id", "escalated_at", "escalated_to")
BY = "scheduler"
_CONTACT_SUFFIX = 8
_t = tickets_table.c
_LEVEL_COLUMNS = (
    _t.sync_key,
    _t.ticket_id,
    _t.received_at,
    _t.category,
    _t.place,
    _t.contact,
    _t.resolved_at,
)


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
        branches = [b.id for b in session.scalars(select(BranchRow).order_by(BranchRow.id))]
        cursors = {c.branch_id: c.change_seq for c in session.scalars(select(ScanCursorRow))}
    report = ScanReport()
    rules = LevelRules(**current_app.config.get("LEVEL_RULES", {}))
    for branch_id in branches:
        BranchScan(db, branch_id, now, rules, report, batch).run(cursors.get(branch_id), full)
        report.branches += 1
    return report


# --- level rules over candidate groups -----------------------------------------------------------------
#
# `complaints.levels.assess` needs every ticket of a group incident (same category
# and place) or of a repeat complainant (same contact, unresolved) to judge them.
# The candidates are found with coarse keys that never separate two tickets the
# rules would put together (places: letters and digits only, case-folded;
# contacts: the last digits), so each true group is complete in what assess sees.


@lru_cache(maxsize=65_536)
def _place_key(place: str | None) -> str:
    return "".join(ch for ch in (place or "").casefold() if ch.isalnum())


def _contact_key(contact: str | None) -> str:
    text = contact or ""
    digits = "".join(ch for ch in text if ch.isdecimal())
    return digits[-_CONTACT_SUFFIX:] if digits else text.strip().casefold()


def _period(moment: Any, days: int, dialect: str) -> Any:
    """The number of the ``days``-long period since the epoch that a stored UTC time falls in, in SQL."""
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", moment) / (days * 86_400))
    return func.cast(func.julianday(moment) / days, Integer)


def _light(row: Any) -> Ticket:
    """A ticket with just the fields the group and repeat rules read."""
    return Ticket(
        ticket_id=row.ticket_id,
        received_at=row.received_at,
        sync_key=row.sync_key,
        category=_decoded("category", row.category),
        place=row.place or "",
        contact=row.contact or "",
        resolved_at=row.resolved_at,
    )


@dataclass
class GroupFindings:
    """GROUP and REPEAT bases (and group ids) found for some tickets of one branch."""

    bases: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    group_ids: dict[str, str] = field(default_factory=dict)

    def add(self, tickets: list[Ticket], basis: str, rules: LevelRules) -> None:
        for key, assessment in assess(tickets, rules).items():
            if basis in assessment.bases:
                self.bases[key].add(basis)
                if basis == Basis.GROUP:
                    self.group_ids[key] = assessment.group_id

    def for_ticket(self, ticket: Ticket) -> Assessment:
        own = assess([ticket])[ticket.sync_key].bases  # media exposure, regulator: the ticket's own fields
        return Assessment(
            frozenset(own | self.bases.get(ticket.sync_key, set())), self.group_ids.get(ticket.sync_key, "")
        )


def _load_light(session: Session, branch_id: int, condition: Any) -> list[Ticket]:
    query = select(*_LEVEL_COLUMNS).where(_t.branch_id == branch_id, _t.cancelled_at.is_(None), condition)
    return [_light(r) for r in session.execute(query)]


def find_groups(
    session: Session, branch_id: int, rules: LevelRules, changed: list[Ticket] | None
) -> GroupFindings:
    """Group incidents and repeat complaints in the whole branch (``changed=None``) or around ``changed``."""
    findings = GroupFindings()
    _find_incidents(session, branch_id, rules, changed, findings)
    _find_repeats(session, branch_id, rules, changed, findings)
    return findings


def _find_incidents(
    session: Session, branch_id: int, rules: LevelRules, changed: list[Ticket] | None, findings: GroupFindings
) -> None:
    live = (_t.branch_id == branch_id, _t.cancelled_at.is_(None), _t.category.is_not(None))
    near: Any = True  # every place of the branch, or the places written like the changed tickets' places
    if changed is not None:
        wanted = {
            (t.category.value, _place_key(t.place)) for t in changed if t.category and _place_key(t.place)
        }
        if not wanted:
            return
        categories = sorted({category for category, _ in wanted})
        distinct = select(_t.category, _t.place).where(*live, _t.category.in_(categories)).distinct()
        pairs = [(c, p) for c, p in session.execute(distinct) if (c, _place_key(p)) in wanted]
        near = tuple_(_t.category, _t.place).in_(pairs)
    # a group needs group_size tickets within group_days: within two neighbouring periods that long
    period = _period(_t.received_at, rules.group_days, session.get_bind().dialect.name)
    query = select(_t.category, _t.place, period, func.count()).where(*live, near)
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    places: dict[tuple[str, str], set[str]] = defaultdict(set)
    for category, place, when, n in session.execute(query.group_by(_t.category, _t.place, period)):
        coarse = (category, _place_key(place))
        if coarse[1]:
            counts[coarse][int(when)] += n
            places[coarse].add(place)
    candidates = [
        coarse
        for coarse, by_period in counts.items()
        if any(n + by_period.get(p + 1, 0) >= rules.group_size for p, n in by_period.items())
    ]
    batch: list[tuple[str, str]] = []
    for i, coarse in enumerate(candidates):
        batch += [(coarse[0], place) for place in sorted(places[coarse])]  # a coarse group is never split
        if len(batch) >= 500 or i == len(candidates) - 1:
            tickets = _load_light(session, branch_id, tuple_(_t.category, _t.place).in_(batch))
            findings.add(tickets, Basis.GROUP, rules)
            batch = []


def _find_repeats(
    session: Session, branch_id: int, rules: LevelRules, changed: list[Ticket] | None, findings: GroupFindings
) -> None:
    wanted = {_contact_key(t.contact) for t in changed or () if t.resolved_at is None and t.contact.strip()}
    if changed is not None and not wanted:
        return
    members: dict[str, list[str]] = defaultdict(list)
    query = select(_t.sync_key, _t.contact).where(
        _t.branch_id == branch_id, _t.resolved_at.is_(None), _t.cancelled_at.is_(None)
    )
    for key, contact in session.execute(query):
        coarse = _contact_key(contact)
        if (contact or "").strip() and (changed is None or coarse in wanted):
            members[coarse].append(key)
    keys = [k for group in members.values() if len(group) >= 2 for k in group]
    tickets = [
        t for chunk in _chunks(keys, 500) for t in _load_light(session, branch_id, _t.sync_key.in_(chunk))
    ]
    findings.add(tickets, Basis.REPEAT, rules)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- when to look again --------------------------------------------------------------------------------


def next_check(
    ticket: Ticket, result: Evaluation, clock: SlaClock, now: datetime, tasks: Iterable[Task]
) -> datetime | None:
    """The earliest instant from ``now`` on at which the flags of ``ticket`` (evaluated as ``result``)
    may change with time alone: a deadline or the start of its due-soon warning, the next
    no-progress instant, an open task's due time or warning."""
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
    if result.last_progress_at is not None:
        try:
            moments.append(clock.workdays_after(result.last_progress_at, policy.progress_interval_workdays))
        except CalendarPendingError:
            moments.append(now + PENDING_RECHECK)
    for task in tasks:
        if task.due is not None and task.done_at is None:
            end = clock.end_of_day(task.due)
            moments += [end, end - policy.due_soon]
    return min((m for m in moments if m >= now), default=None)


def stored_values(result: Evaluation) -> dict[str, Any]:
    """The computed columns of an evaluation as the database stores them (as `store.computed_values`)."""
    values: dict[str, Any] = {"status": str(result.status), "flags": to_db("flags", result.flags)}
    for column, attr in DEADLINE_COLUMNS.items():
        value = getattr(result.deadlines, attr)
        values[column] = value if isinstance(value, datetime) else None
    return values


# --- one branch ---------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What the rules say about one ticket at ``now``: the changes to write and when to look again."""

    row: Any
    """The stored row as read (a Core row of `_SCAN_COLUMNS`)."""
    key: str
    ticket: Ticket
    """As stored, or as the level rules left it."""
    changes: dict[str, Any]
    raised: bool
    entry: LogEntry | None
    next_check_at: datetime | None

    def current(self) -> Ticket:
        """The ticket with this scan's changes (made only when a notice needs it)."""
        model = {k: v for k, v in self.changes.items() if k in TICKET_ATTRS}
        return dataclasses.replace(self.ticket, **model) if model else self.ticket


class BranchScan:
    def __init__(
        self,
        db: Database,
        branch_id: int,
        now: datetime,
        rules: LevelRules,
        report: ScanReport,
        batch: int,
    ) -> None:
        self.db = db
        self.now = now
        self.rules = rules
        self.report = report
        self.batch = batch
        with db.read() as session:
            branch = session.get(BranchRow, branch_id)
            assert branch is not None
            self.branch_id, self.code, self.tz = branch.id, branch.code, branch.timezone
            self.latest = branch.change_seq
        self._table: RoutingTable | None = None
        self.clock = clock_for(self.tz, current_app.config.get("CALENDAR_FILE"))
        self.cursor = self.latest
        self.contiguous = True
        self.first = False

    @property
    def table(self) -> RoutingTable:
        """The branch's routing table (read when a level rule needs a department head)."""
        if self._table is None:
            with self.db.read() as session:
                self._table = routing_table(session, self.branch_id)
        return self._table

    def run(self, cursor: int | None, full: bool) -> None:
        """Scan this branch: every ticket with ``full``; every unfinished one when first seen (or after
        too many changes); otherwise the changed ones, their group neighbours and the due checks."""
        self.first = cursor is None
        with self.db.read() as session:
            changed_count = 0
            if not (full or self.first):
                query = select(func.count()).where(_t.branch_id == self.branch_id, _t.change_seq > cursor)
                changed_count = session.scalar(query) or 0
            walk = full or self.first or changed_count > MAX_INCREMENTAL
            if walk:
                findings = find_groups(session, self.branch_id, self.rules, None)
            else:
                changed = _load_light_changed(session, self.branch_id, cursor or 0)
                findings = find_groups(session, self.branch_id, self.rules, changed)
        if walk:
            self.report.full_branches += 1
            self._walk(findings, everything=full)
        else:
            done = self._keys(sorted({t.sync_key for t in changed} | set(findings.bases)), findings)
            self._due(done)
        self._save_cursor(cursor)

    def _walk(self, findings: GroupFindings, everything: bool) -> None:
        """Evaluate the branch's tickets in batches, in ticket number order (keyset pagination).

        Unless ``everything``, finished tickets (revisited, cancelled) are left as the sync stored
        them: the rules flag neither, so time changes nothing on them; the unfinished ones are
        read status by status through the (branch, status, ticket number) index.
        """
        if everything:
            self._walk_where(findings, _t.branch_id == self.branch_id)
            return
        for status in Status:
            if status.value not in FINISHED:
                self._walk_where(findings, _t.branch_id == self.branch_id, _t.status == status.value)

    def _walk_where(self, findings: GroupFindings, *conditions: Any) -> None:
        last = ""
        while True:
            query = select(*_SCAN_COLUMNS).where(*conditions, _t.ticket_id > last)
            with self.db.read() as session:
                rows = session.execute(query.order_by(_t.ticket_id).limit(self.batch)).all()
                if not rows:
                    return
                last = rows[-1].ticket_id
                outcomes = self._evaluate(session, rows, findings)
            self._write(outcomes)
            if len(rows) < self.batch:
                return

    def _keys(self, keys: list[str], findings: GroupFindings) -> set[str]:
        for chunk in _chunks(keys, self.batch):
            with self.db.read() as session:
                rows = session.execute(select(*_SCAN_COLUMNS).where(_t.sync_key.in_(chunk))).all()
                outcomes = self._evaluate(session, rows, findings)
            self._write(outcomes)
        return set(keys)

    def _due(self, done: set[str]) -> None:
        """Evaluate the tickets whose next check has come (skipping ``done``), in batches."""
        c = tickets_table.join(TicketCheckRow.__table__, TicketCheckRow.sync_key == _t.sync_key)
        last = ""
        while True:
            query = (
                select(*_SCAN_COLUMNS)
                .select_from(c)
                .where(
                    TicketCheckRow.branch_id == self.branch_id,
                    TicketCheckRow.next_check_at <= self.now,
                    TicketCheckRow.sync_key > last,
                )
                .order_by(TicketCheckRow.sync_key)
                .limit(self.batch)
            )
            with self.db.read() as session:
                rows = session.execute(query).all()
                if not rows:
                    return
                last = rows[-1].sync_key
                outcomes = self._evaluate(session, [r for r in rows if r.sync_key not in done], None)
            self._write(outcomes)
            if len(rows) < self.batch:
                return

    def _evaluate(
        self, session: Session, rows: Iterable[Any], findings: GroupFindings | None
    ) -> list[_Outcome]:
        rows = list(rows)
        keys = [r.sync_key for r in rows]
        tasks: dict[str, list[Task]] = defaultdict(list)
        for r in session.scalars(select(TaskRow).where(TaskRow.ticket_key.in_(keys))):
            tasks[r.ticket_key].append(
                Task(r.ticket_id, r.task_no, r.title, r.owner, r.due, r.done_at, r.sync_key)
            )
        progress: dict[str, list[LogEntry]] = defaultdict(list)
        query = select(LogRow).where(LogRow.ticket_key.in_(keys), LogRow.kind == LogKind.PROGRESS.value)
        for r in session.scalars(query):
            progress[r.ticket_key].append(
                LogEntry(r.ticket_id, r.at, LogKind.PROGRESS, r.text, sync_key=r.sync_key)
            )
        outcomes = []
        for row in rows:
            ticket = _ticket(row, self.code)
            key = row.sync_key
            result = evaluate(ticket, self.clock, self.now, tasks[key], progress[key])
            values = stored_values(result)
            changes = {k: from_db(k, v) for k, v in values.items() if v != _stored(row, k)}
            raised, entry = False, None
            # the level rules judge unfinished tickets (revisited and cancelled ones keep their level)
            unfinished = findings is not None and result.status.value not in FINISHED
            assessment = findings.for_ticket(ticket) if unfinished and findings is not None else None
            if assessment is not None and (assessment.bases or assessment.group_id):
                if "status" in changes:  # the level rules read the status (a closed ticket is not told)
                    ticket = dataclasses.replace(ticket, status=changes["status"])
                rule = head_rule(self.table, ticket)
                updated, record, entry = apply_assessment(
                    ticket, assessment, self.now, BY, rule.head if rule else ""
                )
                changes |= {
                    k: getattr(updated, k) for k in LEVEL_FIELDS if getattr(updated, k) != getattr(ticket, k)
                }
                ticket = updated
                raised = record is not None
            when = next_check(ticket, result, self.clock, self.now, tasks[key])
            outcomes.append(_Outcome(row, key, ticket, changes, raised, entry, when))
        self.report.evaluated += len(outcomes)
        return outcomes

    def _write(self, outcomes: list[_Outcome]) -> None:
        """In one transaction: write changed tickets (guarded, versioned), queue notices, plan checks."""
        if not outcomes:
            return
        with self.db.write() as session:
            branch = session.get(BranchRow, self.branch_id)
            assert branch is not None
            pending = [o for o in outcomes if o.changes]
            skipped: set[str] = set()
            if pending:
                ctx = SyncContext(session, branch, by=BY, now=self.now, clock=self.clock, source=BY)
                self._advance(ctx.seq)  # the branch row first, then the tickets: the order every writer uses
                query = select(_t.sync_key, _t.version, _t.change_seq).where(
                    _t.sync_key.in_([o.key for o in pending])
                )
                locked = {
                    key: (version, seq) for key, version, seq in session.execute(query.with_for_update())
                }
                writes = []
                for o in pending:
                    if locked[o.key] != (o.row.version, o.row.change_seq):
                        skipped.add(o.key)  # changed meanwhile: the next scan takes it up as changed
                        continue
                    writes.append((o.row, o.changes))  # the row as read: its version is still current
                    if o.entry is not None:
                        session.add(_log_row(o.row, o.entry, ctx.seq))
                write_changes(ctx, writes)
                flush_history(ctx)
                ctx.touched.clear()  # status, flags and deadlines were written above, by the same rules
                self.report.written += len(writes)
                self.report.escalated += sum(1 for o in pending if o.raised and o.key not in skipped)
            kept = [o for o in outcomes if o.key not in skipped]
            self._notices(session, branch, kept)
            self._checks(session, kept)

    def _advance(self, seq: int) -> None:
        """Move the cursor over this scan's own change numbers while no other writer came in between."""
        if self.contiguous and seq == self.cursor + 1:
            self.cursor = seq
        else:
            self.contiguous = False

    def _notices(self, session: Session, branch: BranchRow, outcomes: list[_Outcome]) -> None:
        """Tell the department head of every yellow or red open ticket whose escalation has no notice yet.

        On the branch's first scan, levels raised before the scheduler ran are
        recorded as skipped (they are in the daily digest) rather than mailed.
        """
        escalated: dict[str, tuple[_Outcome, Ticket]] = {}
        for o in outcomes:
            if o.ticket.level is not Level.BLUE:
                ticket = o.current()
                if ticket.status not in QUIET_STATUSES:
                    escalated[escalation_key(ticket)] = (o, ticket)
        if not escalated:
            return
        known = set(
            session.scalars(select(OutboxRow.dedupe_key).where(OutboxRow.dedupe_key.in_(list(escalated))))
        )
        for key, (o, ticket) in escalated.items():
            if key in known:
                continue
            if self.first and not o.raised:
                notice = Notice("escalation", key, "", "", "", "", "", branch.id, o.key)
                enqueue(session, notice, self.now, skip_reason="escalated before the scheduler first ran")
            elif escalation_notice(session, branch, ticket, BY if o.raised else o.row.updated_by, self.now):
                self.report.notices += 1

    def _checks(self, session: Session, outcomes: list[_Outcome]) -> None:
        """Store each ticket's next check where it moved."""
        current = dict(
            session.execute(
                select(TicketCheckRow.sync_key, TicketCheckRow.next_check_at).where(
                    TicketCheckRow.sync_key.in_([o.key for o in outcomes])
                )
            ).all()
        )
        upserts = [
            {
                "sync_key": o.key,
                "branch_id": self.branch_id,
                "next_check_at": o.next_check_at,
                "checked_at": self.now,
            }
            for o in outcomes
            if o.key not in current or current[o.key] != o.next_check_at
        ]
        if not upserts:
            return
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(TicketCheckRow.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["sync_key"],
            set_={
                "next_check_at": statement.excluded.next_check_at,
                "checked_at": statement.excluded.checked_at,
            },
        )
        session.connection().execute(statement, upserts)

    def _save_cursor(self, cursor: int | None) -> None:
        if cursor is not None and cursor == self.cursor:
            return  # nothing new since the last scan
        with self.db.write() as session:
            row = session.get(ScanCursorRow, self.branch_id)
            if row is None:
                session.add(
                    ScanCursorRow(branch_id=self.branch_id, change_seq=self.cursor, scanned_at=self.now)
                )
            else:
                row.change_seq = max(row.change_seq, self.cursor)
                row.scanned_at = self.now


_LOW_CARDINALITY = frozenset(
    k for k in STORED_TICKET_FIELDS if COLUMNS[k].type in (ColType.ENUM, ColType.FLAGS)
)


@lru_cache(maxsize=8192)
def _decoded(key: str, value: Any) -> Any:
    return from_db(key, value)


def _ticket(row: Any, code: str) -> Ticket:
    """`storage.rows.row_to_ticket` for the scan's hot loop: enum and flag values decoded once per value.

    `from_db` passes non-null values of the other kinds through unchanged, so only nulls go to it.
    """
    values = {}
    for key, value in zip(STORED_TICKET_FIELDS, row, strict=False):
        if key in _LOW_CARDINALITY:
            values[key] = _decoded(key, value)
        else:
            values[key] = value if value is not None else from_db(key, None)
    return Ticket(sync_key=row.sync_key, branch=code, version=row.version, **values)


_SCAN_COLUMNS = (
    *(_t[k] for k in STORED_TICKET_FIELDS),
    *(_t[k] for k in DEADLINE_COLUMNS),
    _t.sync_key,
    _t.branch_id,
    _t.version,
    _t.change_seq,
    _t.updated_by,
)
"""The model's stored fields first, in the order `_ticket` reads them; then what the scan compares."""


def _stored(row: Any, key: str) -> Any:
    value = getattr(row, key)
    return value or "" if key == "flags" else value


def _load_light_changed(session: Session, branch_id: int, cursor: int) -> list[Ticket]:
    query = select(*_LEVEL_COLUMNS).where(_t.branch_id == branch_id, _t.change_seq > cursor)
    return [_light(r) for r in session.execute(query)]


def _log_row(row: Any, entry: LogEntry, seq: int) -> LogRow:
    """The Log entry of a level raised by the rules (it travels to the branch with the next pull)."""
    return LogRow(
        sync_key=entry.sync_key,
        ticket_key=row.sync_key,
        branch_id=row.branch_id,
        ticket_id=row.ticket_id,
        at=entry.at,
        kind=entry.kind.value,
        text=entry.text,
        author=BY,
        channel=BY,
        change_seq=seq,
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
