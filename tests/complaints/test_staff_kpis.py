"""Per-staff KPIs: each person's figures are the ticket-by-ticket figures of the tickets naming them."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Satisfaction, Status
from complaints.kpis import Rate, compute_kpis
from complaints.model import Ticket
from complaints.periods import Period
from complaints.sla import SlaClock
from complaints.staff import STAFF_FIGURES, StaffKey, StaffRole, staff_kpis

SH = ZoneInfo("Asia/Shanghai")
CLOCK = SlaClock(WorkCalendar())
OCT = Period.month(2026, 10)  # National Day 1–7 Oct, Saturday 10 Oct a make-up working day


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SH)


_serial = iter(range(1, 10_000))


def ticket(**fields) -> Ticket:
    fields.setdefault("ticket_id", f"SZ01-S{next(_serial):04d}")
    fields.setdefault("branch", "SZ01")
    fields.setdefault("received_at", at(10, 12))
    return Ticket(**fields)


def handled_on_time(**fields) -> Ticket:
    """Received 30 Sep before the holidays, every deadline met, revisited satisfied inside the window."""
    values = dict(
        received_at=at(9, 30, 10),
        acknowledged_at=at(9, 30, 15),
        plan_at=at(10, 8, 11),
        resolved_at=at(10, 9, 10),
        feedback_at=at(10, 9, 16),
        closed_at=at(10, 9, 17),
        revisited_at=at(10, 13, 10),
        satisfaction=Satisfaction.SATISFIED,
    )
    values.update(fields)
    return ticket(**values)


WANG = dict(coordinator="王芳", investigator="网络部-李强")
TICKETS = [
    handled_on_time(**WANG),
    # acknowledged late (due end of Thu 8 Oct), revisited too soon (window opens Tue 13 Oct), unhappy
    handled_on_time(
        **WANG,
        acknowledged_at=at(10, 9, 10),
        revisited_at=at(10, 12, 10),
        satisfaction=Satisfaction.DISSATISFIED,
    ),
    ticket(**WANG, received_at=at(10, 12), acknowledged_at=at(10, 12, 15), resolved_at=at(10, 14)),
    ticket(**WANG, received_at=at(10, 20)),  # open, nothing reached yet
    ticket(
        coordinator="王芳", investigator="市场部-赵敏", received_at=at(10, 21), acknowledged_at=at(10, 23, 9)
    ),
    ticket(coordinator="王芳", received_at=at(10, 22), status=Status.CANCELLED, cancelled_at=at(10, 22, 12)),
    ticket(coordinator="王芳", received_at=at(11, 2)),  # after the period: counts for nobody in October
    ticket(coordinator="王芳", branch="GZ01", received_at=at(10, 15)),  # another branch, another person
    ticket(coordinator=" ", investigator="", received_at=at(10, 16)),  # nobody named
]


def named(role: StaffRole, name: str, branch: str = "SZ01") -> list[Ticket]:
    field = "coordinator" if role is StaffRole.COORDINATOR else "investigator"
    return [t for t in TICKETS if getattr(t, field).strip() == name and t.branch == branch]


@pytest.mark.parametrize(
    ("role", "name", "branch"),
    [
        (StaffRole.COORDINATOR, "王芳", "SZ01"),
        (StaffRole.COORDINATOR, "王芳", "GZ01"),
        (StaffRole.INVESTIGATOR, "网络部-李强", "SZ01"),
        (StaffRole.INVESTIGATOR, "市场部-赵敏", "SZ01"),
    ],
)
def test_each_persons_figures_equal_the_figures_of_the_tickets_naming_them(role, name, branch):
    people = {s.key: s for s in staff_kpis(TICKETS, OCT, CLOCK)}

    mine = people[StaffKey(role, branch, name)]

    assert mine.kpis == compute_kpis(named(role, name, branch), OCT, CLOCK)


def test_only_people_named_on_tickets_of_the_period_are_listed_by_role_branch_and_name():
    keys = [s.key for s in staff_kpis(TICKETS, OCT, CLOCK)]

    assert keys == [
        StaffKey(StaffRole.COORDINATOR, "GZ01", "王芳"),
        StaffKey(StaffRole.COORDINATOR, "SZ01", "王芳"),
        StaffKey(StaffRole.INVESTIGATOR, "SZ01", "市场部-赵敏"),
        StaffKey(StaffRole.INVESTIGATOR, "SZ01", "网络部-李强"),
    ]


@pytest.mark.parametrize(
    ("figure", "expected"),
    [
        ("received", 2),  # two received in October (the two of 30 Sep are not)
        ("resolution", Rate.of(1, 2)),
        # milestones in October: ticket 1 plan, resolve, feedback, revisit on time (4/4);
        # ticket 2 ack late, plan, resolve, feedback on time, revisit too soon (3/5); ticket 3 ack on time,
        # resolve on time (2/2)
        ("timeliness", Rate.of(9, 11)),
        ("satisfaction", Rate.of(1, 2)),
        ("revisits", 2),
        ("revisit_window", Rate.of(1, 2)),
    ],
)
def test_the_investigators_figures_resolution_timeliness_satisfaction_revisits(figure, expected):
    people = {s.key: s for s in staff_kpis(TICKETS, OCT, CLOCK)}
    li = people[StaffKey(StaffRole.INVESTIGATOR, "SZ01", "网络部-李强")]
    column = next(f for f in STAFF_FIGURES if f.key == figure)

    assert column.value(li) == expected


def test_a_cancelled_ticket_counts_only_as_cancelled_for_its_coordinator():
    people = {s.key: s for s in staff_kpis(TICKETS, OCT, CLOCK)}
    wang = people[StaffKey(StaffRole.COORDINATOR, "SZ01", "王芳")]

    assert (wang.received, wang.kpis.cancelled) == (3, 1)
    assert wang.resolution == Rate.of(1, 3)
