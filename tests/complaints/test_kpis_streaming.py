"""Streaming and merging KPIs (`KpiAccumulator`) give the figures of the whole-list computation.

The reference below is a whole-list computation (every ticket of the period in
a list, each figure a pass over it); generated tickets must give identical
`Kpis` and `KpiBreakdown` whether added one by one, split across accumulators
and merged, or given as a list.
"""

from collections import Counter
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.calendar import CalendarPendingError, WorkCalendar
from complaints.contacts import customer_key
from complaints.enums import (
    Category,
    Effect,
    Fishbone,
    Flag,
    Grade,
    Level,
    MeasureStatus,
    Satisfaction,
    Status,
)
from complaints.groups import answered_at
from complaints.kpis import (
    _MILESTONE_FIELD,
    BreakdownAccumulator,
    KpiAccumulator,
    KpiBreakdown,
    Kpis,
    Milestone,
    Rate,
    RootCause,
    _closed_loop_met,
    _milestone_met,
    compute_kpis,
    kpi_breakdown,
)
from complaints.levels import Basis
from complaints.model import Ticket
from complaints.periods import Period
from complaints.selections import is_cancelled, profile_of
from complaints.sla import SlaClock

SH = ZoneInfo("Asia/Shanghai")
CLOCK = SlaClock(WorkCalendar())
OCT = Period.month(2026, 10)
# 2027's holidays are not published: deadlines reaching January 2027 are pending
DEC = Period.month(2026, 12)


def reference_kpis(tickets: list[Ticket], period: Period) -> Kpis:
    """The whole-list computation: every ticket of the period in a list, each figure a pass over it."""
    start, end = period.bounds(CLOCK.policy.tz)

    def _within(moment: datetime | None) -> bool:
        return moment is not None and start <= moment < end

    live = [t for t in tickets if not is_cancelled(t)]
    received = [t for t in live if _within(t.received_at)]
    revisited = [t for t in live if _within(t.revisited_at) and t.satisfaction is not None]
    satisfaction_counts = dict.fromkeys(Satisfaction, 0)
    for t in revisited:
        satisfaction_counts[t.satisfaction] += 1
    satisfied = (
        satisfaction_counts[Satisfaction.SATISFIED] + satisfaction_counts[Satisfaction.FAIRLY_SATISFIED]
    )
    closed = [t for t in live if _within(t.closed_at)]
    workdays = []
    for t in closed:
        try:
            workdays.append(
                CLOCK.calendar.workdays_between(
                    CLOCK.local_date(t.received_at), CLOCK.local_date(t.closed_at)
                )
            )
        except CalendarPendingError:
            pass

    def rate(outcomes) -> Rate:
        counts = Counter(outcomes)
        return Rate.of(counts[True], counts[True] + counts[False], counts[None])

    on_time = {
        m: rate(
            _milestone_met(t, m, CLOCK.deadlines(t)) for t in live if _within(getattr(t, _MILESTONE_FIELD[m]))
        )
        for m in Milestone
    }
    traced = [t for t in received if t.root_cause.strip() or t.fishbone is not None]
    with_cause = [t for t in received if t.root_cause.strip()]
    by_department: dict[str, list[Ticket]] = {}
    for t in traced:
        by_department.setdefault(t.department.strip(), []).append(t)
    causes = Counter(t.root_cause.strip() for t in with_cause)
    repeats = {customer_key(t.contact) for t in received if profile_of(t).repeat} - {""}
    grouped = {t.group_id.strip() for t in received if t.group_id.strip()}
    group_answers = [t for t in live if (at := answered_at(t)) is not None and _within(at)]
    group_satisfied = [t for t in group_answers if t.satisfaction is not Satisfaction.DISSATISFIED]
    return Kpis(
        period=period,
        profiles=Counter(profile_of(t) for t in tickets if _within(t.received_at)),
        resolution=Rate.of(sum(1 for t in received if t.resolved_at is not None), len(received)),
        satisfaction=Rate.of(satisfied, len(revisited)),
        satisfaction_counts=satisfaction_counts,
        closed_loop=rate(_closed_loop_met(t, CLOCK.deadlines(t)) for t in closed),
        median_workdays_to_close=float(median(workdays)) if workdays else None,
        on_time=on_time,
        improvement=effectiveness(traced),
        improvement_by_department={
            dept: effectiveness(group) for dept, group in sorted(by_department.items())
        },
        root_causes=tuple(
            root_cause(cause, [t for t in with_cause if t.root_cause.strip() == cause])
            for cause, _ in sorted(causes.items(), key=lambda item: (-item[1], item[0]))
        ),
        repeat_customers=len(repeats),
        groups=len(grouped),
        group_revisit=Rate.of(len(group_satisfied), len(group_answers)),
        fishbone={b: sum(1 for t in received if t.fishbone is b) for b in Fishbone},
        measures={m: sum(1 for t in received if t.measure_status is m) for m in MeasureStatus},
        measures_overdue=sum(1 for t in received if Flag.MEASURE_OVERDUE in t.flags),
        major_plan=rate(
            _milestone_met(t, Milestone.PLAN, CLOCK.deadlines(t))
            for t in received
            if t.grade is Grade.MAJOR and t.plan_at is not None
        ),
    )


def effectiveness(tickets: list[Ticket]) -> Rate:
    """Measures effective among those judged; those still watched are unknown."""
    watched = sum(1 for t in tickets if t.effect is Effect.WATCHING)
    effective = sum(1 for t in tickets if t.effect is Effect.EFFECTIVE)
    return Rate.of(effective, len(tickets) - watched, watched)


def root_cause(cause: str, tickets: list[Ticket]) -> RootCause:
    measures = Counter(t.improvement.strip() for t in tickets if t.improvement.strip())
    return RootCause(cause, len(tickets), effectiveness(tickets), tuple(measures.most_common()))


def reference_breakdown(tickets: list[Ticket], period: Period) -> KpiBreakdown:
    """The whole-list `kpi_breakdown`: groups of tickets with any moment in the period."""
    start, end = period.bounds(CLOCK.policy.tz)
    branches: dict[str, list[Ticket]] = {}
    departments: dict[str, list[Ticket]] = {}
    for t in tickets:
        moments = [t.received_at, t.closed_at, *(getattr(t, f) for f in _MILESTONE_FIELD.values())]
        if any(m is not None and start <= m < end for m in moments):
            branches.setdefault(t.branch.strip(), []).append(t)
            departments.setdefault(t.department.strip(), []).append(t)
    return KpiBreakdown(
        overall=reference_kpis(tickets, period),
        by_branch={k: reference_kpis(v, period) for k, v in sorted(branches.items())},
        by_department={k: reference_kpis(v, period) for k, v in sorted(departments.items())},
    )


@st.composite
def tickets(draw) -> Ticket:
    """A ticket received between September and December 2026, stopped at a random stage."""
    at = datetime(2026, 9, 1, tzinfo=SH) + timedelta(
        minutes=draw(st.sampled_from(range(0, 122 * 24 * 60, 53)))
    )
    fields: dict[str, object] = {"received_at": at}
    names = ("acknowledged_at", "plan_at", "resolved_at", "feedback_at", "closed_at", "revisited_at")
    for name in names[: draw(st.sampled_from(range(7)))]:
        at += timedelta(minutes=draw(st.sampled_from(range(1, 10 * 24 * 60, 97))))
        fields[name] = at
    if "revisited_at" in fields:
        fields["satisfaction"] = draw(st.none() | st.sampled_from(Satisfaction))
    if draw(st.integers(0, 9)) == 0:
        fields.update(status=Status.CANCELLED, cancelled_at=at)
    return Ticket(
        ticket_id="T",
        branch=draw(st.sampled_from(["SZ01", "GZ02", " SZ01 "])),
        department=draw(st.sampled_from(["", "网络部", "市场部 "])),
        category=draw(st.none() | st.sampled_from(Category)),
        grade=draw(st.sampled_from(Grade)),
        level=draw(st.sampled_from(Level)),
        contact=draw(st.sampled_from(["", "138-0000 0001", "13800000001", "13900000002", "137"])),
        group_id=draw(st.sampled_from(["", "", "G1", " G2"])),
        level_basis=draw(st.sampled_from(["", "", Basis.REPEAT, f"{Basis.GROUP},{Basis.REPEAT}"])),
        flags=frozenset(
            draw(st.sampled_from([(), (Flag.ACK_OVERDUE,), (Flag.REVISIT_DUE,), (Flag.MEASURE_OVERDUE,)]))
        ),
        root_cause=draw(st.sampled_from(["", "", "设备老化", "培训不到位 "])),
        improvement=draw(st.sampled_from(["", "扩容"])),
        improvement_done=draw(st.booleans()),
        fishbone=draw(st.none() | st.sampled_from(Fishbone)),
        measure_status=draw(st.none() | st.sampled_from(MeasureStatus)),
        effect=draw(st.none() | st.sampled_from(Effect)),
        **fields,
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(tickets(), min_size=1, max_size=40), st.integers(0, 40), st.sampled_from([OCT, DEC]))
def test_streamed_and_merged_breakdown_equals_the_whole_list_computation(batch, cut, period):
    expected = reference_breakdown(batch, period)

    assert kpi_breakdown(iter(batch), period, CLOCK) == expected
    assert compute_kpis(iter(batch), period, CLOCK) == expected.overall
    # two halves counted apart (as two processes or two branches would) and merged
    first, second = BreakdownAccumulator(period), BreakdownAccumulator(period)
    for t in batch[:cut]:
        first.add(t, CLOCK)
    for t in batch[cut:]:
        second.add(t, CLOCK)
    assert first.merge(second).result() == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(tickets(), max_size=40), st.sampled_from([OCT, DEC]))
def test_merging_per_branch_accumulators_gives_the_overall_figures(batch, period):
    per_branch: dict[str, KpiAccumulator] = {}
    for t in batch:
        per_branch.setdefault(t.branch.strip(), KpiAccumulator(period)).add(t, CLOCK)
    overall = KpiAccumulator(period)
    for acc in per_branch.values():
        overall.merge(acc)

    # repeat complainants and group incidents span branches: they are merged per customer / group id
    assert overall.result() == reference_kpis(batch, period)


def test_a_repeat_complainant_of_two_branches_counts_once_after_merging():
    sz, gz = KpiAccumulator(OCT), KpiAccumulator(OCT)
    at = datetime(2026, 10, 12, 9, tzinfo=SH)
    sz.add(Ticket("A", at, branch="SZ01", contact="138-0000 0001", level_basis=Basis.REPEAT), CLOCK)
    gz.add(Ticket("B", at, branch="GZ02", contact="+86 13800000001", level_basis=Basis.REPEAT), CLOCK)

    assert (sz.result().repeat_customers, gz.result().repeat_customers) == (1, 1)
    merged = sz.merge(gz).result()
    assert (merged.repeat_customers, merged.repeat_tickets) == (1, 2)
