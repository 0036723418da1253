"""Head-office analysis for a set of branches and a period: KPIs and the monthly analysis.

One data layer for the consolidated workbook, the dashboard and the scheduler's
monthly job, so every place shows the same figures. Everything is computed by
`complaints.kpis` (`BreakdownAccumulator`, `KpiAccumulator`); this module only selects
the tickets, streaming them from the database in batches as lean `Ticket`
objects (`server.storage.lean`: just the fields the KPI and deadline rules read).

Entry points:

- `analyse(session, branches, period, ...)` → `Analysis` (plain dataclasses);
- `month_period(year, month, tz)`, `date_period(start, end, tz)` and `Period`.

Populations (see `complaints.kpis`): KPIs count tickets received, revisited,
closed or reaching a milestone in the period; the type distribution and root
causes count tickets received in the period. Trends repeat the overall KPIs for
each calendar month of the trend window (the period's months, extended back to
``trend_months`` months).

Memory: tickets are read in batches (`server.storage.lean.BATCH`) and each is counted into
mergeable accumulators (`complaints.kpis.KpiAccumulator`: overall, per branch,
per department, per trend month) and then dropped; what stays is counts — per
category, outcome, department, root cause and measure, working-day count — plus
one entry per distinct phone number received in the period (repeat complaints
are exact) and per group id.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import Category
from complaints.kpis import (
    BreakdownAccumulator,
    KpiAccumulator,
    KpiBreakdown,
    Kpis,
    Rate,
    is_cancelled,
    memo_deadlines,
)
from complaints.model import Ticket
from complaints.sla import DEFAULT_TZ
from server.storage.lean import MOMENTS, stream_lean_tickets
from server.storage.models import BranchRow
from server.storage.rows import clock_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` with aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, moment in (("start", self.start), ("end", self.end)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"period {name} {moment.isoformat()} has no time zone")
        if not self.start < self.end:
            raise ValueError(
                f"period start {self.start.isoformat()} is not before its end {self.end.isoformat()}"
            )


def month_period(year: int, month: int, tz: str = DEFAULT_TZ) -> Period:
    """The calendar month ``year-month`` from local midnight of the 1st to that of the next month's."""
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return Period(start, end)


FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 1, 1)
"""Chosen periods lie within [FIRST_DAY, LAST_DAY]: centuries take minutes to build, year 9999 overflows."""


def date_period(start: date, end: date, tz: str = DEFAULT_TZ) -> Period:
    """Local dates ``start`` (included) to ``end`` (excluded) as a `Period` from local midnight."""
    if start < FIRST_DAY or end > LAST_DAY:
        raise ValueError(
            f"the period {start}–{end} is outside {FIRST_DAY}–{LAST_DAY} / "
            f"期间须在 {FIRST_DAY} 至 {LAST_DAY} 之间"
        )
    zone = ZoneInfo(tz)
    return Period(datetime.combine(start, time(), zone), datetime.combine(end, time(), zone))


def months_of(period: Period, tz: str, at_least: int = 1) -> list[Period]:
    """Calendar months (in ``tz``) overlapping ``period``, extended back to ``at_least`` months."""
    first = period.start.astimezone(ZoneInfo(tz))
    last = (period.end - timedelta(microseconds=1)).astimezone(ZoneInfo(tz))
    y, m = last.year, last.month
    months: list[Period] = []
    while True:
        months.append(month_period(y, m, tz))
        if months[-1].start <= first and len(months) >= at_least:
            return months[::-1]
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)


@dataclass(frozen=True, slots=True)
class RootCause:
    """A root cause of tickets received in the period, with its improvement measures and their status."""

    cause: str
    tickets: int
    improvement: Rate
    """Tickets whose improvement is done, out of those with this root cause (`complaints.kpis`)."""
    measures: tuple[tuple[str, int], ...]
    """Improvement measures recorded for this cause, most frequent first."""


@dataclass(frozen=True, slots=True)
class MonthTrend:
    """The overall KPIs of one calendar month."""

    month: str
    """``YYYY-MM``."""
    period: Period
    kpis: Kpis


@dataclass(frozen=True)
class Analysis:
    """KPIs and the monthly analysis of ``branches`` over ``period``."""

    branches: tuple[str, ...]
    period: Period
    timezone: str
    kpis: KpiBreakdown
    types_by_branch: dict[str, dict[Category, int]]
    root_causes: tuple[RootCause, ...]
    trends: tuple[MonthTrend, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def types(self) -> dict[Category, int]:
        """Type distribution of tickets received in the period (all chosen branches)."""
        return self.kpis.overall.by_category


class UnknownBranchError(ValueError):
    """A branch code that is not in the database."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.codes = tuple(codes)
        super().__init__(f"unknown branch code(s): {', '.join(codes)}")


def branch_zones(session: Session, codes: Sequence[str] | None) -> dict[str, str]:
    """Branch code → time zone for ``codes`` (all if None); `UnknownBranchError` names unknown codes."""
    stmt = select(BranchRow.code, BranchRow.timezone).order_by(BranchRow.code)
    if codes is not None:
        stmt = stmt.where(BranchRow.code.in_(list(codes)))
    zones = {code: tz for code, tz in session.execute(stmt)}
    if codes is not None:
        missing = [c for c in codes if c not in zones]
        if missing:
            raise UnknownBranchError(missing)
    return zones


class _RootCauseTally:
    """Per root cause of tickets received in the period: improvement done / total and measures."""

    __slots__ = ("done", "total", "measures")

    def __init__(self) -> None:
        self.done = self.total = 0
        self.measures: Counter[str] = Counter()


def analyse(
    session: Session,
    branches: Sequence[str] | None,
    period: Period,
    *,
    timezone: str = DEFAULT_TZ,
    calendar_path: str | None = None,
    trend_months: int = 6,
    tickets: Iterable[Ticket] | None = None,
) -> Analysis:
    """KPIs by branch and department, type distribution, root causes and monthly trends.

    ``branches`` are branch codes (None: every branch). Each branch's KPIs use
    its own time zone; the overall and per-department figures and the month
    boundaries use ``timezone`` (the same as each branch's when they all share
    one, the usual case — otherwise a note says so). ``tickets`` replaces the
    database read (for callers that already hold the tickets).
    """
    zones = branch_zones(session, branches)
    codes = tuple(zones)
    months = months_of(period, timezone, trend_months)
    window = Period(min(months[0].start, period.start), period.end)
    distinct = set(zones.values())
    notes: list[str] = []
    if len(distinct) == 1:
        timezone = distinct.pop()
    elif len(distinct) > 1:
        notes.append(
            f"branches use several time zones ({', '.join(sorted(distinct))}); overall and department "
            f"figures use {timezone}"
        )
    clock = clock_for(timezone, calendar_path)
    breakdown = BreakdownAccumulator(period.start, period.end, clock)
    # with several time zones each branch's own KPIs use its own clock
    own = {
        code: KpiAccumulator(period.start, period.end, clock_for(zones[code], calendar_path))
        for code in codes
    }
    if not notes:
        own.clear()
    # the period itself, when it is a calendar month, is the overall figure (None: not counted twice)
    trend = [None if m == period else KpiAccumulator(m.start, m.end, clock) for m in months]
    starts, trend_end = [m.start for m in months], months[-1].end
    causes: dict[str, _RootCauseTally] = {}
    if tickets is None:
        tickets = stream_lean_tickets(session, codes, window.start, window.end) if codes else ()
    count = 0
    for t in tickets:  # one at a time: only counts are kept (complaints.kpis.KpiAccumulator)
        count += 1
        deadlines = memo_deadlines(clock, t)
        breakdown.add(t, deadlines)
        if own and t.branch in own:
            own[t.branch].add(t)
        touched = {  # each ticket joins the months in which it has a moment
            bisect_right(starts, moment) - 1
            for moment in (getattr(t, key) for key in MOMENTS)
            if moment is not None and starts[0] <= moment < trend_end
        }
        for i in touched:
            slot = trend[i]
            if slot is not None:
                slot.add(t, deadlines)
        cause = t.root_cause.strip()
        if cause and period.start <= t.received_at < period.end:
            tally = causes.get(cause)
            if tally is None:
                tally = causes[cause] = _RootCauseTally()
            measure = t.improvement.strip()
            if measure:
                tally.measures[measure] += 1
            if not is_cancelled(t):  # the improvement rate counts live tickets only
                tally.done += bool(t.improvement_done)
                tally.total += 1
    logger.info("analysis of %d tickets for %s", count, ",".join(codes) or "no branches")
    result = breakdown.result()
    if own:
        by_branch = {code: own[code].result() for code in result.by_branch}
        result = KpiBreakdown(result.overall, by_branch, result.by_department)
    return Analysis(
        branches=codes,
        period=period,
        timezone=timezone,
        kpis=result,
        types_by_branch={code: k.by_category for code, k in result.by_branch.items()},
        root_causes=tuple(
            RootCause(
                cause,
                n,
                Rate.of(causes[cause].done, causes[cause].total),
                tuple(causes[cause].measures.most_common()),
            )
            for cause, n in result.overall.root_causes.items()
        ),
        trends=tuple(
            MonthTrend(f"{month.start:%Y-%m}", month, result.overall if slot is None else slot.result())
            for month, slot in zip(months, trend, strict=True)
        ),
        notes=tuple(notes),
    )
