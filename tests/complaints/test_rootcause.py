"""Root causes that close the loop: fishbone category, improvement measure, effectiveness window."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Category, Effect, Fishbone, Flag, MeasureStatus, Status
from complaints.flags import evaluate
from complaints.model import Ticket
from complaints.pipeline import settle
from complaints.rootcause import (
    categories_from_settings,
    effect_of,
    improved,
    problems,
    recurrence,
    settle_measure,
)
from complaints.sla import SlaClock, SlaPolicy, policy_from_settings

SH = ZoneInfo("Asia/Shanghai")
CLOCK = SlaClock(WorkCalendar())
DONE = datetime(2026, 6, 1, 10, 0, tzinfo=SH)
"""The measure of the first ticket was done on Monday 1 June 2026, 10:00."""
WINDOW = 90


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SH)


def make_ticket(**fields) -> Ticket:
    fields.setdefault("ticket_id", "SZ01-20260510-001")
    fields.setdefault("received_at", at(5, 10))
    fields.setdefault("branch", "SZ01")
    fields.setdefault("category", Category.NETWORK_FAULT)
    fields.setdefault("fishbone", Fishbone.NETWORK)
    return Ticket(**fields)


def measured(**fields) -> Ticket:
    """A ticket whose cause was traced to the network and whose measure (expand the cabinet) is done."""
    values = dict(
        root_cause="老旧光交箱过载",
        improvement="光交箱扩容",
        measure_owner="王工",
        measure_status=MeasureStatus.DONE,
        measure_done_at=DONE,
        improvement_done=True,
    )
    return make_ticket(**(values | fields))


@pytest.mark.parametrize(
    ("later", "recurs"),
    [
        ({"received_at": DONE + timedelta(days=30)}, True),  # inside the window
        ({"received_at": DONE + timedelta(days=89, hours=23)}, True),  # the last hour inside
        ({"received_at": DONE + timedelta(days=WINDOW)}, False),  # the window's end is outside
        ({"received_at": DONE + timedelta(days=120)}, False),  # after the window
        ({"received_at": DONE - timedelta(hours=1)}, False),  # before the measure was done
        ({"received_at": DONE + timedelta(days=30), "fishbone": Fishbone.STAFF}, False),  # other cause
        ({"received_at": DONE + timedelta(days=30), "fishbone": None}, False),  # cause not traced
        ({"received_at": DONE + timedelta(days=30), "category": Category.BILLING_DISPUTE}, False),
        ({"received_at": DONE + timedelta(days=30), "branch": "GZ02"}, False),  # other branch
        ({"received_at": DONE + timedelta(days=30), "cancelled_at": at(7, 2)}, False),  # cancelled
    ],
)
def test_a_complaint_of_the_same_branch_cause_and_category_inside_the_window_is_a_recurrence(later, recurs):
    first = measured()
    again = make_ticket(ticket_id="SZ01-LATER", **later)

    found = recurrence(first, [first, again], WINDOW)

    assert found == (again.received_at if recurs else None)


@pytest.mark.parametrize(
    ("recurred_at", "now", "effect", "counted"),
    [
        (None, DONE + timedelta(days=10), Effect.WATCHING, None),  # too early to tell: left out
        (None, DONE + timedelta(days=WINDOW) - timedelta(seconds=1), Effect.WATCHING, None),
        (None, DONE + timedelta(days=WINDOW), Effect.EFFECTIVE, True),  # the boundary: effective
        (None, DONE + timedelta(days=200), Effect.EFFECTIVE, True),
        (DONE + timedelta(days=30), DONE + timedelta(days=31), Effect.RECURRED, False),
        (DONE + timedelta(days=30), DONE + timedelta(days=200), Effect.RECURRED, False),
    ],
)
def test_a_measure_is_effective_only_when_its_cause_did_not_recur_within_the_window(
    recurred_at, now, effect, counted
):
    ticket = measured(recurred_at=recurred_at)

    assert effect_of(ticket, now, WINDOW) is effect
    ticket.effect = effect
    assert improved(ticket) is counted


@pytest.mark.parametrize(
    "status", [None, MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS, MeasureStatus.DROPPED]
)
def test_a_measure_not_done_has_no_effect_and_is_not_an_improvement(status):
    ticket = measured(measure_status=status, measure_done_at=None, improvement_done=False)

    assert effect_of(ticket, DONE + timedelta(days=365), WINDOW) is None
    assert improved(ticket) is False


def test_the_window_is_a_policy_setting():
    policy = policy_from_settings({"recurrence_days": 30})

    assert policy.recurrence_days == 30
    assert SlaPolicy().recurrence_days == 90
    with pytest.raises(ValueError, match="recurrence_days"):
        policy_from_settings({"recurrence_days": -1})


def test_settling_a_ticket_judges_its_measure_with_the_policys_window():
    clock = SlaClock(WorkCalendar(), policy_from_settings({"recurrence_days": 30}))
    ticket = measured()

    watched = settle(None, ticket, now=DONE + timedelta(days=29), clock=clock, by="t").ticket
    judged = settle(None, ticket, now=DONE + timedelta(days=30), clock=clock, by="t").ticket

    assert (watched.effect, judged.effect) == (Effect.WATCHING, Effect.EFFECTIVE)


NOW = at(6, 10, 12)


@pytest.mark.parametrize(
    ("status", "due", "flag"),
    [
        (MeasureStatus.PLANNED, date(2026, 6, 9), Flag.MEASURE_OVERDUE),
        (MeasureStatus.IN_PROGRESS, date(2026, 6, 9), Flag.MEASURE_OVERDUE),
        (MeasureStatus.IN_PROGRESS, date(2026, 6, 10), Flag.MEASURE_DUE_SOON),  # due at the day's end
        (MeasureStatus.PLANNED, date(2026, 6, 20), None),
        (MeasureStatus.DONE, date(2026, 6, 9), None),
        (MeasureStatus.DROPPED, date(2026, 6, 9), None),
        (MeasureStatus.PLANNED, None, None),
    ],
)
def test_a_measure_still_open_after_its_due_date_is_flagged_even_on_a_finished_case(status, due, flag):
    revisited = dict(
        acknowledged_at=at(5, 10, 10),
        routed_at=at(5, 10, 10),
        plan_at=at(5, 11),
        resolved_at=at(5, 12),
        feedback_at=at(5, 12, 15),
        closed_at=at(5, 13),
        revisited_at=at(5, 18),
    )
    ticket = measured(measure_status=status, measure_due=due, measure_done_at=None, **revisited)

    result = evaluate(ticket, CLOCK, NOW)

    assert result.status is Status.REVISITED
    measure_flags = result.flags & {Flag.MEASURE_OVERDUE, Flag.MEASURE_DUE_SOON}
    assert measure_flags == ({flag} if flag else set())
    assert Flag.MEASURE_OVERDUE.is_overdue


@pytest.mark.parametrize(
    ("before", "after", "status", "done_at", "box"),
    [
        # a done time typed marks the measure done
        ({}, {"measure_done_at": at(6, 5)}, MeasureStatus.DONE, at(6, 5), True),
        # the old "improvement done" box ticked: done now
        ({}, {"improvement_done": True}, MeasureStatus.DONE, NOW, True),
        # marked done without a time: done now
        ({}, {"measure_status": MeasureStatus.DONE}, MeasureStatus.DONE, NOW, True),
        # a measure described without a status is planned
        ({}, {}, MeasureStatus.PLANNED, None, False),
        (
            {"measure_status": MeasureStatus.DONE, "measure_done_at": at(6, 5), "improvement_done": True},
            {
                "measure_status": MeasureStatus.IN_PROGRESS,
                "measure_done_at": at(6, 5),
                "improvement_done": True,
            },
            MeasureStatus.IN_PROGRESS,
            None,
            False,
        ),  # reopened: the done time goes
        (
            {},
            {"measure_status": MeasureStatus.DROPPED, "improvement_done": True},
            MeasureStatus.DROPPED,
            None,
            False,
        ),
    ],
)
def test_status_done_time_and_the_improvement_box_agree(before, after, status, done_at, box):
    base = dict(improvement="光交箱扩容", measure_status=None, measure_done_at=None, improvement_done=False)
    stored = measured(**(base | before)) if before else None

    ticket = settle_measure(stored, measured(**(base | after)), NOW)

    assert (ticket.measure_status, ticket.measure_done_at, ticket.improvement_done) == (status, done_at, box)


def test_what_a_root_cause_and_measure_must_hold_in_both_languages():
    offered = (Fishbone.NETWORK, Fishbone.PROCESS)

    assert problems(measured(), offered) == []
    [(field, en, zh)] = problems(measured(fishbone=Fishbone.PARTNER), offered)
    assert field == "fishbone" and "Partner" in en and "合作方" in zh and "流程" in zh
    [(field, _, zh)] = problems(measured(improvement=""), offered)
    assert field == "improvement" and "改进措施" in zh
    [(field, _, _)] = problems(measured(measure_status=MeasureStatus.DROPPED), offered)
    assert field == "measure_done_at"


def test_the_offered_categories_are_checked_at_start():
    assert categories_from_settings(None) == tuple(Fishbone)
    assert categories_from_settings(["网络", "Process", "network"]) == (Fishbone.NETWORK, Fishbone.PROCESS)
    with pytest.raises(ValueError, match="'weather'"):
        categories_from_settings(["network", "weather"])
    with pytest.raises(ValueError, match="non-empty"):
        categories_from_settings([])


def test_every_fishbone_category_has_both_labels():
    assert [(b.zh, b.en) for b in Fishbone] == [
        ("网络", "Network"),
        ("系统", "System"),
        ("流程", "Process"),
        ("人员", "Staff"),
        ("政策", "Policy"),
        ("合作方", "Partner"),
        ("客户理解", "Customer understanding"),
    ]
