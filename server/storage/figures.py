"""The head-office figures counted by the database, from a narrow row of facts kept beside each ticket.

`complaints.kpis` defines every figure and counts it ticket by ticket (the
reference, `server.services.analysis.reference_analysis`). The one service
also stores, with every ticket it writes, the ticket's `complaints.kpis.Facts`
(``ticket_figures``: profile (major grade included), milestone outcomes, working days to close, the
customer of a repeat complaint, the group of a group complaint). Here the
database counts those rows — received, revisited, closed, reaching a milestone
in the period, each branch in its own local days — grouped by what the figures
tell apart (`COUNTS`; by person: `STAFF_COUNTS`), and the `KpiAccumulator`s
are fed the counts (``count_*``), so ``result()`` builds the same `Kpis`
without decoding a ticket. The counts are kept per branch and local day
(`server.storage.rollup`): a period sums its days, and only the days a write
marked are counted again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import Column, Connection, Engine, Select, Update, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from complaints.enums import Flag
from complaints.figures import Milestone
from complaints.kpis import Facts, KpiAccumulator, KpiBreakdown, facts
from complaints.model import Ticket
from complaints.periods import Period
from complaints.rootcause import has_root_cause, improved
from complaints.selections import Profile
from complaints.sla import Deadlines, SlaClock
from complaints.staff import StaffKey, StaffKpis, StaffRole
from server.storage.models import FIGURE_MOMENTS, BranchRow, figures_table, tickets_table
from server.storage.rollup import FAMILIES, MARKED, Count, DayCounts, forget_days, local_days, mark_days
from server.storage.rows import TICKET_READ, chunks, clock_for, from_db, ticket_of
from server.storage.writes import insert_rows

logger = logging.getLogger(__name__)

f = figures_table.c
_MET = {m: f[f"{m.value}_met"] for m in Milestone}
_AT: dict[Milestone, Any] = {
    Milestone.ACKNOWLEDGE: f.acknowledged_at,
    Milestone.PLAN: f.plan_at,
    Milestone.RESOLVE: f.resolved_at,
    Milestone.FEEDBACK: f.feedback_at,
    Milestone.REVISIT: f.revisited_at,
}
BATCH = 5_000
_MET_NAMES = {m: f"{m.value}_met" for m in Milestone}
_moments_of = attrgetter(*FIGURE_MOMENTS)


def _code(outcome: bool | None) -> int | None:
    return None if outcome is None else int(outcome)


def _outcome(code: int | None) -> bool | None:
    return None if code is None else bool(code)


def figure_row(
    key: str, branch_id: int, ticket: Ticket, deadlines: Deadlines, clock: SlaClock
) -> dict[str, Any]:
    """The ``ticket_figures`` row of ``ticket`` (sync key ``key``) with the deadlines the rules computed."""
    found: Facts = facts(ticket, deadlines, clock)
    p = found.profile
    row: dict[str, Any] = {
        "sync_key": key,
        "branch_id": branch_id,
        "department": ticket.department,
        **dict(zip(FIGURE_MOMENTS, _moments_of(ticket), strict=True)),
        "cancelled": p.cancelled,
        "overdue": p.overdue,
        "revisit_due": p.revisit_due,
        "grouped": p.grouped,
        "repeat": p.repeat,
        "training": p.training,
        "major": p.major,
        "resolved": found.resolved,
        "status": p.status.value,
        "level": p.level.value,
        "category": None if p.category is None else p.category.value,
        **{name: _code(found.met.get(m)) for m, name in _MET_NAMES.items()},
        "closed_loop_met": _code(found.closed_loop),
        "close_workdays": found.workdays,
        "satisfaction": None if ticket.satisfaction is None else ticket.satisfaction.value,
        "root_cause": ticket.root_cause,
        "improvement": ticket.improvement,
        "improvement_done": bool(ticket.improvement_done),
        "customer": found.customer,
        "group_id": found.group,
        "group_answered_at": found.group_answered,
        "fishbone": None if ticket.fishbone is None else ticket.fishbone.value,
        "measure_status": None if ticket.measure_status is None else ticket.measure_status.value,
        "measure_overdue": Flag.MEASURE_OVERDUE in ticket.flags,
        "improved": _code(improved(ticket)) if has_root_cause(ticket) else None,
        "coordinator": ticket.coordinator,
        "investigator": ticket.investigator,
    }
    return row


def write_figure_rows(
    connection: Connection,
    rows: list[dict[str, Any]],
    zone: str | None,
    new: bool = False,
) -> None:
    """Store the rows of `figure_row`, replacing those of the same tickets (``new``: there are none).

    A stored row is rewritten only where its columns changed, and only those
    columns. The local days (in ``zone``, the rows' branch's) whose counts a
    change may move are marked for the rollup (`server.storage.rollup`): the days
    of a moment that moved, before and after, and the days of the moments whose
    counts read a changed column (a new coordinator or investigator: every day,
    the staff counts group by them). ``zone`` None: the caller forgets the
    branch's rolled-up days instead.
    """
    moments: list[datetime | None] = []
    for part in chunks(rows, BATCH):
        if new:
            insert_rows(connection, figures_table, part)
            moments += [row[name] for row in part for name in MARKED]
            continue
        names = tuple(part[0])  # every row of `figure_row` has its columns in one order
        query = _stored_rows(names)
        stored = {
            old.sync_key: old for old in connection.execute(query, {"keys": [r["sync_key"] for r in part]})
        }
        created, updates = [], defaultdict(list)
        for row in part:
            old = stored.get(row["sync_key"])
            if old is None:
                created.append(row)
                moments += [row[name] for name in MARKED]
                continue
            values = tuple(row.values())
            if values == tuple(old):  # one comparison in C: most rows the scan settles keep their figures
                continue
            changed = tuple(name for name, new, was in zip(names, values, old, strict=True) if new != was)
            if changed:
                updates[changed].append(row)
            moments += [row[name] for name in _moments_reading(changed)]
            moments += [old._mapping[name] for name in changed if name in MARKED]
        insert_rows(connection, figures_table, created)
        for changed, group in updates.items():
            params = [{"key": r["sync_key"], **{f"new_{name}": r[name] for name in changed}} for r in group]
            connection.execute(_update_columns(changed), params)
    if zone is not None and rows:
        mark_days(connection, rows[0]["branch_id"], local_days(moments, zone))


@lru_cache(maxsize=8)
def _stored_rows(names: tuple[str, ...]) -> Select[Any]:
    """The stored figures rows of some tickets (``keys``), their columns in the order of ``names``."""
    return select(*(f[name] for name in names)).where(f.sync_key.in_(bindparam("keys", expanding=True)))


@lru_cache(maxsize=256)
def _update_columns(changed: tuple[str, ...]) -> Update:
    """The statement rewriting the ``changed`` columns of a figures row (built once per column set)."""
    stmt = update(figures_table).where(f.sync_key == bindparam("key"))
    return stmt.values({name: bindparam(f"new_{name}") for name in changed})


@lru_cache(maxsize=256)
def _moments_reading(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The moments (`MARKED`) whose counts read any of ``columns``, a moment itself included."""
    found = set()
    for count in (*COUNTS, *STAFF_COUNTS):
        read = {count.moment, count.group, *count.columns}
        for clause in count.where:
            read.update(e for e in visitors.iterate(clause) if isinstance(e, Column))
        if any(c.table is figures_table and c.key in columns for c in read):
            found.add(count.moment.key)
    return tuple(name for name in MARKED if name in found)


def fill_figure_rows(connection: Connection, calendar_path: str | None) -> int:
    """Write the ``ticket_figures`` row of every stored ticket that has none; returns how many.

    After an upgrade from before migration 0006 (the table is made empty there)
    and wherever a row is missing. Deadlines are computed again with the
    calendar, as the flag scan does.
    """
    t = tickets_table.c
    missing = ~select(figures_table.c.sync_key).where(figures_table.c.sync_key == t.sync_key).exists()
    done = 0
    for branch_id, code, zone in connection.execute(select(BranchRow.id, BranchRow.code, BranchRow.timezone)):
        clock = clock_for(zone, calendar_path)
        query = select(*TICKET_READ).where(t.branch_id == branch_id, missing).order_by(t.sync_key)
        last, filled = "", 0
        while True:
            part = connection.execute(query.where(t.sync_key > last).limit(BATCH)).all()
            if not part:
                break
            rows = []
            for r in part:
                ticket = ticket_of(r, code)
                rows.append(figure_row(r.sync_key, branch_id, ticket, clock.deadlines(ticket), clock))
            write_figure_rows(connection, rows, None, new=True)
            filled += len(rows)
            last = part[-1].sync_key
        if filled:
            forget_days(connection, [branch_id])
            done += filled
            logger.info("figures of branch %s filled (%d tickets so far)", code, done)
    return done


def fill_figure_days(engine: Engine) -> int:
    """Roll up every branch's days not rolled up yet, both families; returns the branch-days stored.

    At an upgrade (`server.storage.db.Database.upgrade`), so that no reader waits for a
    first count of every day. The database counts (`server.storage.rollup.count_days`),
    a month of one time zone's branches at a time; days already rolled up are skipped.
    """
    with Session(engine) as session:
        spans = _spans(session)
        codes = dict(session.execute(select(BranchRow.id, BranchRow.timezone)).all())
    by_zone: dict[str, list[int]] = {}
    for branch_id in spans:
        by_zone.setdefault(codes[branch_id], []).append(branch_id)
    stored = 0
    for zone, ids in by_zone.items():
        first = min(spans[b][0] for b in ids) - timedelta(days=1)  # a local day may start the UTC day before
        last = max(spans[b][1] for b in ids) + timedelta(days=1)
        month = date(first.year, first.month, 1)
        while month <= last:
            period = Period.month(month.year, month.month)
            for family, counts in ((DEPARTMENTS, COUNTS), (PEOPLE_FAMILY, STAFF_COUNTS)):
                with Session(engine) as session:
                    days = DayCounts.read(session, family, counts, {zone: ids}, period)
                stored += days.store(engine)
            month = period.end
        logger.info("figures of the branches of %s rolled up (%d branch-days so far)", zone, stored)
    return stored


def _spans(session: Session) -> dict[int, tuple[date, date]]:
    """Each branch's first and last UTC day with a moment in ``ticket_figures``."""
    bounds = [agg(f[name]) for name in MARKED for agg in (func.min, func.max)]
    found = {}
    for branch_id, *moments in session.execute(select(f.branch_id, *bounds).group_by(f.branch_id)):
        known = [m for m in moments if m is not None]
        found[branch_id] = (min(known).date(), max(known).date())
    return found


# --- counting -------------------------------------------------------------------------------------------


class _Counting:
    """The accumulators a counted row goes into: overall, and (if grouped) its branch's and department's."""

    def __init__(self, period: Period, codes: Mapping[int, str], grouped: bool) -> None:
        self.period = period
        self.codes = codes
        self.grouped = grouped
        self.overall = KpiAccumulator(period)
        self.by_branch: dict[str, KpiAccumulator] = {}
        self.by_department: dict[str, KpiAccumulator] = {}
        self._targets: dict[tuple[int, str], list[KpiAccumulator]] = {}

    def targets(self, branch_id: int, department: str) -> list[KpiAccumulator]:
        found = self._targets.get((branch_id, department))
        if found is not None:
            return found
        found = [self.overall]
        if self.grouped:
            for groups, key in (
                (self.by_branch, self.codes[branch_id].strip()),
                (self.by_department, department.strip()),
            ):
                group = groups.get(key)
                if group is None:
                    group = groups[key] = KpiAccumulator(self.period)
                found.append(group)
        self._targets[(branch_id, department)] = found
        return found


_PROFILE = (f.cancelled, f.status, f.level, f.category, f.overdue, f.revisit_due, f.grouped, f.repeat)
_PROFILE += (f.training, f.major)
_LIVE = f.cancelled.is_(False)
PROFILE, CAUSE, MEASURE, PEOPLE, MAJOR, REVISITED, ANSWERED, CLOSED, TOUCHED = range(9)
_MILESTONE_KIND = {m: 10 + i for i, m in enumerate(m for m in _AT if m is not Milestone.REVISIT)}
COUNTS: tuple[Count, ...] = (
    Count(PROFILE, f.received_at, (*_PROFILE, f.resolved)),
    Count(CAUSE, f.received_at, (f.root_cause, f.improvement, f.improved, f.fishbone), (_LIVE,)),
    Count(MEASURE, f.received_at, (f.fishbone, f.measure_status, f.measure_overdue), (_LIVE,)),
    Count(PEOPLE, f.received_at, (f.customer, f.group_id), (_LIVE, or_(f.customer != "", f.group_id != ""))),
    Count(MAJOR, f.received_at, (f.plan_met,), (_LIVE, f.major.is_(True), f.plan_at.is_not(None))),
    Count(REVISITED, f.revisited_at, (f.satisfaction, f.revisit_met), (_LIVE,)),
    Count(ANSWERED, f.group_answered_at, (f.satisfaction,), (_LIVE, f.satisfaction.is_not(None))),
    Count(CLOSED, f.closed_at, (f.closed_loop_met, f.close_workdays), (_LIVE,)),
    *(Count(kind, _AT[m], (_MET[m],), (_LIVE,)) for m, kind in _MILESTONE_KIND.items()),
    *(Count(TOUCHED, f[m], (), (f.cancelled.is_(True),)) for m in FIGURE_MOMENTS[1:]),
)
"""What the database counts, per branch, department and local day (`server.storage.rollup`): the tickets
received (their profile; the root causes, measures, repeat customers and group incidents of the live ones;
the major cases' plans), revisited, answering a group revisit, closed, reaching each milestone, and the
cancelled tickets with a moment in the day (only their branch and department are listed)."""
_MILESTONE_OF = {kind: m for m, kind in _MILESTONE_KIND.items()}


@lru_cache(maxsize=4096)
def _profile(cancelled: Any, status: Any, level: Any, category: Any, *marks: Any) -> Profile:
    return Profile(
        bool(cancelled),
        from_db("status", status),
        from_db("level", level),
        from_db("category", category),
        *(bool(m) for m in marks),
    )


@lru_cache(maxsize=65_536)
def _values(key: str) -> tuple[Any, ...]:
    """The values a count's key (JSON) tells apart: keys repeat across branches, departments and days."""
    return tuple(json.loads(key))


def _feed(counting: _Counting, branch_id: int, kind: int, dept: str, values: Sequence[Any], n: int) -> None:
    """Count ``n`` tickets of a `COUNTS` row (``values``: its columns) into the accumulators they go into."""
    targets = counting.targets(branch_id, dept)
    if kind == PROFILE:
        p = _profile(*values[:-1])
        for acc in targets:
            acc.count_received(p, n, n if values[-1] else 0)
    elif kind == CAUSE:
        cause, measure, effective, fishbone = values
        for acc in targets:
            acc.count_cause(
                dept, cause, measure, _outcome(effective), n, bool(cause.strip()) or fishbone is not None
            )
    elif kind == MEASURE:
        fishbone, state = from_db("fishbone", values[0]), from_db("measure_status", values[1])
        for acc in targets:
            acc.count_measure(fishbone, state, values[2], n)
    elif kind == PEOPLE:
        customer, group = values
        for acc in targets:
            acc.count_repeat_customer(customer)
            if group:
                acc.count_group(group)
    elif kind == MAJOR:
        for acc in targets:
            acc.count_major_plan(_outcome(values[0]), n)
    elif kind == REVISITED:
        satisfaction, met = values
        for acc in targets:
            if satisfaction is not None:
                acc.count_revisited(from_db("satisfaction", satisfaction), n)
            acc.count_milestone(Milestone.REVISIT, _outcome(met), n)
    elif kind == ANSWERED:
        for acc in targets:
            acc.count_group_revisit(from_db("satisfaction", values[0]), n)
    elif kind == CLOSED:
        for acc in targets:
            acc.count_closed(_outcome(values[0]), values[1], n)
    elif kind in _MILESTONE_OF:
        for acc in targets:
            acc.count_milestone(_MILESTONE_OF[kind], _outcome(values[0]), n)
    # TOUCHED: the cancelled ticket only lists its branch and department (`targets` above)


_ALL_KINDS = frozenset(count.kind for count in COUNTS)
DEPARTMENTS, PEOPLE_FAMILY = FAMILIES
_ROLE_COLUMN = {StaffRole.COORDINATOR: f.coordinator, StaffRole.INVESTIGATOR: f.investigator}
_LISTING = frozenset({PROFILE, REVISITED, CLOSED, TOUCHED, *_MILESTONE_OF})
"""The counts that list a person: received, revisited, closed or reaching a milestone in the period
(`complaints.kpis.KpiAccumulator.add`)."""
STAFF_COUNTS: tuple[Count, ...] = tuple(
    dataclasses.replace(
        count,
        kind=100 * (1 + i) + count.kind,
        columns=(f.department, *count.columns) if count.kind == CAUSE else count.columns,
        where=(*count.where, column != ""),
        group=column,
    )
    for i, column in enumerate(_ROLE_COLUMN.values())
    for count in COUNTS
)
"""`COUNTS` by the person of each role (`complaints.staff.STAFF_FIELD`) instead of the department
(the root causes keep their department, for the improvement by department)."""
_ROLES = list(_ROLE_COLUMN)


def _branches(session: Session, zones: Mapping[str, str]) -> tuple[dict[int, str], dict[str, list[int]]]:
    """Branch id → code of the branches of ``zones``, and zone → their ids."""
    found = session.execute(select(BranchRow.id, BranchRow.code).where(BranchRow.code.in_(list(zones))))
    codes = {branch_id: code for branch_id, code in found}
    by_zone: dict[str, list[int]] = {}
    for branch_id, code in codes.items():
        by_zone.setdefault(zones[code], []).append(branch_id)
    return codes, by_zone


def staff_breakdown(session: Session, zones: Mapping[str, str], period: Period) -> list[StaffKpis]:
    """Each person's KPIs over ``period`` in the branches of ``zones`` (code → time zone), as
    `complaints.staff.StaffAccumulator` gives the figures of `complaints.staff.STAFF_FIGURES`."""
    codes, by_zone = _branches(session, zones)
    days = DayCounts.read(session, PEOPLE_FAMILY, STAFF_COUNTS, by_zone, period)
    people: dict[StaffKey, _Counting] = {}
    listed: set[StaffKey] = set()
    kinds = frozenset(count.kind for count in STAFF_COUNTS)
    for (branch_id, kind, name, key), n in days.summed(session, period, kinds).items():
        person = StaffKey(_ROLES[kind // 100 - 1], codes[branch_id].strip(), name.strip())
        if not person.name:
            continue
        counting = people.get(person)
        if counting is None:
            counting = people[person] = _Counting(period, codes, grouped=False)
        values = list(_values(key))
        dept = values.pop(0) if kind % 100 == CAUSE else ""
        _feed(counting, branch_id, kind % 100, dept, values, n)
        if kind % 100 in _LISTING:
            listed.add(person)
    stored = days.store(session.get_bind())  # type: ignore[arg-type]
    if stored:
        logger.info("staff figures of %d branch-days rolled up", stored)
    order = list(StaffRole)
    keys = sorted(listed, key=lambda k: (order.index(k.role), k.branch, k.name))
    return [StaffKpis(k, people[k].overall.result()) for k in keys]


def _count(session: Session, counting: _Counting, days: DayCounts) -> None:
    """Feed ``counting`` the tickets of the days of its period, summed over the days first."""
    kinds = _ALL_KINDS if counting.grouped else _ALL_KINDS - {TOUCHED}
    apart = None if counting.grouped else {CAUSE}  # overall only: the causes' departments still count
    for (branch_id, kind, dept, key), n in days.summed(session, counting.period, kinds, apart).items():
        _feed(counting, branch_id, kind, dept, _values(key), n)


def breakdown(
    session: Session, zones: Mapping[str, str], period: Period, months: Sequence[Period] = ()
) -> KpiBreakdown:
    """KPIs of the branches of ``zones`` (code → time zone) as `complaints.kpis.kpi_breakdown` gives them.

    Overall, per branch and per department over ``period``, and overall per month of ``months``.
    """
    codes, by_zone = _branches(session, zones)
    window = Period(
        min([period.first, *(m.first for m in months)]), max([period.end, *(m.end for m in months)])
    )
    days = DayCounts.read(session, DEPARTMENTS, COUNTS, by_zone, window)
    counting = _Counting(period, codes, grouped=True)
    _count(session, counting, days)
    overall = counting.overall.result()
    by_month = {}
    for month in months:
        if month == period:
            by_month[month.key()] = overall
            continue
        monthly = _Counting(month, codes, grouped=False)
        _count(session, monthly, days)
        by_month[month.key()] = monthly.overall.result()
    stored = days.store(session.get_bind())  # type: ignore[arg-type]
    if stored:
        logger.info("figures of %d branch-days rolled up", stored)
    return KpiBreakdown(
        overall,
        {k: v.result() for k, v in sorted(counting.by_branch.items())},
        {k: v.result() for k, v in sorted(counting.by_department.items())},
        by_month,
    )
