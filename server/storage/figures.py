"""The head-office figures counted by the database: GROUP BY over stored columns, no ticket decoded.

`complaints.kpis` defines every figure and counts it ticket by ticket (the
reference, `server.services.analysis.reference_analysis`). Here the database
counts the same populations — tickets received, revisited, closed, reaching a
milestone in the period, each branch in its own local days — grouped by what
the figures tell apart (branch, department, profile, outcome), and the
`KpiAccumulator`s are fed those counts (``count_*``), so ``result()`` builds
the same `Kpis`. Texts are grouped as stored and trimmed by the accumulators,
so blanks are told apart exactly as Python's `str.strip` does.

What the rules compute at write time comes from stored columns: status, level,
flags and level basis (last write or flag scan), the deadlines and
``close_workdays`` (the one service writes them with every change).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Text, and_, case, func, literal, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from complaints.enums import Level, Status
from complaints.figures import Milestone
from complaints.kpis import MOMENTS, KpiAccumulator, KpiBreakdown
from complaints.levels import Basis
from complaints.periods import Period
from complaints.selections import OVERDUE_FLAGS, REVISIT_FLAGS, Profile
from server.storage.models import BranchRow, tickets_table
from server.storage.rows import from_db

t = tickets_table.c
WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
"""What `str.strip` removes: a text of only these is blank."""


class _strip(FunctionElement[str]):
    """``text`` without leading and trailing ``chars`` (SQLite ``trim``, PostgreSQL ``btrim``)."""

    type = Text()
    name = "strip"
    inherit_cache = True


@compiles(_strip)
def _strip_sqlite(element: _strip, compiler: Any, **kw: Any) -> str:
    return f"trim({compiler.process(element.clauses, **kw)})"


@compiles(_strip, "postgresql")
def _strip_postgresql(element: _strip, compiler: Any, **kw: Any) -> str:
    return f"btrim({compiler.process(element.clauses, **kw)})"


def _blank(column: Any) -> ColumnElement[bool]:
    """The column holds nothing but white space (as `complaints.selections.is_blank`)."""
    return func.coalesce(_strip(column, literal(WHITESPACE, Text)), "") == ""


def _has_token(column: Any, token: str) -> ColumnElement[bool]:
    """``token`` is one of the comma-separated values of ``column`` (flags, level basis)."""
    listed = literal(",", Text) + func.coalesce(column, "") + literal(",", Text)
    return listed.contains(f",{token},", autoescape=True)


CANCELLED = or_(func.coalesce(t.status, "") == Status.CANCELLED.value, t.cancelled_at.is_not(None))
LIVE = not_(CANCELLED)
OVERDUE = or_(*(_has_token(t.flags, str(f)) for f in sorted(OVERDUE_FLAGS)))
REVISIT_DUE = or_(*(_has_token(t.flags, str(f)) for f in sorted(REVISIT_FLAGS)))
GROUPED = not_(_blank(t.group_id))
REPEAT = _has_token(t.level_basis, Basis.REPEAT)
RESOLVED = and_(LIVE, t.resolved_at.is_not(None))

_MILESTONE_AT: dict[Milestone, Any] = {
    Milestone.ACKNOWLEDGE: (t.acknowledged_at, t.ack_due),
    Milestone.PLAN: (t.plan_at, t.plan_due),
    Milestone.RESOLVE: (t.resolved_at, t.resolve_due),
    Milestone.FEEDBACK: (t.feedback_at, t.feedback_due),
}


def _late(at: Any, due: Any) -> ColumnElement[bool]:
    """As `complaints.kpis._met` is False: not reached, or reached after a known deadline."""
    return or_(at.is_(None), and_(due.is_not(None), at > due))


def _unknown(at: Any, due: Any) -> ColumnElement[bool]:
    """As `complaints.kpis._met` is None: reached, with the deadline pending the calendar."""
    return and_(at.is_not(None), due.is_(None))


def _outcome(on_time: Any, unknown: Any) -> Any:
    """1 on time, 0 late, NULL unknown."""
    return case((unknown, None), (on_time, 1), else_=0)


_REVISIT_UNKNOWN = or_(t.revisit_from.is_(None), t.revisit_until.is_(None))
_REVISIT_ON_TIME = and_(t.revisit_from <= t.revisited_at, t.revisited_at <= t.revisit_until)
MILESTONE_OUTCOME: dict[Milestone, Any] = {
    **{m: _outcome(at <= due, due.is_(None)) for m, (at, due) in _MILESTONE_AT.items()},
    Milestone.REVISIT: _outcome(_REVISIT_ON_TIME, _REVISIT_UNKNOWN),
}
"""Outcome of a milestone reached (its moment is set), as `complaints.kpis._milestone_met`."""

_revisited = t.revisited_at.is_not(None)
CLOSED_LOOP = case(
    (
        or_(
            *(_late(at, due) for at, due in _MILESTONE_AT.values()),
            and_(_revisited, not_(_REVISIT_UNKNOWN), not_(_REVISIT_ON_TIME)),
        ),
        0,
    ),
    (
        or_(*(_unknown(at, due) for at, due in _MILESTONE_AT.values()), and_(_revisited, _REVISIT_UNKNOWN)),
        None,
    ),
    else_=1,
).cast(Integer)
"""Every deadline met, as `complaints.kpis._closed_loop_met`: 1, 0, or NULL (unknown)."""

_MOMENT_COLUMN: dict[Milestone, Any] = {
    Milestone.ACKNOWLEDGE: t.acknowledged_at,
    Milestone.PLAN: t.plan_at,
    Milestone.RESOLVE: t.resolved_at,
    Milestone.FEEDBACK: t.feedback_at,
    Milestone.REVISIT: t.revisited_at,
}


def _outcome_of(value: Any) -> bool | None:
    return None if value is None else bool(value)


class _Counting:
    """The accumulators one aggregated row goes into: overall, and its branch's and department's."""

    def __init__(self, period: Period, codes: Mapping[int, str], grouped: bool) -> None:
        self.period = period
        self.codes = codes
        self.grouped = grouped
        self.overall = KpiAccumulator(period)
        self.by_branch: dict[str, KpiAccumulator] = {}
        self.by_department: dict[str, KpiAccumulator] = {}

    def targets(self, branch_id: int, department: str | None) -> list[KpiAccumulator]:
        if not self.grouped:
            return [self.overall]
        found = [self.overall]
        for groups, key in (
            (self.by_branch, self.codes[branch_id].strip()),
            (self.by_department, (department or "").strip()),
        ):
            group = groups.get(key)
            if group is None:
                group = groups[key] = KpiAccumulator(self.period)
            found.append(group)
        return found


def _in_period(column: Any, period: Period, zones: Mapping[str, Sequence[int]]) -> ColumnElement[bool]:
    """``column`` falls in ``period``, each branch's in its own local days (``zones``: zone → branch ids)."""
    parts = []
    for zone, ids in zones.items():
        start, end = period.bounds(zone)
        parts.append(and_(t.branch_id.in_(list(ids)), column >= start, column < end))
    return or_(*parts)


def _count(
    session: Session,
    counting: _Counting,
    zones: Mapping[str, Sequence[int]],
) -> None:
    period, grouped = counting.period, counting.grouped
    keys = [t.branch_id, t.department]  # the department also keys the improvement rate of each month

    def rows(where: Iterable[Any], *columns: Any, distinct: bool = False, sums: Sequence[Any] = ()) -> Any:
        """(branch id, department, *columns, count, *sums) per distinct value, or the distinct values."""
        stmt = select(*keys, *columns).where(*where)
        if distinct:
            return session.execute(stmt.distinct())
        return session.execute(stmt.add_columns(func.count(), *sums).group_by(*keys, *columns))

    received = _in_period(t.received_at, period, zones)
    profile = (
        CANCELLED,
        t.status,
        t.level,
        t.category,
        OVERDUE,
        REVISIT_DUE,
        GROUPED,
        REPEAT,
        t.training_case,
    )
    for branch_id, dept, cancelled, status, level, category, *marks, n, resolved in rows(
        [received], *profile, sums=[func.sum(case((RESOLVED, 1), else_=0))]
    ):
        p = Profile(
            bool(cancelled),
            from_db("status", status) or Status.NEW,
            from_db("level", level) or Level.BLUE,
            from_db("category", category),
            *(bool(m) for m in marks),
        )
        for acc in counting.targets(branch_id, dept):
            acc.count_received(p, n, int(resolved or 0))
    live_received = [LIVE, received]
    causes = (t.root_cause, t.improvement, t.improvement_done)
    for branch_id, dept, cause, measure, done, n in rows(
        [*live_received, func.coalesce(t.root_cause, "") != ""], *causes
    ):
        for acc in counting.targets(branch_id, dept):
            acc.count_cause(dept or "", cause, measure or "", bool(done), n)
    for branch_id, dept, contact in rows([*live_received, REPEAT], t.contact, distinct=True):
        for acc in counting.targets(branch_id, dept):
            acc.count_repeat_customer(contact or "")
    for branch_id, dept, group_id in rows([*live_received, GROUPED], t.group_id, distinct=True):
        for acc in counting.targets(branch_id, dept):
            acc.count_group(group_id)
    revisited = [LIVE, _in_period(t.revisited_at, period, zones), t.satisfaction.is_not(None)]
    for branch_id, dept, satisfaction, n in rows(revisited, t.satisfaction):
        for acc in counting.targets(branch_id, dept):
            acc.count_revisited(from_db("satisfaction", satisfaction), n)
    closed = [LIVE, _in_period(t.closed_at, period, zones)]
    for branch_id, dept, met, days, n in rows(closed, CLOSED_LOOP, t.close_workdays):
        for acc in counting.targets(branch_id, dept):
            acc.count_closed(_outcome_of(met), days, n)
    for milestone, column in _MOMENT_COLUMN.items():
        reached = [LIVE, _in_period(column, period, zones)]
        for branch_id, dept, met, n in rows(reached, MILESTONE_OUTCOME[milestone].cast(Integer)):
            for acc in counting.targets(branch_id, dept):
                acc.count_milestone(milestone, _outcome_of(met), n)
    if grouped:  # cancelled tickets with a moment in the period list their branch and department
        active = or_(*(_in_period(t[m], period, zones) for m in MOMENTS[1:]))
        for branch_id, dept in rows([CANCELLED, active], distinct=True):
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
