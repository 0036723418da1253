"""The overview's figures for a period and a choice of branches.

KPIs come from `complaints.kpis.kpi_breakdown` over the tickets active in the
period; counts and the "overdue now" tables come straight from the stored
status and flags.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from complaints.enums import Level, Status
from complaints.kpis import KpiBreakdown, kpi_breakdown
from complaints.model import Ticket
from complaints.sla import SlaClock
from server.dashboard.queries import day_start, overdue_clause
from server.models import BranchRow, TicketRow
from server.store import row_to_ticket

FINISHED = (Status.CLOSED.value, Status.REVISITED.value, Status.CANCELLED.value)
ACTIVITY = (
    "received_at",
    "acknowledged_at",
    "plan_at",
    "resolved_at",
    "feedback_at",
    "closed_at",
    "revisited_at",
)


@dataclass(frozen=True)
class Period:
    """Local days ``first`` to ``last`` inclusive, in ``zone``."""

    first: date
    last: date
    zone: str

    @property
    def start(self) -> datetime:
        return day_start(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1), self.zone)


@dataclass(frozen=True)
class Overdue:
    """Open and overdue tickets of one branch or department, now."""

    name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class TrendPoint:
    label: str
    received: int
    closed: int


@dataclass(frozen=True)
class Overview:
    period: Period
    by_level: dict[Level, int]
    by_status: dict[Status, int]
    kpis: KpiBreakdown
    overdue_by_branch: list[Overdue]
    overdue_by_department: list[Overdue]
    trend: list[TrendPoint]


def _scoped(stmt: Select, branches: list[str]) -> Select:
    stmt = stmt.join(BranchRow, BranchRow.id == TicketRow.branch_id)
    return stmt.where(BranchRow.code.in_(branches)) if branches else stmt


def _received_in(period: Period):  # noqa: ANN202 - a SQL expression
    return and_(TicketRow.received_at >= period.start, TicketRow.received_at < period.end)


def active_tickets(session: Session, period: Period, branches: list[str]) -> list[Ticket]:
    """Tickets received, cancelled or reaching a milestone in the period (what the KPIs count)."""
    moments = [getattr(TicketRow, name) for name in ACTIVITY]
    stmt = _scoped(select(TicketRow, BranchRow.code), branches).where(
        or_(*(and_(m >= period.start, m < period.end) for m in moments))
    )
    return [row_to_ticket(row, code) for row, code in session.execute(stmt)]


def _counts(session: Session, column, period: Period, branches: list[str]) -> Counter[str]:  # noqa: ANN001
    stmt = _scoped(select(column, func.count()), branches).where(_received_in(period)).group_by(column)
    return Counter({value: n for value, n in session.execute(stmt)})


def _overdue(session: Session, key, branches: list[str], blank: str) -> list[Overdue]:  # noqa: ANN001
    is_overdue = func.sum(case((overdue_clause(), 1), else_=0))
    stmt = (
        _scoped(select(key, func.count(), is_overdue), branches)
        .where(TicketRow.status.not_in(FINISHED))
        .group_by(key)
    )
    rows = [Overdue(name or blank, n, int(late or 0)) for name, n, late in session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r.overdue, -r.open, r.name))


def _trend(tickets: list[Ticket], period: Period) -> list[TrendPoint]:
    """Received and closed per day, or per month for periods longer than two months."""
    zone = ZoneInfo(period.zone)
    monthly = (period.last - period.first).days > 62

    def bucket(moment: datetime) -> str:
        local = moment.astimezone(zone).date()
        return f"{local:%Y-%m}" if monthly else local.isoformat()

    labels: list[str] = []
    day = period.first
    while day <= period.last:
        label = f"{day:%Y-%m}" if monthly else day.isoformat()
        if not labels or labels[-1] != label:
            labels.append(label)
        day += timedelta(days=1)
    start, end = period.start, period.end
    received = Counter(bucket(t.received_at) for t in tickets if start <= t.received_at < end)
    closed = Counter(
        bucket(t.closed_at) for t in tickets if t.closed_at is not None and start <= t.closed_at < end
    )
    return [TrendPoint(label, received[label], closed[label]) for label in labels]


def overview(
    session: Session, period: Period, branches: list[str], clock: SlaClock, unrouted: str
) -> Overview:
    """Every figure of the overview page for ``period`` and ``branches`` (empty: all)."""
    tickets = active_tickets(session, period, branches)
    levels = _counts(session, TicketRow.level, period, branches)
    statuses = _counts(session, TicketRow.status, period, branches)
    return Overview(
        period=period,
        by_level={lv: levels.get(lv.value, 0) for lv in Level},
        by_status={s: statuses.get(s.value, 0) for s in Status},
        kpis=kpi_breakdown(tickets, period.start, period.end, clock),
        overdue_by_branch=_overdue(session, BranchRow.code, branches, ""),
        overdue_by_department=_overdue(session, TicketRow.department, branches, unrouted),
        trend=_trend(tickets, period),
    )
