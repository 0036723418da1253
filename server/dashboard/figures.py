"""The overview's figures for a period and a choice of branches.

Every KPI, the type distribution, the root causes and the monthly trends come
from `server.services.analysis.analyse` — the data layer the consolidated workbook uses —
so the dashboard and the workbook show the same numbers. Only the counts by
level and status and the "overdue now" tables are read here, straight from the
stored level, status and flags.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from threading import Lock
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from complaints.enums import Level, Status
from server.dashboard.queries import day_start, overdue_clause
from server.services import analysis
from server.storage.models import BranchRow, TicketRow

FINISHED = (Status.CLOSED.value, Status.REVISITED.value, Status.CANCELLED.value)
TREND_MONTHS = 6


@dataclass(frozen=True)
class Days:
    """Local days ``first`` to ``last`` inclusive, in ``zone`` (what the forms ask for)."""

    first: date
    last: date
    zone: str

    @property
    def start(self) -> datetime:
        return day_start(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1), self.zone)

    @property
    def period(self) -> analysis.Period:
        """The same ``[start, end)`` as ``GET /api/consolidated?start=first&end=last+1``."""
        return analysis.date_period(self.first, self.last + timedelta(days=1), self.zone)


@dataclass(frozen=True)
class Overdue:
    """Open and overdue tickets of one branch or department, now."""

    name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class Overview:
    days: Days
    by_level: dict[Level, int]
    by_status: dict[Status, int]
    analysis: analysis.Analysis
    overdue_by_branch: list[Overdue]
    overdue_by_department: list[Overdue]


def _scoped(stmt: Select[Any], branches: list[str]) -> Select[Any]:
    stmt = stmt.join(BranchRow, BranchRow.id == TicketRow.branch_id)
    return stmt.where(BranchRow.code.in_(branches)) if branches else stmt


def _counts(session: Session, column: Any, days: Days, branches: list[str]) -> Counter[str]:
    """Tickets received in the period per value of ``column``."""
    received = and_(TicketRow.received_at >= days.start, TicketRow.received_at < days.end)
    stmt = _scoped(select(column, func.count()), branches).where(received).group_by(column)
    return Counter({value: n for value, n in session.execute(stmt)})


def _overdue(session: Session, key: Any, branches: list[str]) -> list[Overdue]:
    """Open tickets and those of them with an overdue flag, per value of ``key``, most overdue first."""
    late = func.sum(case((overdue_clause(), 1), else_=0))
    stmt = (
        _scoped(select(key, func.count(), late), branches)
        .where(TicketRow.status.not_in(FINISHED))
        .group_by(key)
    )
    rows = [Overdue(name or "", n, int(k or 0)) for name, n, k in session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r.overdue, -r.open, r.name))


def data_version(session: Session) -> tuple[int, int]:
    """How many changes so far: every write to a ticket, task, log or conflict takes a change number."""
    total, branches = session.execute(
        select(func.coalesce(func.sum(BranchRow.change_seq), 0), func.count())
    ).one()
    return int(total), int(branches)


class FiguresCache:
    """The last few overviews, each valid until the data changes (see `data_version`)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Overview] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable) -> Overview | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: Overview) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def cached_overview(
    cache: FiguresCache, session: Session, days: Days, branches: list[str], calendar_path: str | None
) -> Overview:
    """`overview`, computed again only when the data, the period or the branches differ."""
    key = (days, tuple(sorted(branches)), calendar_path, data_version(session))
    found = cache.get(key)
    if found is None:
        found = overview(session, days, branches, calendar_path)
        cache.put(key, found)
    return found


def overview(session: Session, days: Days, branches: list[str], calendar_path: str | None) -> Overview:
    """Every figure of the overview page for ``days`` and ``branches`` (empty: all)."""
    levels = _counts(session, TicketRow.level, days, branches)
    statuses = _counts(session, TicketRow.status, days, branches)
    return Overview(
        days=days,
        by_level={lv: levels.get(lv.value, 0) for lv in Level},
        by_status={s: statuses.get(s.value, 0) for s in Status},
        analysis=analysis.analyse(
            session,
            branches or None,
            days.period,
            timezone=days.zone,
            calendar_path=calendar_path,
            trend_months=TREND_MONTHS,
        ),
        overdue_by_branch=_overdue(session, BranchRow.code, branches),
        overdue_by_department=_overdue(session, TicketRow.department, branches),
    )
