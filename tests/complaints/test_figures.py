"""Each head-office figure counts what its definition says, whatever the branch's time zone.

The counts below are written out independently of `complaints.selections`: one
plain condition per figure over the tickets received in the period.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints import figures
from complaints.calendar import WorkCalendar
from complaints.enums import Category, Flag, Grade, Level, Status
from complaints.figures import Kind
from complaints.kpis import KpiAccumulator, compute_kpis
from complaints.levels import Basis
from complaints.model import Ticket
from complaints.periods import Period
from complaints.sla import SlaClock, SlaPolicy

SHANGHAI = SlaClock(WorkCalendar(), SlaPolicy(tz="Asia/Shanghai"))
LONDON = SlaClock(WorkCalendar(), SlaPolicy(tz="Europe/London"))
NOVEMBER = Period.month(2026, 11)


def live(t: Ticket) -> bool:
    return t.status is not Status.CANCELLED and t.cancelled_at is None


OVERDUE = {
    Flag.ACK_OVERDUE,
    Flag.PLAN_OVERDUE,
    Flag.DEPT_FEEDBACK_OVERDUE,
    Flag.RESOLVE_OVERDUE,
    Flag.FEEDBACK_OVERDUE,
    Flag.REVISIT_OVERDUE,
    Flag.TASK_OVERDUE,
    Flag.APPEAL_RISK,
    Flag.ROUTE_OVERDUE,
    Flag.MEASURE_OVERDUE,  # an improvement measure past its due date is overdue work too
}
"""The overdue flags, written out (NO_PROGRESS is a missed update, the due-soon flags warnings)."""

COUNTS: dict[str, Callable[[Ticket], bool]] = {
    "received": live,
    "cancelled": lambda t: not live(t),
    "unfinished": lambda t: live(t) and t.status is not Status.REVISITED,
    "overdue": lambda t: live(t) and bool(OVERDUE & t.flags),
    "revisit_due": lambda t: live(t) and bool({Flag.REVISIT_DUE, Flag.REVISIT_OVERDUE} & t.flags),
    "red": lambda t: live(t) and t.level is Level.RED,
    "yellow": lambda t: live(t) and t.level is Level.YELLOW,
    "repeat_tickets": lambda t: live(t) and "REPEAT" in t.level_basis.split(","),
    "group_tickets": lambda t: live(t) and t.group_id.strip() != "",
    "major": lambda t: live(t) and t.grade is Grade.MAJOR,  # graded 重大: the emergency path
    "uncategorised": lambda t: live(t) and t.category is None,
    **{f"category_{c.value}": (lambda t, c=c: live(t) and t.category is c) for c in Category},
    **{
        f"status_{s.value}": (lambda t, s=s: live(t) and t.status is s)
        for s in Status
        if s is not Status.CANCELLED
    },
    "level_blue": lambda t: live(t) and t.level is Level.BLUE,
}


def every_ticket_figure() -> list[figures.Figure]:
    found = {f.key: f for f in figures.TABLE if f.kind is Kind.TICKETS}
    found[figures.UNCATEGORISED.key] = figures.UNCATEGORISED
    families = ((figures.by_category, Category), (figures.by_status, Status), (figures.by_level, Level))
    for family, members in families:
        for member in members:
            figure = family(member)
            found[figure.key] = figure
    return list(found.values())


def test_every_count_of_tickets_has_an_independent_definition_here():
    assert {f.key for f in every_ticket_figure()} == set(COUNTS)


@st.composite
def tickets(draw) -> tuple[Ticket, SlaClock]:
    """A ticket of a Shanghai or a London branch received around November 2026, in any state."""
    clock = draw(st.sampled_from([SHANGHAI, LONDON]))
    minutes = draw(st.sampled_from([0, 1, 30, 720, 1439, 1440, 15 * 1440, 31 * 1440 - 1]))
    local = datetime(2026, 10, 31, tzinfo=ZoneInfo(clock.policy.tz)) + timedelta(
        minutes=minutes + draw(st.sampled_from([0, 30 * 1440]))
    )
    status = draw(st.sampled_from(Status))
    cancelled = status is Status.CANCELLED or draw(st.integers(0, 9)) == 0
    return (
        Ticket(
            "T",
            local,
            branch="LD01" if clock is LONDON else "SZ01",
            status=status,
            cancelled_at=local + timedelta(hours=2) if cancelled else None,
            level=draw(st.sampled_from(Level)),
            category=draw(st.none() | st.sampled_from(Category)),
            flags=frozenset(draw(st.lists(st.sampled_from(Flag), max_size=3))),
            group_id=draw(st.sampled_from(["", " ", "SZ01-20261101-0001", "\u3000"])),
            level_basis=draw(
                st.sampled_from(["", Basis.REPEAT, f"{Basis.GROUP},{Basis.REPEAT}", "REPEATED"])
            ),
        ),
        clock,
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(tickets(), max_size=30))
def test_each_count_is_the_tickets_received_in_the_branchs_local_days_that_its_definition_admits(batch):
    accumulator = KpiAccumulator(NOVEMBER)
    for ticket, clock in batch:
        accumulator.add(ticket, clock)
    kpis = accumulator.result()
    received = [t for t, clock in batch if NOVEMBER.first <= clock.local_date(t.received_at) < NOVEMBER.end]
    for figure in every_ticket_figure():
        assert figure.value(kpis) == sum(1 for t in received if COUNTS[figure.key](t)), figure.key
    assert sum(kpis.by_status.values()) == kpis.received + kpis.cancelled


def test_a_ticket_counts_on_its_own_branchs_day():
    # 1 December 05:00 in Shanghai is still 30 November (21:00) in London
    moment = datetime(2026, 12, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    in_shanghai = compute_kpis([Ticket("A", moment, branch="SZ01")], NOVEMBER, SHANGHAI)
    in_london = compute_kpis([Ticket("B", moment, branch="LD01")], NOVEMBER, LONDON)
    assert (in_shanghai.received, in_london.received) == (0, 1)


def test_branches_in_two_zones_add_up_to_the_total():
    day = Period.days(NOVEMBER.first, NOVEMBER.first)
    sz, ld, both = KpiAccumulator(day), KpiAccumulator(day), KpiAccumulator(day)
    early = datetime(2026, 11, 1, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    late = datetime(2026, 11, 1, 23, 30, tzinfo=ZoneInfo("Europe/London"))  # 2 November in Shanghai
    tickets = [
        (Ticket("A", early, branch="SZ01"), SHANGHAI),
        (Ticket("B", late, branch="LD01"), LONDON),
        (Ticket("C", late, branch="SZ01"), SHANGHAI),
    ]
    for ticket, clock in tickets:
        (sz if clock is SHANGHAI else ld).add(ticket, clock)
        both.add(ticket, clock)
    assert (sz.result().received, ld.result().received) == (1, 1)
    assert sz.merge(ld).result() == both.result()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_two_figures_share_a_name(lang):
    named = [*figures.TABLE, *every_ticket_figure()]
    labels = {}
    for figure in named:
        assert labels.setdefault(figure.label(lang), figure.key) == figure.key, figure.label(lang)
    assert figures.GROUP_TICKETS.label(lang) != figures.GROUP_INCIDENTS.label(lang)
