"""The head-office figures counted by the database, from a narrow row of facts kept beside each ticket.

`complaints.kpis` defines every figure and counts it ticket by ticket (the
reference, `server.services.analysis.reference_analysis`). The one service
also stores, with every ticket it writes, the ticket's `complaints.kpis.Facts`
(``ticket_figures``: profile (major grade included), milestone outcomes, working days to close, the
customer of a repeat complaint, the group of a group complaint). Here the
database counts those rows — received, revisited, closed, reaching a milestone
in the period, each branch in its own local days — grouped by what the figures
tell apart, and the `KpiAccumulator`s are fed the counts (``count_*``), so
``result()`` builds the same `Kpis` without decoding a ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from complaints.enums import Flag
from complaints.figures import Milestone
from complaints.kpis import Facts, KpiAccumulator, KpiBreakdown, facts
from complaints.model import Ticket
from complaints.periods import Period
from complaints.rootcause import has_root_cause, improved
from complaints.selections import Profile
from complaints.sla import Deadlines, SlaClock
from server.storage.models import FIGURE_MOMENTS, BranchRow, figures_table, tickets_table
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
        **{moment: getattr(ticket, moment) for moment in FIGURE_MOMENTS},
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
        **{f"{m.value}_met": _code(found.met.get(m)) for m in Milestone},
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
    }
    return row


def write_figure_rows(connection: Connection, rows: list[dict[str, Any]], new: bool = False) -> None:
    """Store the rows of `figure_row`, replacing those of the same tickets (``new``: there are none)."""
    for part in chunks(rows, BATCH):
        if not new:
            connection.execute(delete(figures_table).where(f.sync_key.in_([r["sync_key"] for r in part])))
        insert_rows(connection, figures_table, part)


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
        last = ""
        while True:
            part = connection.execute(query.where(t.sync_key > last).limit(BATCH)).all()
            if not part:
                break
            rows = []
            for r in part:
                ticket = ticket_of(r, code)
                rows.append(figure_row(r.sync_key, branch_id, ticket, clock.deadlines(ticket), clock))
            write_figure_rows(connection, rows, new=True)
            done += len(rows)
            last = part[-1].sync_key
        if done:
            logger.info("figures of branch %s filled (%d tickets so far)", code, done)
    return done


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


def _in_period(column: Any, period: Period, zones: Mapping[str, Sequence[int]]) -> ColumnElement[bool]:
    """``column`` falls in ``period``, each branch's in its own local days (``zones``: zone → branch ids)."""
    parts = []
    for zone, ids in zones.items():
        start, end = period.bounds(zone)
        parts.append(and_(f.branch_id.in_(list(ids)), column >= start, column < end))
    return or_(*parts)


_PROFILE = (f.cancelled, f.status, f.level, f.category, f.overdue, f.revisit_due, f.grouped, f.repeat)
_PROFILE += (f.training, f.major)
_RECEIVED = (*_PROFILE, f.resolved, f.root_cause, f.improvement, f.improved, f.customer, f.group_id)
_RECEIVED += (f.fishbone, f.measure_status, f.measure_overdue)


def _profile(cancelled: Any, status: Any, level: Any, category: Any, *marks: Any) -> Profile:
    return Profile(
        bool(cancelled),
        from_db("status", status),
        from_db("level", level),
        from_db("category", category),
        *(bool(m) for m in marks),
    )


def _count(session: Session, counting: _Counting, zones: Mapping[str, Sequence[int]]) -> None:
    period = counting.period

    def rows(where: Iterable[Any], *columns: Any) -> Any:
        """(branch id, department, *columns, count) of each distinct value."""
        keys = (f.branch_id, f.department, *columns)
        stmt = select(*keys, func.count()).where(*where).group_by(*keys)
        return session.execute(stmt)

    profiles: dict[tuple[Any, ...], Profile] = {}
    for branch_id, dept, *values, n in rows([_in_period(f.received_at, period, zones)], *_RECEIVED):
        marks, (resolved, cause, measure, effective, customer, group, *state) = (
            tuple(values[: len(_PROFILE)]),
            values[len(_PROFILE) :],
        )
        p = profiles.get(marks)
        if p is None:
            p = profiles[marks] = _profile(*marks)
        for acc in counting.targets(branch_id, dept):
            acc.count_received(p, n, n if resolved else 0)
            if not p.cancelled:
                traced = bool(cause.strip()) or state[0] is not None
                acc.count_cause(dept, cause, measure, _outcome(effective), n, traced)
                acc.count_measure(
                    from_db("fishbone", state[0]), from_db("measure_status", state[1]), state[2], n
                )
                acc.count_repeat_customer(customer)
                if group:
                    acc.count_group(group)
    live = f.cancelled.is_(False)
    major = [live, f.major.is_(True), f.plan_at.is_not(None), _in_period(f.received_at, period, zones)]
    for branch_id, dept, met, n in rows(major, f.plan_met):
        for acc in counting.targets(branch_id, dept):
            acc.count_major_plan(_outcome(met), n)
    revisited = [live, _in_period(f.revisited_at, period, zones)]
    for branch_id, dept, satisfaction, met, n in rows(revisited, f.satisfaction, f.revisit_met):
        for acc in counting.targets(branch_id, dept):
            if satisfaction is not None:
                acc.count_revisited(from_db("satisfaction", satisfaction), n)
            acc.count_milestone(Milestone.REVISIT, _outcome(met), n)
    answered = [live, f.satisfaction.is_not(None), _in_period(f.group_answered_at, period, zones)]
    for branch_id, dept, satisfaction, n in rows(answered, f.satisfaction):
        for acc in counting.targets(branch_id, dept):
            acc.count_group_revisit(from_db("satisfaction", satisfaction), n)
    closed = [live, _in_period(f.closed_at, period, zones)]
    for branch_id, dept, met, days, n in rows(closed, f.closed_loop_met, f.close_workdays):
        for acc in counting.targets(branch_id, dept):
            acc.count_closed(_outcome(met), days, n)
    for milestone, column in _AT.items():
        if milestone is Milestone.REVISIT:
            continue
        for branch_id, dept, met, n in rows([live, _in_period(column, period, zones)], _MET[milestone]):
            for acc in counting.targets(branch_id, dept):
                acc.count_milestone(milestone, _outcome(met), n)
    if (
        counting.grouped
    ):  # cancelled tickets (few: a partial index) with a moment in the period list their groups
        bounds = {branch_id: period.bounds(zone) for zone, ids in zones.items() for branch_id in ids}
        moments = [f[m] for m in FIGURE_MOMENTS[1:]]
        stmt = select(f.branch_id, f.department, *moments).where(
            f.cancelled.is_(True), f.branch_id.in_(list(bounds))
        )
        for branch_id, dept, *ats in session.execute(stmt):
            start, end = bounds[branch_id]
            if any(at is not None and start <= at < end for at in ats):
                counting.targets(branch_id, dept)


def breakdown(
    session: Session, zones: Mapping[str, str], period: Period, months: Sequence[Period] = ()
) -> KpiBreakdown:
    """KPIs of the branches of ``zones`` (code → time zone) as `complaints.kpis.kpi_breakdown` gives them.

    Overall, per branch and per department over ``period``, and overall per month of ``months``.
    """
    found = session.execute(select(BranchRow.id, BranchRow.code).where(BranchRow.code.in_(list(zones))))
    codes = {branch_id: code for branch_id, code in found}
    by_zone: dict[str, list[int]] = {}
    for branch_id, code in codes.items():
        by_zone.setdefault(zones[code], []).append(branch_id)
    counting = _Counting(period, codes, grouped=True)
    if by_zone:
        _count(session, counting, by_zone)
    overall = counting.overall.result()
    by_month = {}
    for month in months:
        if month == period:
            by_month[month.key()] = overall
            continue
        monthly = _Counting(month, codes, grouped=False)
        if by_zone:
            _count(session, monthly, by_zone)
        by_month[month.key()] = monthly.overall.result()
    return KpiBreakdown(
        overall,
        {k: v.result() for k, v in sorted(counting.by_branch.items())},
        {k: v.result() for k, v in sorted(counting.by_department.items())},
        by_month,
    )
