from datetime import UTC, datetime, timedelta

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Grade
from complaints.sla import PENDING, SlaClock, SlaPolicy
from tests.factories import local, make_ticket

CLOCK = SlaClock(WorkCalendar())


def eod(y: int, m: int, d: int) -> datetime:
    return local(y, m, d, 23, 59, 59)


@pytest.mark.parametrize(
    ("received", "ack", "plan"),
    [
        (local(2026, 3, 2, 9, 10), eod(2026, 3, 3), eod(2026, 3, 5)),  # Monday: due Tuesday / Thursday
        (local(2026, 2, 13, 16, 0), eod(2026, 2, 14), eod(2026, 2, 25)),  # Spring Festival, make-up Saturday
        (local(2026, 4, 3, 10, 0), eod(2026, 4, 7), eod(2026, 4, 9)),  # Qingming
        (local(2026, 4, 30, 10, 0), eod(2026, 5, 6), eod(2026, 5, 8)),  # Labour Day
        (local(2026, 5, 7, 10, 0), eod(2026, 5, 8), eod(2026, 5, 11)),  # make-up Saturday 9 May counts
        (local(2026, 9, 30, 9, 10), eod(2026, 10, 8), eod(2026, 10, 10)),  # National Day + make-up 10 Oct
        (local(2026, 9, 19, 11, 0), eod(2026, 9, 20), eod(2026, 9, 22)),  # Saturday receipt, make-up Sunday
    ],
)
def test_acknowledge_and_plan_due_in_working_days(received, ack, plan):
    deadlines = CLOCK.deadlines(make_ticket(received_at=received))
    assert deadlines.acknowledge == ack
    assert deadlines.plan == plan


def test_receipt_in_utc_is_dated_in_shanghai_before_counting():
    # 17:00 UTC on Friday 13 Feb is 01:00 on Saturday 14 Feb (a make-up working day) in Shanghai:
    # the receipt day is the 14th, so acknowledgement is due after the Spring Festival, not on the 14th.
    received = datetime(2026, 2, 13, 17, 0, tzinfo=UTC)
    assert CLOCK.deadlines(make_ticket(received_at=received)).acknowledge == eod(2026, 2, 24)


def test_branch_time_zone_changes_the_receipt_date():
    received = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # Tuesday 00:30 in Shanghai
    utc_clock = SlaClock(WorkCalendar(), SlaPolicy(tz="UTC"))
    assert CLOCK.deadlines(make_ticket(received_at=received)).acknowledge.date().isoformat() == "2026-03-04"
    assert (
        utc_clock.deadlines(make_ticket(received_at=received)).acknowledge.date().isoformat() == "2026-03-03"
    )


@pytest.mark.parametrize(
    ("grade", "resolve"),
    [(Grade.MINOR, eod(2026, 3, 5)), (Grade.MODERATE, eod(2026, 3, 11)), (Grade.MAJOR, eod(2026, 3, 23))],
)
def test_promised_resolution_defaults_by_grade(grade, resolve):
    assert CLOCK.deadlines(make_ticket(grade=grade)).resolve == resolve


def test_resolution_defaults_are_configurable():
    policy = SlaPolicy(resolve_workdays={Grade.MINOR: 1, Grade.MODERATE: 2, Grade.MAJOR: 5})
    clock = SlaClock(WorkCalendar(), policy)
    assert clock.deadlines(make_ticket(grade=Grade.MODERATE)).resolve == eod(2026, 3, 4)


def test_a_promised_date_replaces_the_default():
    promised = local(2026, 3, 20, 18, 0)
    assert CLOCK.deadlines(make_ticket(promised_at=promised)).resolve == promised


def test_department_feedback_counts_from_routing():
    ticket = make_ticket(routed_at=local(2026, 9, 30, 10, 0), grade=Grade.MAJOR)
    assert CLOCK.deadlines(ticket).dept_feedback == eod(2026, 10, 8)


def test_feedback_is_due_24_elapsed_hours_after_resolution():
    ticket = make_ticket(resolved_at=local(2026, 9, 30, 15, 0))
    assert CLOCK.deadlines(ticket).feedback == local(2026, 10, 1, 15, 0)


def test_revisit_window_runs_from_third_to_seventh_working_day_after_closure():
    ticket = make_ticket(closed_at=local(2026, 9, 29, 17, 0))  # Tuesday before National Day
    deadlines = CLOCK.deadlines(ticket)
    # working days after 29 Sep: 30 Sep, 8 Oct, 9 Oct (3rd), 10 Oct (make-up), 12, 13, 14 Oct (7th)
    assert deadlines.revisit_from == local(2026, 10, 9, 0, 0)
    assert deadlines.revisit_until == eod(2026, 10, 14)


def test_appeal_risk_is_fifteen_calendar_days_after_receipt():
    ticket = make_ticket(received_at=local(2026, 9, 30, 9, 10))
    assert CLOCK.deadlines(ticket).appeal_risk == local(2026, 10, 15, 9, 10)


def test_valid_extension_moves_the_plan_deadline():
    ticket = make_ticket(
        extension_requested_at=local(2026, 3, 4, 10, 0),
        extension_reason="需厂家到场检测光缆",
        extension_customer_informed=True,
        extension_until=local(2026, 3, 10, 12, 0),
    )
    plan, error = CLOCK.plan_due(ticket)
    assert (plan, error) == (eod(2026, 3, 10), "")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"extension_requested_at": local(2026, 3, 6, 9, 0)}, "after the plan deadline"),
        ({"extension_reason": " "}, "reason missing"),
        ({"extension_customer_informed": False}, "customer not informed"),
        ({"extension_until": None}, "new plan date missing"),
    ],
)
def test_invalid_extension_keeps_the_original_deadline_and_says_why(changes, problem):
    fields = {
        "extension_requested_at": local(2026, 3, 4, 10, 0),
        "extension_reason": "需厂家到场检测光缆",
        "extension_customer_informed": True,
        "extension_until": local(2026, 3, 10, 12, 0),
    }
    fields.update(changes)
    plan, error = CLOCK.plan_due(make_ticket(**fields))
    assert plan == eod(2026, 3, 5)
    assert problem in error


def test_deadline_in_an_unpublished_year_is_pending_not_guessed():
    deadlines = CLOCK.deadlines(make_ticket(received_at=local(2026, 12, 24, 9, 0), grade=Grade.MAJOR))
    assert deadlines.acknowledge == eod(2026, 12, 25)
    assert deadlines.resolve == PENDING
    assert deadlines.pending


def test_second_investigation_restarts_plan_and_resolution_clocks():
    ticket = make_ticket(reopened_at=local(2026, 4, 1, 10, 0), grade=Grade.MINOR)
    deadlines = CLOCK.deadlines(ticket)
    assert deadlines.plan == eod(2026, 4, 7)  # 2 Apr, 3 Apr, then Qingming, 7 Apr
    assert deadlines.acknowledge == eod(2026, 3, 3)
    assert deadlines.appeal_risk == local(2026, 4, 1, 10, 0) + timedelta(days=15)
