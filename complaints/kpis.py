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


def is_cancelled(ticket: Ticket) -> bool:
    return ticket.status is Status.CANCELLED or ticket.cancelled_at is not None


def _normal_contact(contact: str) -> str:
    if contact.isdigit():  # the usual case: nothing to remove or fold
        return contact
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
    return _met(at, getattr(d, milestone.value))  # as d.as_dict()[milestone.value], without the dict


def _closed_loop_met(ticket: Ticket, d: Deadlines) -> bool | None:
    """Every deadline met; a milestone missing from a closed ticket is a missed deadline."""
    checks = [
        _met(getattr(ticket, _MILESTONE_FIELD[m]), getattr(d, m.value))
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


_ACTIVE_FIELDS = ("closed_at", *_MILESTONE_FIELD.values())


class _Tally:
    """On time / late / unknown counts of one rate; `rate` gives the `Rate`."""

    __slots__ = ("hits", "misses", "unknown")

    def __init__(self) -> None:
        self.hits = self.misses = self.unknown = 0

    def add(self, outcome: bool | None) -> None:
        if outcome is None:
            self.unknown += 1
        elif outcome:
            self.hits += 1
        else:
            self.misses += 1

    def merge(self, other: _Tally) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.unknown += other.unknown

    def rate(self) -> Rate:
        return Rate.of(self.hits, self.hits + self.misses, self.unknown)


def _median(counts: Counter[int]) -> float | None:
    """The median of the values counted in ``counts`` (as `statistics.median`, as a float)."""
    n = sum(counts.values())
    if not n:
        return None
    wanted = (n - 1) // 2, n // 2  # positions of the middle value(s) in sorted order
    found: list[int] = []
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        while len(found) < 2 and wanted[len(found)] < seen:
            found.append(value)
        if len(found) == 2:
            break
    low, high = found
    return float(low) if n % 2 else float((low + high) / 2)


class KpiAccumulator:
    """The KPIs of a stream of tickets over ``[start, end)``, one ticket at a time, in bounded memory.

    It keeps counts only — per category, per satisfaction, per milestone
    outcome, per department and root cause, per working-day count (for the
    median), per normalised contact (for repeat complaints) and the set of
    group ids — never the tickets. `merge` adds another accumulator of the
    same period (e.g. per-branch accumulators into an overall one); `result`
    gives the same `Kpis` as `compute_kpis` over all the tickets added.
    """

    def __init__(self, start: datetime, end: datetime, clock: SlaClock) -> None:
        _check_period(start, end)
        self.start, self.end, self.clock = start, end, clock
        self.received = 0
        self.cancelled = 0
        self.by_category: dict[Category, int] = dict.fromkeys(Category, 0)
        self.uncategorised = 0
        self.resolved = 0
        self.satisfaction_counts: dict[Satisfaction, int] = dict.fromkeys(Satisfaction, 0)
        self.closed_loop = _Tally()
        self.workdays: Counter[int] = Counter()
        self.on_time: dict[Milestone, _Tally] = {m: _Tally() for m in Milestone}
        self.improved: dict[str, list[int]] = {}  # department → [done, with a root cause]
        self.root_causes: Counter[str] = Counter()
        self.red = 0
        self.yellow = 0
        self.contacts: Counter[str] = Counter()
        self.group_ids: set[str] = set()
        self.group_tickets = 0

    def add(self, ticket: Ticket, deadlines: Callable[[], Deadlines] | None = None) -> bool:
        """Count ``ticket``; True if it takes part in the period (received, cancelled or a milestone in it).

        ``deadlines`` gives the ticket's deadlines when needed (computed from
        this accumulator's clock if None); pass one memoised callable when the
        ticket goes into several accumulators with the same clock.
        """
        start, end = self.start, self.end
        received_in = start <= ticket.received_at < end
        if is_cancelled(ticket):  # counted only as cancelled, but its group is still listed
            if received_in:
                self.cancelled += 1
                return True
            return any(_within(getattr(ticket, f), start, end) for f in _ACTIVE_FIELDS)
        due = deadlines if deadlines is not None else memo_deadlines(self.clock, ticket)
        active = received_in
        if received_in:
            self._add_received(ticket)
        revisited_at = ticket.revisited_at
        if revisited_at is not None and start <= revisited_at < end:
            active = True
            if ticket.satisfaction is not None:
                self.satisfaction_counts[ticket.satisfaction] += 1
        closed_at = ticket.closed_at
        if closed_at is not None and start <= closed_at < end:
            active = True
            try:
                clock = self.clock
                self.workdays[
                    clock.calendar.workdays_between(
                        clock.local_date(ticket.received_at), clock.local_date(closed_at)
                    )
                ] += 1
            except CalendarPendingError:
                logger.debug("working days to close of %s unknown: calendar pending", ticket.ticket_id)
            self.closed_loop.add(_closed_loop_met(ticket, due()))
        for milestone, name in _MILESTONE_FIELD.items():
            moment = getattr(ticket, name)
            if moment is not None and start <= moment < end:
                active = True
                self.on_time[milestone].add(_milestone_met(ticket, milestone, due()))
        return active

    def _add_received(self, ticket: Ticket) -> None:
        self.received += 1
        if ticket.category is None:
            self.uncategorised += 1
        else:
            self.by_category[ticket.category] += 1
        if ticket.resolved_at is not None:
            self.resolved += 1
        cause = ticket.root_cause.strip()
        if cause:
            self.root_causes[cause] += 1
            counts = self.improved.setdefault(ticket.department.strip(), [0, 0])
            counts[0] += bool(ticket.improvement_done)
            counts[1] += 1
        if ticket.level is Level.RED:
            self.red += 1
        elif ticket.level is Level.YELLOW:
            self.yellow += 1
        contact = _normal_contact(ticket.contact)
        if contact:
            self.contacts[contact] += 1
        group = ticket.group_id.strip()
        if group:
            self.group_ids.add(group)
            self.group_tickets += 1

    def merge(self, other: KpiAccumulator) -> KpiAccumulator:
        """Add ``other``'s counts (same period; tickets counted in both count twice); returns self."""
        if (other.start, other.end) != (self.start, self.end):
            raise ValueError(
                f"cannot merge KPIs of {other.start.isoformat()}–{other.end.isoformat()} into "
                f"{self.start.isoformat()}–{self.end.isoformat()}"
            )
        for name in ("received", "cancelled", "uncategorised", "resolved", "red", "yellow", "group_tickets"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for category, n in other.by_category.items():
            self.by_category[category] += n
        for satisfaction, n in other.satisfaction_counts.items():
            self.satisfaction_counts[satisfaction] += n
        self.closed_loop.merge(other.closed_loop)
        self.workdays.update(other.workdays)
        for milestone, tally in other.on_time.items():
            self.on_time[milestone].merge(tally)
        for dept, (done, total) in other.improved.items():
            counts = self.improved.setdefault(dept, [0, 0])
            counts[0] += done
            counts[1] += total
        self.root_causes.update(other.root_causes)
        self.contacts.update(other.contacts)
        self.group_ids |= other.group_ids
        return self

    def result(self) -> Kpis:
        """The `Kpis` of every ticket added so far."""
        sc = self.satisfaction_counts
        satisfied = sc[Satisfaction.SATISFIED] + sc[Satisfaction.FAIRLY_SATISFIED]
        repeats = [n for n in self.contacts.values() if n >= 2]
        done = sum(d for d, _ in self.improved.values())
        with_cause = sum(n for _, n in self.improved.values())
        return Kpis(
            start=self.start,
            end=self.end,
            received=self.received,
            cancelled=self.cancelled,
            by_category=dict(self.by_category),
            uncategorised=self.uncategorised,
            resolution=Rate.of(self.resolved, self.received),
            satisfaction=Rate.of(satisfied, sum(sc.values())),
            satisfaction_counts=dict(sc),
            closed_loop=self.closed_loop.rate(),
            median_workdays_to_close=_median(self.workdays),
            on_time={m: tally.rate() for m, tally in self.on_time.items()},
            improvement=Rate.of(done, with_cause),
            improvement_by_department={dept: Rate.of(d, n) for dept, (d, n) in sorted(self.improved.items())},
            root_causes=dict(sorted(self.root_causes.items(), key=lambda item: (-item[1], item[0]))),
            red=self.red,
            yellow=self.yellow,
            repeat_customers=len(repeats),
            repeat_tickets=sum(repeats),
            groups=len(self.group_ids),
            group_tickets=self.group_tickets,
        )


def compute_kpis(tickets: Iterable[Ticket], start: datetime, end: datetime, clock: SlaClock) -> Kpis:
    """Compute the KPIs of ``tickets`` over ``[start, end)`` (aware datetimes).

    A milestone whose deadline is `PENDING` (calendar not published) counts as
    unknown — in ``Rate.unknown`` — never as on time or late. ``tickets`` is
    consumed once and not kept (see `KpiAccumulator`).
    """
    accumulator = KpiAccumulator(start, end, clock)
    for ticket in tickets:
        accumulator.add(ticket)
    return accumulator.result()


class BreakdownAccumulator:
    """`kpi_breakdown` one ticket at a time: overall, per branch and per department accumulators.

    Each ticket's deadlines are computed at most once, however many groups it
    counts in. `merge` adds another breakdown of the same period (e.g. one
    built in another process); `result` gives the `KpiBreakdown`.
    """

    def __init__(self, start: datetime, end: datetime, clock: SlaClock) -> None:
        self.overall = KpiAccumulator(start, end, clock)
        self.by_branch: dict[str, KpiAccumulator] = {}
        self.by_department: dict[str, KpiAccumulator] = {}

    def add(self, ticket: Ticket, deadlines: Callable[[], Deadlines] | None = None) -> bool:
        """Count ``ticket`` overall and in its branch and department; True if active in the period."""
        if deadlines is None:
            deadlines = memo_deadlines(self.overall.clock, ticket)
        if not self.overall.add(ticket, deadlines):
            return False
        o = self.overall
        for groups, key in ((self.by_branch, ticket.branch), (self.by_department, ticket.department)):
            key = key.strip()
            group = groups.get(key)
            if group is None:
                group = groups[key] = KpiAccumulator(o.start, o.end, o.clock)
            group.add(ticket, deadlines)
        return True

    def merge(self, other: BreakdownAccumulator) -> BreakdownAccumulator:
        """Add ``other``'s counts (same period); returns self."""
        self.overall.merge(other.overall)
        for mine, theirs in ((self.by_branch, other.by_branch), (self.by_department, other.by_department)):
            for key, acc in theirs.items():
                if key in mine:
                    mine[key].merge(acc)
                else:
                    mine[key] = KpiAccumulator(acc.start, acc.end, acc.clock).merge(acc)
        return self

    def result(self) -> KpiBreakdown:
        return KpiBreakdown(
            overall=self.overall.result(),
            by_branch={k: v.result() for k, v in sorted(self.by_branch.items())},
            by_department={k: v.result() for k, v in sorted(self.by_department.items())},
        )


def memo_deadlines(clock: SlaClock, ticket: Ticket) -> Callable[[], Deadlines]:
    """``clock.deadlines(ticket)``, computed on the first call only."""
    found: list[Deadlines] = []

    def deadlines() -> Deadlines:
        if not found:
            found.append(clock.deadlines(ticket))
        return found[0]

    return deadlines


def kpi_breakdown(tickets: Iterable[Ticket], start: datetime, end: datetime, clock: SlaClock) -> KpiBreakdown:
    """Compute the KPIs overall, per branch and per department over ``[start, end)``.

    Pending deadlines count as unknown, as in `compute_kpis`. ``tickets`` is
    consumed once and not kept (see `BreakdownAccumulator`).
    """
    accumulator = BreakdownAccumulator(start, end, clock)
    for ticket in tickets:
        accumulator.add(ticket)
    return accumulator.result()
