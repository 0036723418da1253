"""KPIs for a period (DESIGN §3.7), overall and per branch and department.

Each figure has its own population, all within the period ``[start, end)``:

- *received* figures — type distribution, resolution rate, root-cause
  improvement, red / yellow, repeat and group complaints — count tickets
  **received** in the period;
- satisfaction counts tickets **revisited** in the period;
- closed-loop timeliness and the median working days to close count tickets
  **closed** in the period;
- the on-time rate of a milestone counts tickets whose milestone **happened**
  in the period.

Cancelled tickets count only in ``cancelled``. Deadlines come from an
`SlaClock`. A deadline that is `PENDING` (its year's holiday calendar is not
published) makes the milestone **unknown**: it is counted in ``unknown`` and is
neither on time nor late, so it is left out of the rate's denominator.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from complaints.calendar import CalendarPendingError
from complaints.enums import Category, Labelled, Level, Satisfaction, Status
from complaints.model import Ticket
from complaints.sla import Deadlines, Due, SlaClock

logger = logging.getLogger(__name__)

Value = int | float | None


class Milestone(Labelled):
    """Milestones with a deadline whose on-time rate is reported."""

    ACKNOWLEDGE = ("acknowledge", "首次响应", "Acknowledgement")
    PLAN = ("plan", "方案沟通", "Plan communicated")
    RESOLVE = ("resolve", "处理完成", "Resolution")
    FEEDBACK = ("feedback", "结果反馈", "Result feedback")
    REVISIT = ("revisit", "回访", "Revisit")


_MILESTONE_FIELD: dict[Milestone, str] = {
    Milestone.ACKNOWLEDGE: "acknowledged_at",
    Milestone.PLAN: "plan_at",
    Milestone.RESOLVE: "resolved_at",
    Milestone.FEEDBACK: "feedback_at",
    Milestone.REVISIT: "revisited_at",
}


@dataclass(frozen=True, slots=True)
class Rate:
    """``hits`` out of ``total``; ``rate`` is None when ``total`` is 0.

    ``unknown`` counts tickets left out because a deadline is pending the calendar.
    """

    hits: int
    total: int
    rate: float | None
    unknown: int = 0

    @classmethod
    def of(cls, hits: int, total: int, unknown: int = 0) -> Rate:
        return cls(hits, total, hits / total if total else None, unknown)


@dataclass(frozen=True)
class Kpis:
    """The KPIs of one group of tickets over ``[start, end)``; see the module docstring."""

    start: datetime
    end: datetime
    received: int
    cancelled: int
    by_category: dict[Category, int]
    uncategorised: int
    resolution: Rate
    satisfaction: Rate
    satisfaction_counts: dict[Satisfaction, int]
    closed_loop: Rate
    median_workdays_to_close: float | None
    on_time: dict[Milestone, Rate]
    improvement: Rate
    improvement_by_department: dict[str, Rate]
    root_causes: dict[str, int]
    red: int
    yellow: int
    repeat_customers: int
    repeat_tickets: int
    groups: int
    group_tickets: int

    def as_rows(self, lang: str = "zh") -> list[tuple[str, Value]]:
        """(label, value) pairs in ``lang`` ("zh" or "en"); rates are fractions, None if n/a."""
        zh = lang == "zh"

        def label(zh_text: str, en_text: str, detail: str = "") -> str:
            head = zh_text if zh else en_text
            if not detail:
                return head
            return f"{head}：{detail}" if zh else f"{head}: {detail}"

        rows: list[tuple[str, Value]] = [
            (label("受理量", "Complaints received"), self.received),
            (label("已撤销", "Cancelled"), self.cancelled),
        ]
        rows += [(label("类型分布", "Type", c.label(lang)), n) for c, n in self.by_category.items()]
        rows.append((label("类型分布", "Type", "未分类" if zh else "Uncategorised"), self.uncategorised))
        rows.append((label("解决率", "Resolution rate"), self.resolution.rate))
        rows.append((label("满意度", "Satisfaction rate"), self.satisfaction.rate))
        rows += [(label("回访", "Revisit", s.label(lang)), n) for s, n in self.satisfaction_counts.items()]
        rows.append((label("闭环及时率", "Closed-loop timeliness"), self.closed_loop.rate))
        rows.append(
            (
                label("闭环及时性待定（节假日未发布）", "Closed-loop timeliness unknown (calendar pending)"),
                self.closed_loop.unknown,
            )
        )
        rows.append(
            (label("闭环用时中位数（工作日）", "Median working days to close"), self.median_workdays_to_close)
        )
        rows += [(label("按时率", "On-time rate", m.label(lang)), r.rate) for m, r in self.on_time.items()]
        rows.append((label("溯源改进率", "Root-cause improvement rate"), self.improvement.rate))
        rows += [
            (
                label("溯源改进率", "Root-cause improvement rate", dept or ("未分派" if zh else "Unrouted")),
                r.rate,
            )
            for dept, r in self.improvement_by_department.items()
        ]
        rows += [
            (label("红色预警", "Red warnings"), self.red),
            (label("黄色预警", "Yellow warnings"), self.yellow),
            (label("重复投诉客户", "Repeat complainants"), self.repeat_customers),
            (label("重复投诉单", "Repeat complaint tickets"), self.repeat_tickets),
            (label("群体投诉事件", "Group incidents"), self.groups),
            (label("群体投诉单", "Group complaint tickets"), self.group_tickets),
        ]
        return rows


@dataclass(frozen=True)
class KpiBreakdown:
    """KPIs overall and per group; department "" holds tickets not routed yet.

    Only groups with a ticket received, cancelled or reaching a milestone in the
    period are listed.
    """

    overall: Kpis
    by_branch: dict[str, Kpis]
    by_department: dict[str, Kpis]


def _check_period(start: datetime, end: datetime) -> None:
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"period {name} {moment.isoformat()} has no time zone")
    if not start < end:
        raise ValueError(f"period start {start.isoformat()} is not before its end {end.isoformat()}")


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end


def _is_cancelled(ticket: Ticket) -> bool:
    return ticket.status is Status.CANCELLED or ticket.cancelled_at is not None


def _normal_contact(contact: str) -> str:
    return "".join(ch for ch in contact if not ch.isspace() and ch != "-").casefold()


def _met(at: datetime | None, due: Due) -> bool | None:
    """On time (True), late (False) or unknown (None: deadline pending or not applicable)."""
    if at is None:
        return False
    if not isinstance(due, datetime):
        return None
    return at <= due


def _revisit_met(at: datetime, d: Deadlines) -> bool | None:
    """Revisited inside the window: neither too soon nor too late."""
    if not isinstance(d.revisit_from, datetime) or not isinstance(d.revisit_until, datetime):
        return None
    return d.revisit_from <= at <= d.revisit_until


def _milestone_met(ticket: Ticket, milestone: Milestone, d: Deadlines) -> bool | None:
    at = getattr(ticket, _MILESTONE_FIELD[milestone])
    if milestone is Milestone.REVISIT:
        return None if at is None else _revisit_met(at, d)
    return _met(at, d.as_dict()[milestone.value])


def _closed_loop_met(ticket: Ticket, d: Deadlines) -> bool | None:
    """Every deadline met; a milestone missing from a closed ticket is a missed deadline."""
    checks = [
        _met(getattr(ticket, _MILESTONE_FIELD[m]), d.as_dict()[m.value])
        for m in Milestone
        if m is not Milestone.REVISIT
    ]
    if ticket.revisited_at is not None:
        checks.append(_revisit_met(ticket.revisited_at, d))
    if any(c is False for c in checks):
        return False
    if any(c is None for c in checks):
        return None
    return True


def _rate(outcomes: Iterable[bool | None]) -> Rate:
    counts = Counter(outcomes)
    return Rate.of(counts[True], counts[True] + counts[False], counts[None])


class _DeadlineCache:
    """Deadlines per ticket, computed once even when a ticket is in several groups."""

    def __init__(self, clock: SlaClock) -> None:
        self.clock = clock
        self._cache: dict[int, Deadlines] = {}

    def __call__(self, ticket: Ticket) -> Deadlines:
        key = id(ticket)
        if key not in self._cache:
            self._cache[key] = self.clock.deadlines(ticket)
        return self._cache[key]


def _aggregate(
    tickets: list[Ticket],
    start: datetime,
    end: datetime,
    clock: SlaClock,
    deadlines: Callable[[Ticket], Deadlines],
) -> Kpis:
    live = [t for t in tickets if not _is_cancelled(t)]
    received = [t for t in live if _within(t.received_at, start, end)]
    cancelled = sum(1 for t in tickets if _is_cancelled(t) and _within(t.received_at, start, end))

    by_category = dict.fromkeys(Category, 0)
    for t in received:
        if t.category is not None:
            by_category[t.category] += 1

    revisited = [t for t in live if _within(t.revisited_at, start, end) and t.satisfaction is not None]
    satisfaction_counts = dict.fromkeys(Satisfaction, 0)
    for t in revisited:
        assert t.satisfaction is not None
        satisfaction_counts[t.satisfaction] += 1
    satisfied = (
        satisfaction_counts[Satisfaction.SATISFIED] + satisfaction_counts[Satisfaction.FAIRLY_SATISFIED]
    )

    closed = [t for t in live if _within(t.closed_at, start, end)]
    workdays = []
    for t in closed:
        assert t.closed_at is not None
        try:
            workdays.append(
                clock.calendar.workdays_between(
                    clock.local_date(t.received_at), clock.local_date(t.closed_at)
                )
            )
        except CalendarPendingError:
            logger.debug("working days to close of %s unknown: calendar pending", t.ticket_id)

    on_time = {
        m: _rate(
            _milestone_met(t, m, deadlines(t))
            for t in live
            if _within(getattr(t, _MILESTONE_FIELD[m]), start, end)
        )
        for m in Milestone
    }

    with_cause = [t for t in received if t.root_cause.strip()]
    by_department: dict[str, list[Ticket]] = {}
    for t in with_cause:
        by_department.setdefault(t.department.strip(), []).append(t)
    causes = Counter(t.root_cause.strip() for t in with_cause)

    contacts = Counter(_normal_contact(t.contact) for t in received if _normal_contact(t.contact))
    repeats = [n for n in contacts.values() if n >= 2]
    grouped = [t.group_id.strip() for t in received if t.group_id.strip()]

    return Kpis(
        start=start,
        end=end,
        received=len(received),
        cancelled=cancelled,
        by_category=by_category,
        uncategorised=sum(1 for t in received if t.category is None),
        resolution=Rate.of(sum(1 for t in received if t.resolved_at is not None), len(received)),
        satisfaction=Rate.of(satisfied, len(revisited)),
        satisfaction_counts=satisfaction_counts,
        closed_loop=_rate(_closed_loop_met(t, deadlines(t)) for t in closed),
        median_workdays_to_close=float(median(workdays)) if workdays else None,
        on_time=on_time,
        improvement=Rate.of(sum(1 for t in with_cause if t.improvement_done), len(with_cause)),
        improvement_by_department={
            dept: Rate.of(sum(1 for t in group if t.improvement_done), len(group))
            for dept, group in sorted(by_department.items())
        },
        root_causes=dict(sorted(causes.items(), key=lambda item: (-item[1], item[0]))),
        red=sum(1 for t in received if t.level is Level.RED),
        yellow=sum(1 for t in received if t.level is Level.YELLOW),
        repeat_customers=len(repeats),
        repeat_tickets=sum(repeats),
        groups=len(set(grouped)),
        group_tickets=len(grouped),
    )


def compute_kpis(tickets: Iterable[Ticket], start: datetime, end: datetime, clock: SlaClock) -> Kpis:
    """Compute the KPIs of ``tickets`` over ``[start, end)`` (aware datetimes).

    A milestone whose deadline is `PENDING` (calendar not published) counts as
    unknown — in ``Rate.unknown`` — never as on time or late.
    """
    _check_period(start, end)
    return _aggregate(list(tickets), start, end, clock, _DeadlineCache(clock))


def _active(ticket: Ticket, start: datetime, end: datetime) -> bool:
    moments = [ticket.received_at, ticket.closed_at, *(getattr(ticket, f) for f in _MILESTONE_FIELD.values())]
    return any(_within(m, start, end) for m in moments)


def kpi_breakdown(tickets: Iterable[Ticket], start: datetime, end: datetime, clock: SlaClock) -> KpiBreakdown:
    """Compute the KPIs overall, per branch and per department over ``[start, end)``.

    Pending deadlines count as unknown, as in `compute_kpis`.
    """
    _check_period(start, end)
    everything = list(tickets)
    cache = _DeadlineCache(clock)
    branches: dict[str, list[Ticket]] = {}
    departments: dict[str, list[Ticket]] = {}
    for t in everything:
        if _active(t, start, end):
            branches.setdefault(t.branch.strip(), []).append(t)
            departments.setdefault(t.department.strip(), []).append(t)
    return KpiBreakdown(
        overall=_aggregate(everything, start, end, clock, cache),
        by_branch={k: _aggregate(v, start, end, clock, cache) for k, v in sorted(branches.items())},
        by_department={k: _aggregate(v, start, end, clock, cache) for k, v in sorted(departments.items())},
    )
