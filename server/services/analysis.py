"""Head-office analysis for a set of branches and a period: the figures of the dashboard and the workbooks.

One data layer for the consolidated workbook, the dashboard and the scheduler's
monthly job, so every place shows the same figures. What each figure counts is
defined in `complaints.figures`; the counting is `complaints.kpis`
(`BreakdownAccumulator`); this module picks the branches, each with the clock
of its own time zone, and streams their tickets from the database
(`server.storage.lean`). Memory stays bounded: only counts are kept (see
`complaints.kpis.KpiAccumulator`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import Category
from complaints.kpis import BreakdownAccumulator, KpiBreakdown, Kpis, RootCause
from complaints.model import Ticket
from complaints.periods import Period
from server.storage import figures
from server.storage.lean import stream_lean_tickets
from server.storage.models import BranchRow
from server.storage.rows import clock_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MonthTrend:
    """The overall KPIs of one calendar month."""

    month: str
    """``YYYY-MM``."""
    kpis: Kpis


@dataclass(frozen=True)
class Analysis:
    """KPIs and the monthly analysis of ``branches`` over ``period``."""

    branches: tuple[str, ...]
    zones: dict[str, str]
    """Branch code → time zone: each branch's tickets are placed in its own local days."""
    period: Period
    kpis: KpiBreakdown

    @property
    def types(self) -> dict[Category, int]:
        """Type distribution of tickets received in the period (all chosen branches)."""
        return self.kpis.overall.by_category

    @property
    def types_by_branch(self) -> dict[str, dict[Category, int]]:
        return {code: k.by_category for code, k in self.kpis.by_branch.items()}

    @property
    def root_causes(self) -> tuple[RootCause, ...]:
        return self.kpis.overall.root_causes

    @property
    def trends(self) -> tuple[MonthTrend, ...]:
        """The overall KPIs of each calendar month of the trend window, oldest first."""
        return tuple(MonthTrend(month, k) for month, k in self.kpis.by_month.items())


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


def analyse(
    session: Session,
    branches: Sequence[str] | None,
    period: Period,
    *,
    calendar_path: str | None = None,
    trend_months: int = 6,
    tickets: Iterable[Ticket] | None = None,
) -> Analysis:
    """KPIs overall, by branch, department and month (the trend window), with type distribution and causes.

    ``branches`` are branch codes (None: every branch). Trends follow the
    calendar months of the period, extended back to ``trend_months`` months.
    The database counts (`server.storage.figures`: the same figures as
    `reference_analysis`, without reading every ticket); ``tickets`` instead
    counts those tickets one by one (for callers that already hold the tickets
    of those branches).
    """
    if tickets is not None:
        return reference_analysis(
            session, branches, period, calendar_path=calendar_path, trend_months=trend_months, tickets=tickets
        )
    zones = branch_zones(session, branches)
    kpis = figures.breakdown(session, zones, period, period.months(trend_months))
    logger.info("analysis of %s counted by the database", ",".join(zones) or "no branches")
    return Analysis(tuple(zones), zones, period, kpis)


def reference_analysis(
    session: Session,
    branches: Sequence[str] | None,
    period: Period,
    *,
    calendar_path: str | None = None,
    trend_months: int = 6,
    tickets: Iterable[Ticket] | None = None,
) -> Analysis:
    """`analyse` ticket by ticket: every ticket of the window decoded and counted by `complaints.kpis`.

    The reference the database's counts are proved equal to (tests, benchmarks).
    """
    zones = branch_zones(session, branches)
    months = period.months(trend_months)
    # the trend months are whole calendar months, also past the period's end
    window = Period(min(months[0].first, period.first), max(months[-1].end, period.end))
    clocks = {code: clock_for(zone, calendar_path) for code, zone in zones.items()}
    accumulator = BreakdownAccumulator(period, months)
    if tickets is None:
        tickets = stream_lean_tickets(session, zones, window) if zones else ()
    count = 0
    for t in tickets:  # one at a time: only counts are kept
        count += 1
        accumulator.add(t, clocks[t.branch])
    logger.info("analysis of %d tickets for %s", count, ",".join(zones) or "no branches")
    return Analysis(tuple(zones), zones, period, accumulator.result())
