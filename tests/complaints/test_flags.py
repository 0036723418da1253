from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.calendar import WorkCalendar
from complaints.enums import Flag, LogKind, Status
from complaints.flags import evaluate, refresh
from complaints.model import MILESTONES, LogEntry, Task
from complaints.sla import SlaClock
from tests.factories import local, make_ticket

CLOCK = SlaClock(WorkCalendar())


def flags_at(now, tasks=(), log=(), **fields):
    return evaluate(make_ticket(**fields), CLOCK, now, tasks, log).flags


# Received Wednesday 30 Sep 2026 09:10, the day before National Day.
NATIONAL_DAY = {"received_at": local(2026, 9, 30, 9, 10)}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 10, 5, 12), set()),  # holidays do not count
        (local(2026, 10, 8, 1), {Flag.ACK_DUE_SOON}),  # due end of Thursday 8 Oct
        (local(2026, 10, 10, 0, 30), {Flag.ACK_OVERDUE, Flag.PLAN_DUE_SOON}),  # plan due Sat 10 Oct (make-up)
        (local(2026, 10, 11, 9), {Flag.ACK_OVERDUE, Flag.PLAN_OVERDUE}),
        (
            local(2026, 10, 15, 9, 11),
            {Flag.ACK_OVERDUE, Flag.PLAN_OVERDUE, Flag.APPEAL_RISK, Flag.RESOLVE_DUE_SOON},
        ),
    ],
)
def test_acknowledge_plan_and_appeal_clocks_across_national_day(now, expected):
    # never routed: the routing time is elapsed hours, so holidays do not stop it
    assert flags_at(now, **NATIONAL_DAY) - {Flag.APPEAL_RISK_SOON} == expected | {Flag.ROUTE_OVERDUE}


def test_appeal_risk_warns_three_days_ahead():
    assert Flag.APPEAL_RISK_SOON in flags_at(local(2026, 10, 12, 10), **NATIONAL_DAY)
    assert Flag.APPEAL_RISK_SOON not in flags_at(local(2026, 10, 11, 10), **NATIONAL_DAY)


def test_plan_communicated_removes_plan_and_appeal_flags():
    flags = flags_at(
        local(2026, 10, 20, 9),
        acknowledged_at=local(2026, 9, 30, 10),
        plan_at=local(2026, 10, 9, 10),
        **NATIONAL_DAY,
    )
    assert not flags & {Flag.PLAN_OVERDUE, Flag.APPEAL_RISK, Flag.ACK_OVERDUE}


def test_extension_recorded_after_the_deadline_does_not_stop_the_plan_overdue_flag():
    fields = {
        "acknowledged_at": local(2026, 3, 2, 10),
        "extension_reason": "等待厂家",
        "extension_customer_informed": True,
        "extension_until": local(2026, 3, 12),
    }
    now = local(2026, 3, 9, 9)
    late = flags_at(now, extension_requested_at=local(2026, 3, 6, 9), **fields)
    in_time = flags_at(now, extension_requested_at=local(2026, 3, 5, 9), **fields)
    assert Flag.PLAN_OVERDUE in late
    assert Flag.PLAN_OVERDUE not in in_time


def test_department_feedback_overdue_after_its_deadline():
    fields = {"acknowledged_at": local(2026, 3, 2, 10), "routed_at": local(2026, 3, 2, 10)}
    assert Flag.DEPT_FEEDBACK_OVERDUE in flags_at(local(2026, 3, 5, 0, 1), **fields)
    assert Flag.DEPT_FEEDBACK_OVERDUE not in flags_at(
        local(2026, 3, 5, 0, 1), dept_feedback_at=local(2026, 3, 3), **fields
    )


def test_feedback_due_24_hours_after_resolution():
    fields = {"plan_at": local(2026, 3, 3), "resolved_at": local(2026, 3, 6, 15)}
    assert Flag.FEEDBACK_DUE_SOON in flags_at(local(2026, 3, 7, 12), **fields)
    assert Flag.FEEDBACK_OVERDUE in flags_at(local(2026, 3, 7, 15, 1), **fields)
    assert not flags_at(local(2026, 3, 7, 15, 1), feedback_at=local(2026, 3, 7, 9), **fields)


CLOSED = {
    "plan_at": local(2026, 9, 24),
    "resolved_at": local(2026, 9, 28),
    "feedback_at": local(2026, 9, 28, 18),
    "closed_at": local(2026, 9, 29, 17),
}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 10, 8, 12), set()),  # 2nd working day after closure: too soon
        (local(2026, 10, 9, 0, 0), {Flag.REVISIT_DUE}),  # the 3rd working day opens the window
        (local(2026, 10, 14, 23), {Flag.REVISIT_DUE}),  # the 7th working day closes it
        (local(2026, 10, 15, 0, 0), {Flag.REVISIT_OVERDUE}),
    ],
)
def test_revisit_window_across_national_day_and_make_up_saturday(now, expected):
    assert flags_at(now, **CLOSED) == expected


def test_revisited_ticket_has_no_revisit_flag():
    assert flags_at(local(2026, 10, 20), revisited_at=local(2026, 10, 12), **CLOSED) == set()


def test_no_progress_update_for_two_working_days_while_executing():
    fields = {"acknowledged_at": local(2026, 3, 2, 10), "plan_at": local(2026, 3, 4, 10)}
    update = LogEntry("SZ01-20260302-0001", local(2026, 3, 6, 10), LogKind.PROGRESS, "光缆已熔接")
    assert Flag.NO_PROGRESS not in flags_at(local(2026, 3, 6, 20), **fields)
    assert Flag.NO_PROGRESS in flags_at(local(2026, 3, 7, 0, 1), **fields)
    assert Flag.NO_PROGRESS not in flags_at(local(2026, 3, 7, 0, 1), log=[update], **fields)


def test_an_internal_note_is_not_a_progress_update():
    fields = {"acknowledged_at": local(2026, 3, 2, 10), "plan_at": local(2026, 3, 4, 10)}
    note = LogEntry("SZ01-20260302-0001", local(2026, 3, 6, 10), LogKind.NOTE, "内部讨论")
    assert Flag.NO_PROGRESS in flags_at(local(2026, 3, 7, 0, 1), log=[note], **fields)


def test_open_task_past_its_due_date_is_overdue():
    task = Task("SZ01-20260302-0001", 1, "更换光猫", "赵工", due=date(2026, 3, 3))
    done = Task("SZ01-20260302-0001", 2, "退费", "钱会计", due=date(2026, 3, 3), done_at=local(2026, 3, 3, 9))
    assert Flag.TASK_OVERDUE in flags_at(local(2026, 3, 4, 9), tasks=[task])
    assert Flag.TASK_OVERDUE not in flags_at(local(2026, 3, 4, 9), tasks=[done])
    assert Flag.TASK_DUE_SOON in flags_at(local(2026, 3, 3, 9), tasks=[task])


def test_incomplete_and_vague_tickets_are_flagged():
    flags = flags_at(local(2026, 3, 2, 10), place="", description="网络卡")
    assert {Flag.INFO_INCOMPLETE, Flag.VAGUE_DESCRIPTION} <= flags


def test_deadline_in_an_unpublished_year_shows_pending_calendar():
    flags = flags_at(local(2026, 12, 28), received_at=local(2026, 12, 24, 9))
    assert Flag.PENDING_CALENDAR in flags
    assert Flag.RESOLVE_OVERDUE not in flags


def test_cancelled_ticket_carries_no_flags():
    assert flags_at(local(2026, 4, 30), cancelled_at=local(2026, 3, 3), cancel_reason="撤诉") == set()


def test_refresh_sets_status_and_flags_on_the_ticket():
    ticket = refresh(make_ticket(), CLOCK, local(2026, 3, 4, 9))
    assert ticket.status is Status.NEW
    assert Flag.ACK_OVERDUE in ticket.flags


def test_evaluate_reports_out_of_order_milestones():
    result = evaluate(
        make_ticket(resolved_at=local(2026, 3, 6), feedback_at=local(2026, 3, 5)), CLOCK, local(2026, 3, 9)
    )
    assert [e.field for e in result.errors] == ["feedback_at"]


milestone_offsets = st.lists(st.integers(min_value=0, max_value=30 * 24), min_size=0, max_size=7)


@settings(max_examples=200)
@given(
    offsets=milestone_offsets,
    now_hours=st.integers(min_value=0, max_value=60 * 24),
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 10, 31)),
)
def test_recomputing_flags_twice_gives_the_same_result(offsets, now_hours, start):
    received = local(start.year, start.month, start.day, 9)
    names = MILESTONES[1:]
    moments = sorted(received + timedelta(hours=h) for h in offsets)
    ticket = make_ticket(received_at=received, **dict(zip(names, moments, strict=False)))
    now = received + timedelta(hours=now_hours)
    once = refresh(ticket, CLOCK, now)
    twice = refresh(once, CLOCK, now)
    assert twice == once
    assert once.flags == evaluate(ticket, CLOCK, now).flags
