"""KPIs for a period (DESIGN §3.7), overall and per branch, department and calendar month.

What each figure counts is defined in `complaints.figures` (populations) and
`complaints.selections` (which tickets, cancelled ones left out); this module
counts them, one ticket at a time and in bounded memory.

A `Period` is whole local days: each ticket is placed in it by the time zone of
its own `SlaClock` (its branch's), so accumulators of branches in different
zones merge into exact totals. Deadlines come from the same clock. A deadline
that is `PENDING` (its year's holiday calendar is not published) makes the
milestone **unknown**: it is counted in ``unknown`` and is neither on time nor
late, so it is left out of the rate's denominator.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from complaints import figures, selections
from complaints.calendar import CalendarPendingError
from complaints.contacts import customer_key
from complaints.enums import Category, Fishbone, Flag, Grade, Level, MeasureStatus, Satisfaction, Status
from complaints.figures import Milestone, Value
from complaints.groups import SATISFIED, answered_at
from complaints.model import Ticket
from complaints.periods import Period
from complaints.rootcause import has_root_cause, improved
from complaints.selections import Profile, Selection, is_cancelled, profile_of
from complaints.sla import Deadlines, Due, SlaClock

logger = logging.getLogger(__name__)

_MILESTONE_FIELD: dict[Milestone, str] = {
    Milestone.ACKNOWLEDGE: "acknowledged_at",
    Milestone.PLAN: "plan_at",
    Milestone.RESOLVE: "resolved_at",
    Milestone.FEEDBACK: "feedback_at",
    Milestone.REVISIT: "revisited_at",
}

MOMENTS: tuple[str, ...] = ("received_at", "closed_at", *_MILESTONE_FIELD.values())
"""A ticket with any of these in a period takes part in that period's figures."""

KPI_FIELDS: tuple[str, ...] = (
    *MOMENTS,
    "ticket_id",
    "status",
    "cancelled_at",
    "category",
    "satisfaction",
    "root_cause",
    "improvement",
    "improvement_done",
    "fishbone",
    "measure_status",
    "effect",
    "department",
    "contact",
    "group_id",
    "level",
    "level_basis",
    "flags",
    "training_case",
    "grade",
    "reopened_at",
    "routed_at",
    "promised_at",
    "dept_feedback_due",
    "extension_requested_at",
    "extension_until",
    "extension_reason",
    "extension_customer_informed",
    "investigator",
    "coordinator",
)
"""The ticket fields the figures and the deadline rules read: a ticket with just these counts the same."""


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


@dataclass(frozen=True, slots=True)
class RootCause:
    """A root cause of live tickets received in the period, with its improvement measures and their status."""

    cause: str
    tickets: int
    improvement: Rate
    """Tickets whose measure was effective, out of those with this root cause (`complaints.rootcause`)."""
    measures: tuple[tuple[str, int], ...]
    """Improvement measures recorded for this cause, most frequent first."""


@dataclass(frozen=True)
class Kpis:
    """The figures of one group of tickets over ``period`` (see `complaints.figures`)."""

    period: Period
    profiles: Mapping[Profile, int]
    """Tickets received in the period (cancelled ones too) per `Profile`: the source of every ticket count."""
    resolution: Rate
    satisfaction: Rate
    satisfaction_counts: dict[Satisfaction, int]
    closed_loop: Rate
    median_workdays_to_close: float | None
    on_time: dict[Milestone, Rate]
    improvement: Rate
    """Root causes whose measure was effective (its cause did not recur in the window), out of the live
    tickets received with a root cause; ``unknown`` counts measures still watched."""
    improvement_by_department: dict[str, Rate]
    root_causes: tuple[RootCause, ...]
    """Most tickets first."""
    fishbone: dict[Fishbone, int]
    """Live tickets received per fishbone category of their root cause (the monthly analysis's fishbone)."""
    measures: dict[MeasureStatus, int]
    """Live tickets received per state of their improvement measure."""
    measures_overdue: int
    """Of those, measures planned or in progress past their due date."""
    repeat_customers: int
    groups: int
    group_revisit: Rate
    """Members of group incidents who answered at a revisit in the period: satisfied (or fairly) of all."""
    major_plan: Rate
    """Live major tickets received in the period whose plan was communicated: on time (24 elapsed hours,
    the rules' verdict on the plan milestone) of all; ``unknown`` counts deadlines pending the calendar."""
    _counts: dict[Selection, int] = field(default_factory=dict, compare=False, repr=False)

    def count(self, selection: Selection) -> int:
        """Tickets received in the period that ``selection`` admits (its ``department`` is not looked at)."""
        found = self._counts.get(selection)
        if found is None:
            found = self._counts[selection] = sum(
                n for profile, n in self.profiles.items() if selection.admits(profile)
            )
        return found

    @property
    def received(self) -> int:
        return self.count(selections.RECEIVED)

    @property
    def cancelled(self) -> int:
        return self.count(selections.CANCELLED)

    @property
    def unfinished(self) -> int:
        return self.count(selections.UNFINISHED)

    @property
    def overdue(self) -> int:
        return self.count(selections.OVERDUE)

    @property
    def red(self) -> int:
        return self.count(selections.RED)

    @property
    def yellow(self) -> int:
        return self.count(selections.YELLOW)

    @property
    def repeat_tickets(self) -> int:
        return self.count(selections.REPEAT)

    @property
    def group_tickets(self) -> int:
        return self.count(selections.GROUPED)

    @property
    def major(self) -> int:
        return self.count(selections.MAJOR)

    @property
    def uncategorised(self) -> int:
        return self.count(selections.UNCATEGORISED)

    @property
    def by_category(self) -> dict[Category, int]:
        """The type distribution."""
        return {c: self.count(selections.with_category(c)) for c in Category}

    @property
    def by_status(self) -> dict[Status, int]:
        """Tickets received per current status; `Status.CANCELLED` holds the cancelled ones."""
        return {s: self.count(selections.with_status(s)) for s in Status}

    @property
    def by_level(self) -> dict[Level, int]:
        return {lv: self.count(selections.with_level(lv)) for lv in Level}

    def as_rows(self, lang: str = "zh") -> list[tuple[str, Value]]:
        """(label, value) pairs in ``lang`` ("zh" or "en"); rates are fractions, None if n/a."""
        f = figures
        zh = lang == "zh"

        def row(figure: figures.Figure) -> tuple[str, Value]:
            return figure.label(lang), figure.value(self)

        def detail(figure: figures.Figure, text: str) -> str:
            return f"{figure.label(lang)}：{text}" if zh else f"{figure.label(lang)}: {text}"

        rows = [row(f.RECEIVED), row(f.CANCELLED), row(f.UNFINISHED), row(f.OVERDUE), row(f.REVISIT_DUE)]
        rows += [row(f.by_category(c)) for c in Category]
        rows += [row(f.UNCATEGORISED), row(f.RESOLUTION), row(f.SATISFACTION)]
        revisit = "回访：" if zh else "Revisit: "
        rows += [(revisit + s.label(lang), n) for s, n in self.satisfaction_counts.items()]
        rows.append(row(f.CLOSED_LOOP))
        pending = "闭环及时性待定（节假日未发布）"
        if not zh:
            pending = "Closed-loop timeliness unknown (calendar pending)"
        rows.append((pending, self.closed_loop.unknown))
        rows.append(row(f.MEDIAN_CLOSE))
        rows += [row(f.on_time(m)) for m in Milestone]
        rows.append(row(f.IMPROVEMENT))
        rows += [
            (detail(f.IMPROVEMENT, dept or ("未分派" if zh else "Unrouted")), r.rate)
            for dept, r in self.improvement_by_department.items()
        ]
        rows += [row(f.by_fishbone(b)) for b in Fishbone]
        rows += [row(f.by_measure(m)) for m in MeasureStatus]
        rows += [row(f.MEASURES_OVERDUE), row(f.MEASURES_WATCHED)]
        rows += [row(x) for x in (f.RED, f.YELLOW, f.REPEAT_CUSTOMERS, f.REPEAT_TICKETS)]
        rows += [row(f.GROUP_INCIDENTS), row(f.GROUP_TICKETS), row(f.GROUP_REVISIT)]
        rows += [row(f.MAJOR), row(f.MAJOR_PLAN)]
        return rows


@dataclass(frozen=True)
class KpiBreakdown:
    """KPIs overall, per group and per calendar month; department "" holds tickets not routed yet.

    Only branches and departments with a ticket received, cancelled or reaching a
    milestone in the period are listed. ``by_month`` follows the months asked
    for, oldest first, keyed ``YYYY-MM`` (the period's own figures when it is
    that month).
    """

    overall: Kpis
    by_branch: dict[str, Kpis]
    by_department: dict[str, Kpis]
    by_month: dict[str, Kpis] = field(default_factory=dict)


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


def workdays_to_close(ticket: Ticket, clock: SlaClock) -> int | None:
    """Working days from receipt to closure, in local days; None if not closed or the calendar is pending.

    Stored with each ticket at write time (``close_workdays``) so the database can count the median.
    """
    return workdays_between(ticket.received_at, ticket.closed_at, clock)


def workdays_between(received_at: datetime, closed_at: datetime | None, clock: SlaClock) -> int | None:
    """`workdays_to_close` of a ticket received and closed at these moments."""
    if closed_at is None:
        return None
    try:
        return clock.calendar.workdays_between(clock.local_date(received_at), clock.local_date(closed_at))
    except CalendarPendingError:
        logger.debug("working days to close unknown: calendar pending")
        return None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the figures read of one ticket, as the rules left it: stored beside it so the database counts.

    ``met``: the outcome of each milestone reached (on time, late, None unknown);
    ``closed_loop``: every deadline met, for a closed ticket; ``customer`` and
    ``group``: the customer of a repeat complaint and the group of a group
    complaint ("" otherwise).
    """

    profile: Profile
    resolved: bool
    met: dict[Milestone, bool | None]
    closed_loop: bool | None
    workdays: int | None
    customer: str
    group: str
    group_answered: datetime | None = None
    """When the member of a group incident answered at the revisit (`complaints.groups.answered_at`)."""


def facts(ticket: Ticket, deadlines: Deadlines, clock: SlaClock) -> Facts:
    """The `Facts` of ``ticket`` with its ``deadlines`` (those the rules computed with ``clock``)."""
    profile = profile_of(ticket)
    met = {
        m: _milestone_met(ticket, m, deadlines)
        for m, name in _MILESTONE_FIELD.items()
        if getattr(ticket, name) is not None
    }
    return Facts(
        profile,
        ticket.resolved_at is not None,
        met,
        None if ticket.closed_at is None else _closed_loop_met(ticket, deadlines),
        workdays_to_close(ticket, clock),
        customer_key(ticket.contact) if profile.repeat else "",
        ticket.group_id.strip() if profile.grouped else "",
        answered_at(ticket),
    )


class _Tally:
    """On time / late / unknown counts of one rate; `rate` gives the `Rate`."""

    __slots__ = ("hits", "misses", "unknown")

    def __init__(self) -> None:
        self.hits = self.misses = self.unknown = 0

    def add(self, outcome: bool | None, n: int = 1) -> None:
        if outcome is None:
            self.unknown += n
        elif outcome:
            self.hits += n
        else:
            self.misses += n

    def merge(self, other: _Tally) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.unknown += other.unknown

    def rate(self) -> Rate:
        return Rate.of(self.hits, self.hits + self.misses, self.unknown)


class _Cause:
    """One root cause: tickets, whether their measures were effective, measures."""

    __slots__ = ("tickets", "improved", "measures")

    def __init__(self) -> None:
        self.tickets = 0
        self.improved = _Tally()
        self.measures: Counter[str] = Counter()

    def merge(self, other: _Cause) -> None:
        self.tickets += other.tickets
        self.improved.merge(other.improved)
        self.measures.update(other.measures)


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
    """The KPIs of a stream of tickets over ``period``, one ticket at a time, in bounded memory.

    It keeps counts only — per ticket `Profile`, per satisfaction, per milestone
    outcome, per department and root cause, per working-day count (for the
    median) — and the distinct customers of repeat complaints and group ids,
    never the tickets. `merge` adds another accumulator of the same period
    (e.g. per-branch accumulators into an overall one, whatever their time
    zones); `result` gives the same `Kpis` as `compute_kpis` over all the
    tickets added.
    """

    def __init__(self, period: Period) -> None:
        self.period = period
        self._windows: dict[SlaClock, tuple[datetime, datetime]] = {}
        self.profiles: Counter[Profile] = Counter()
        self.resolved = 0
        self.satisfaction_counts: dict[Satisfaction, int] = dict.fromkeys(Satisfaction, 0)
        self.closed_loop = _Tally()
        self.workdays: Counter[int] = Counter()
        self.on_time: dict[Milestone, _Tally] = {m: _Tally() for m in Milestone}
        self.improved: dict[str, _Tally] = {}  # department → measures effective or not, of root causes
        self.causes: dict[str, _Cause] = {}
        self.fishbone: Counter[Fishbone] = Counter()
        self.measures: Counter[MeasureStatus] = Counter()
        self.measures_overdue = 0
        self.repeat_customers: set[str] = set()
        self.group_ids: set[str] = set()
        self.group_revisits = [0, 0]  # [satisfied, answered] members of group incidents
        self.major_plan = _Tally()

    def window(self, clock: SlaClock) -> tuple[datetime, datetime]:
        """The period in ``clock``'s time zone."""
        found = self._windows.get(clock)
        if found is None:
            found = self._windows[clock] = self.period.bounds(clock.policy.tz)
        return found

    def add(self, ticket: Ticket, clock: SlaClock, deadlines: Callable[[], Deadlines] | None = None) -> bool:
        """Count ``ticket`` (of the branch ``clock`` keeps); True if it takes part in the period.

        A ticket takes part when it was received, or reached a milestone, in the
        period. ``deadlines`` gives the ticket's deadlines when needed (from
        ``clock`` if None); pass one memoised callable when the ticket goes into
        several accumulators.
        """
        start, end = self.window(clock)
        received_in = start <= ticket.received_at < end
        if is_cancelled(ticket):  # counted only as cancelled, but its branch and department are listed
            if received_in:
                self.profiles[profile_of(ticket)] += 1
                return True
            return any(
                (moment := getattr(ticket, f)) is not None and start <= moment < end for f in MOMENTS[1:]
            )
        due = deadlines if deadlines is not None else memo_deadlines(clock, ticket)
        active = received_in
        if received_in:
            self._add_received(ticket)
            if ticket.plan_at is not None and ticket.grade is Grade.MAJOR:
                self.count_major_plan(_milestone_met(ticket, Milestone.PLAN, due()), 1)
        revisited_at = ticket.revisited_at
        if revisited_at is not None and start <= revisited_at < end:
            active = True
            if ticket.satisfaction is not None:
                self.count_revisited(ticket.satisfaction, 1)
        answered = answered_at(ticket)
        if answered is not None and start <= answered < end and ticket.satisfaction is not None:
            self.count_group_revisit(ticket.satisfaction, 1)
        closed_at = ticket.closed_at
        if closed_at is not None and start <= closed_at < end:
            active = True
            self.count_closed(_closed_loop_met(ticket, due()), workdays_to_close(ticket, clock))
        for milestone, name in _MILESTONE_FIELD.items():
            moment = getattr(ticket, name)
            if moment is not None and start <= moment < end:
                active = True
                self.count_milestone(milestone, _milestone_met(ticket, milestone, due()), 1)
        return active

    def _add_received(self, ticket: Ticket) -> None:
        profile = profile_of(ticket)
        self.count_received(profile, 1, int(ticket.resolved_at is not None))
        self.count_cause(
            ticket.department,
            ticket.root_cause,
            ticket.improvement,
            improved(ticket) if has_root_cause(ticket) else False,
            1,
            traced=has_root_cause(ticket),
        )
        self.count_measure(ticket.fishbone, ticket.measure_status, Flag.MEASURE_OVERDUE in ticket.flags, 1)
        if profile.repeat:
            self.count_repeat_customer(customer_key(ticket.contact))
        if profile.grouped:
            self.count_group(ticket.group_id)

    # --- counts of many tickets at once (the database's aggregates, `server.storage.figures`) ---------

    def count_received(self, profile: Profile, n: int, resolved: int) -> None:
        """``n`` tickets of ``profile`` received in the period, ``resolved`` of them resolved (if live)."""
        self.profiles[profile] += n
        if not profile.cancelled:
            self.resolved += resolved

    def count_revisited(self, satisfaction: Satisfaction, n: int) -> None:
        """``n`` live tickets revisited in the period with answer ``satisfaction``."""
        self.satisfaction_counts[satisfaction] += n

    def count_group_revisit(self, satisfaction: Satisfaction, n: int) -> None:
        """``n`` live members of group incidents who answered ``satisfaction`` at the revisit in the period.

        A dissatisfied member is reopened, which empties its revisit time but keeps
        its answer (`complaints.groups.revisited`): the group revisit still counts it.
        """
        self.group_revisits[0] += n * (satisfaction in SATISFIED)
        self.group_revisits[1] += n

    def count_closed(self, every_deadline_met: bool | None, workdays: int | None, n: int = 1) -> None:
        """``n`` live tickets closed in the period; ``workdays`` to close None if the calendar is pending."""
        self.closed_loop.add(every_deadline_met, n)
        if workdays is not None:
            self.workdays[workdays] += n

    def count_milestone(self, milestone: Milestone, on_time: bool | None, n: int) -> None:
        """``n`` live tickets whose ``milestone`` happened in the period, on time or late (None: unknown)."""
        self.on_time[milestone].add(on_time, n)

    def count_major_plan(self, on_time: bool | None, n: int) -> None:
        """``n`` live major tickets received in the period with their plan communicated, on time or late."""
        self.major_plan.add(on_time, n)

    def count_cause(
        self, department: str, root_cause: str, measure: str, effective: bool | None, n: int, traced: bool
    ) -> None:
        """``n`` live tickets received in the period with this root cause and measure.

        ``traced``: the cause was traced, as text or category (`complaints.rootcause.has_root_cause`);
        ``effective``: its measure worked (None: still watched; `complaints.rootcause.improved`).
        """
        if not traced:
            return
        self.improved.setdefault(department.strip(), _Tally()).add(effective, n)
        cause = root_cause.strip()
        if not cause:
            return
        tally = self.causes.get(cause)
        if tally is None:
            tally = self.causes[cause] = _Cause()
        tally.tickets += n
        tally.improved.add(effective, n)
        measure = measure.strip()
        if measure:
            tally.measures[measure] += n

    def count_measure(
        self, fishbone: Fishbone | None, status: MeasureStatus | None, overdue: bool, n: int
    ) -> None:
        """``n`` live tickets received in the period with this fishbone category and measure state."""
        if fishbone is not None:
            self.fishbone[fishbone] += n
        if status is not None:
            self.measures[status] += n
        if overdue:
            self.measures_overdue += n

    def count_repeat_customer(self, key: str) -> None:
        """The customer (`customer_key`) of a live repeat complaint received in the period, counted once."""
        if key:
            self.repeat_customers.add(key)

    def count_group(self, group_id: str) -> None:
        """The group incident of a live group complaint received in the period (counted once)."""
        self.group_ids.add(group_id.strip())

    def merge(self, other: KpiAccumulator) -> KpiAccumulator:
        """Add ``other``'s counts (same period; tickets counted in both count twice); returns self."""
        if other.period != self.period:
            raise ValueError(f"cannot merge KPIs of {other.period.label()} into {self.period.label()}")
        self.profiles.update(other.profiles)
        self.resolved += other.resolved
        for satisfaction, n in other.satisfaction_counts.items():
            self.satisfaction_counts[satisfaction] += n
        self.closed_loop.merge(other.closed_loop)
        self.workdays.update(other.workdays)
        for milestone, tally in other.on_time.items():
            self.on_time[milestone].merge(tally)
        for dept, theirs_tally in other.improved.items():
            self.improved.setdefault(dept, _Tally()).merge(theirs_tally)
        for cause, theirs in other.causes.items():
            self.causes.setdefault(cause, _Cause()).merge(theirs)
        self.fishbone.update(other.fishbone)
        self.measures.update(other.measures)
        self.measures_overdue += other.measures_overdue
        self.repeat_customers |= other.repeat_customers
        self.group_ids |= other.group_ids
        self.group_revisits = [a + b for a, b in zip(self.group_revisits, other.group_revisits, strict=True)]
        self.major_plan.merge(other.major_plan)
        return self

    def result(self) -> Kpis:
        """The `Kpis` of every ticket added so far."""
        sc = self.satisfaction_counts
        satisfied = sc[Satisfaction.SATISFIED] + sc[Satisfaction.FAIRLY_SATISFIED]
        improvement = _Tally()
        for tally in self.improved.values():
            improvement.merge(tally)
        received = sum(n for p, n in self.profiles.items() if selections.RECEIVED.admits(p))
        causes = sorted(self.causes.items(), key=lambda item: (-item[1].tickets, item[0]))
        return Kpis(
            period=self.period,
            profiles=dict(self.profiles),
            resolution=Rate.of(self.resolved, received),
            satisfaction=Rate.of(satisfied, sum(sc.values())),
            satisfaction_counts=dict(sc),
            closed_loop=self.closed_loop.rate(),
            median_workdays_to_close=_median(self.workdays),
            on_time={m: tally.rate() for m, tally in self.on_time.items()},
            improvement=improvement.rate(),
            improvement_by_department={dept: t.rate() for dept, t in sorted(self.improved.items())},
            root_causes=tuple(
                RootCause(cause, c.tickets, c.improved.rate(), tuple(c.measures.most_common()))
                for cause, c in causes
            ),
            fishbone={b: self.fishbone[b] for b in Fishbone},
            measures={m: self.measures[m] for m in MeasureStatus},
            measures_overdue=self.measures_overdue,
            repeat_customers=len(self.repeat_customers),
            groups=len(self.group_ids),
            group_revisit=Rate.of(*self.group_revisits),
            major_plan=self.major_plan.rate(),
        )


def compute_kpis(tickets: Iterable[Ticket], period: Period, clock: SlaClock) -> Kpis:
    """Compute the KPIs over ``period`` of ``tickets``, all kept by ``clock`` (one branch's, or one zone's).

    A milestone whose deadline is `PENDING` (calendar not published) counts as
    unknown — in ``Rate.unknown`` — never as on time or late. ``tickets`` is
    consumed once and not kept (see `KpiAccumulator`).
    """
    accumulator = KpiAccumulator(period)
    for ticket in tickets:
        accumulator.add(ticket, clock)
    return accumulator.result()


class BreakdownAccumulator:
    """`kpi_breakdown` one ticket at a time: overall, per branch, per department and per month.

    Each ticket's deadlines are computed at most once, however many groups it
    counts in. ``months`` are the calendar months followed (a ticket joins each
    month in which it has a moment). `merge` adds another breakdown of the same
    period and months (e.g. one built in another process); `result` gives the
    `KpiBreakdown`.
    """

    def __init__(self, period: Period, months: Sequence[Period] = ()) -> None:
        self.overall = KpiAccumulator(period)
        self.by_branch: dict[str, KpiAccumulator] = {}
        self.by_department: dict[str, KpiAccumulator] = {}
        self.months = tuple(months)
        # the period itself, when it is one of the months, is the overall figure (None: not counted twice)
        self.by_month = [None if m == period else KpiAccumulator(m) for m in self.months]
        self._starts: dict[SlaClock, tuple[list[datetime], datetime]] = {}

    def _month_starts(self, clock: SlaClock) -> tuple[list[datetime], datetime]:
        found = self._starts.get(clock)
        if found is None:
            tz = clock.policy.tz
            found = self._starts[clock] = (
                [m.bounds(tz)[0] for m in self.months],
                self.months[-1].bounds(tz)[1],
            )
        return found

    def add(self, ticket: Ticket, clock: SlaClock) -> bool:
        """Count ``ticket`` overall and in its branch, department and months; True if active in the period."""
        deadlines = memo_deadlines(clock, ticket)
        if self.months:
            starts, last = self._month_starts(clock)
            first = starts[0]
            touched = {  # each ticket joins the months in which it has a moment
                bisect_right(starts, moment) - 1
                for moment in (getattr(ticket, key) for key in MOMENTS)
                if moment is not None and first <= moment < last
            }
            for i in touched:
                slot = self.by_month[i]
                if slot is not None:
                    slot.add(ticket, clock, deadlines)
        if not self.overall.add(ticket, clock, deadlines):
            return False
        period = self.overall.period
        for groups, key in ((self.by_branch, ticket.branch), (self.by_department, ticket.department)):
            key = key.strip()
            group = groups.get(key)
            if group is None:
                group = groups[key] = KpiAccumulator(period)
            group.add(ticket, clock, deadlines)
        return True

    def merge(self, other: BreakdownAccumulator) -> BreakdownAccumulator:
        """Add ``other``'s counts (same period and months); returns self."""
        if other.months != self.months:
            raise ValueError("cannot merge breakdowns following different months")
        self.overall.merge(other.overall)
        for mine, theirs in ((self.by_branch, other.by_branch), (self.by_department, other.by_department)):
            for key, acc in theirs.items():
                mine.setdefault(key, KpiAccumulator(acc.period)).merge(acc)
        for slot, theirs in zip(self.by_month, other.by_month, strict=True):
            if slot is not None and theirs is not None:
                slot.merge(theirs)
        return self

    def result(self) -> KpiBreakdown:
        overall = self.overall.result()
        return KpiBreakdown(
            overall=overall,
            by_branch={k: v.result() for k, v in sorted(self.by_branch.items())},
            by_department={k: v.result() for k, v in sorted(self.by_department.items())},
            by_month={
                m.key(): overall if slot is None else slot.result()
                for m, slot in zip(self.months, self.by_month, strict=True)
            },
        )


def memo_deadlines(clock: SlaClock, ticket: Ticket) -> Callable[[], Deadlines]:
    """``clock.deadlines(ticket)``, computed on the first call only."""
    found: list[Deadlines] = []

    def deadlines() -> Deadlines:
        if not found:
            found.append(clock.deadlines(ticket))
        return found[0]

    return deadlines


def kpi_breakdown(
    tickets: Iterable[Ticket], period: Period, clock: SlaClock, months: Sequence[Period] = ()
) -> KpiBreakdown:
    """Compute the KPIs overall, per branch, per department (and per month of ``months``) over ``period``.

    Every ticket is placed by ``clock``; pending deadlines count as unknown, as
    in `compute_kpis`. ``tickets`` is consumed once and not kept (see
    `BreakdownAccumulator`).
    """
    accumulator = BreakdownAccumulator(period, months)
    for ticket in tickets:
        accumulator.add(ticket, clock)
    return accumulator.result()
