from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Category, Effect, Fishbone, Grade, Level, Satisfaction, Status
from complaints.kpis import Milestone, Rate, compute_kpis, kpi_breakdown
from complaints.levels import Basis
from complaints.model import Ticket
from complaints.periods import Period
from complaints.sla import SlaClock

SH = ZoneInfo("Asia/Shanghai")
CLOCK = SlaClock(WorkCalendar())
# October 2026: National Day holidays 1–7 Oct, Saturday 10 Oct is a make-up working day
OCT = Period.month(2026, 10)
# December 2026: 2027's holidays are not published, so deadlines reaching 1 Jan 2027 are pending
DEC = Period.month(2026, 12)


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


_serial = iter(range(1, 10_000))


def make_ticket(**fields) -> Ticket:
    fields.setdefault("ticket_id", f"SZ01-T{next(_serial):04d}")
    fields.setdefault("received_at", at(10, 12))
    fields.setdefault("branch", "SZ01")
    fields.setdefault("category", Category.NETWORK_FAULT)
    return Ticket(**fields)


def make_closed_ticket(**fields) -> Ticket:
    """Received Wed 30 Sep 2026 before the holidays and handled on time at every step.

    Deadlines: acknowledge by Thu 8 Oct (1 Oct–7 Oct are holidays), plan and minor
    resolution by Sat 10 Oct (make-up working day), feedback 24 h after resolution;
    closed Fri 9 Oct, so the revisit window is Tue 13 Oct – Mon 19 Oct.
    """
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
    return make_ticket(**values)


def kpis_for(tickets, period=OCT):
    return compute_kpis(tickets, period, CLOCK)


def test_type_distribution_counts_tickets_received_in_the_period_by_category():
    tickets = [
        make_ticket(category=Category.NETWORK_FAULT, received_at=at(10, 8)),
        make_ticket(category=Category.NETWORK_FAULT, received_at=at(10, 31, 23, 59)),
        # 16:30 UTC on 30 Sep is 00:30 on 1 Oct in Shenzhen
        make_ticket(category=Category.NETWORK_FAULT, received_at=datetime(2026, 9, 30, 16, 30, tzinfo=UTC)),
        make_ticket(category=Category.BILLING_DISPUTE),
        make_ticket(category=Category.BILLING_DISPUTE),
        make_ticket(category=None),
        make_ticket(category=Category.NETWORK_FAULT, received_at=at(9, 30, 23, 59)),
        make_ticket(category=Category.NETWORK_FAULT, received_at=at(11, 1, 0, 0)),
        make_ticket(category=Category.STAFF_ATTITUDE, status=Status.CANCELLED, cancelled_at=at(10, 13)),
    ]

    kpis = kpis_for(tickets)

    assert kpis.received == 6
    assert kpis.cancelled == 1
    assert kpis.by_category == {
        Category.NETWORK_FAULT: 3,
        Category.BILLING_DISPUTE: 2,
        Category.STAFF_ATTITUDE: 0,
        Category.HANDLING_ERROR: 0,
        Category.PRODUCT_TERMS: 0,
        Category.OTHER: 0,
    }
    assert kpis.uncategorised == 1


def test_resolution_rate_is_resolved_among_received_leaving_out_cancelled():
    tickets = [
        make_ticket(resolved_at=at(10, 13)),
        make_ticket(resolved_at=at(11, 3)),
        make_ticket(resolved_at=at(10, 14)),
        make_ticket(),
        make_ticket(resolved_at=at(10, 14), cancelled_at=at(10, 14), status=Status.CANCELLED),
        make_ticket(status=Status.CANCELLED, cancelled_at=at(10, 15)),
        # received in September: belongs to September's rate
        make_ticket(received_at=at(9, 28), resolved_at=at(10, 9)),
    ]

    kpis = kpis_for(tickets)

    assert kpis.resolution == Rate(hits=3, total=4, rate=0.75)


def test_satisfaction_is_the_share_of_revisits_satisfied_or_fairly_satisfied():
    tickets = [
        make_closed_ticket(satisfaction=Satisfaction.SATISFIED),
        make_closed_ticket(satisfaction=Satisfaction.SATISFIED),
        make_closed_ticket(satisfaction=Satisfaction.FAIRLY_SATISFIED),
        make_closed_ticket(satisfaction=Satisfaction.DISSATISFIED),
        make_closed_ticket(satisfaction=None),
        make_closed_ticket(revisited_at=at(11, 2), satisfaction=Satisfaction.DISSATISFIED),
    ]

    kpis = kpis_for(tickets)

    assert kpis.satisfaction == Rate(hits=3, total=4, rate=0.75)
    assert kpis.satisfaction_counts == {
        Satisfaction.SATISFIED: 2,
        Satisfaction.FAIRLY_SATISFIED: 1,
        Satisfaction.DISSATISFIED: 1,
    }


# Received Wed 30 Sep 10:00: acknowledge by Thu 8 Oct, plan by Sat 10 Oct (make-up day),
# resolve by Sat 10 Oct (minor, 3 working days) or Thu 15 Oct (moderate, 7 working days).
@pytest.mark.parametrize(
    ("fields", "milestone", "on_time"),
    [
        (dict(acknowledged_at=at(10, 8, 20)), Milestone.ACKNOWLEDGE, True),
        (dict(acknowledged_at=at(10, 9, 9)), Milestone.ACKNOWLEDGE, False),
        (dict(plan_at=at(10, 10, 16)), Milestone.PLAN, True),
        (dict(plan_at=at(10, 12, 9)), Milestone.PLAN, False),
        (dict(resolved_at=at(10, 10, 18)), Milestone.RESOLVE, True),
        (dict(resolved_at=at(10, 12, 9)), Milestone.RESOLVE, False),
        (dict(grade=Grade.MODERATE, resolved_at=at(10, 15, 17)), Milestone.RESOLVE, True),
        (dict(grade=Grade.MODERATE, resolved_at=at(10, 16, 9)), Milestone.RESOLVE, False),
        (dict(promised_at=at(10, 20, 18), resolved_at=at(10, 19, 17)), Milestone.RESOLVE, True),
        (dict(resolved_at=at(10, 12, 10), feedback_at=at(10, 13, 9, 59)), Milestone.FEEDBACK, True),
        (dict(resolved_at=at(10, 12, 10), feedback_at=at(10, 13, 10, 1)), Milestone.FEEDBACK, False),
        # closed Fri 9 Oct: revisit window Tue 13 Oct 00:00 – Mon 19 Oct 24:00
        (dict(closed_at=at(10, 9, 17), revisited_at=at(10, 12, 15)), Milestone.REVISIT, False),
        (dict(closed_at=at(10, 9, 17), revisited_at=at(10, 13, 0, 0)), Milestone.REVISIT, True),
        (dict(closed_at=at(10, 9, 17), revisited_at=at(10, 19, 18)), Milestone.REVISIT, True),
        (dict(closed_at=at(10, 9, 17), revisited_at=at(10, 20, 9)), Milestone.REVISIT, False),
    ],
)
def test_on_time_rate_of_a_milestone_follows_the_holiday_calendar(fields, milestone, on_time):
    ticket = make_ticket(received_at=at(9, 30, 10), **fields)

    kpis = kpis_for([ticket])

    expected = Rate(hits=1, total=1, rate=1.0) if on_time else Rate(hits=0, total=1, rate=0.0)
    assert kpis.on_time[milestone] == expected


def test_on_time_rate_counts_milestones_that_happened_in_the_period():
    tickets = [
        make_ticket(received_at=at(9, 30, 10), acknowledged_at=at(9, 30, 11)),
        make_ticket(received_at=at(9, 30, 10), acknowledged_at=at(10, 8, 9)),
        make_ticket(received_at=at(9, 30, 10), acknowledged_at=at(10, 9, 9)),
        make_ticket(received_at=at(10, 12, 10), acknowledged_at=at(10, 13, 9)),
        make_ticket(received_at=at(10, 12, 10)),
    ]

    kpis = kpis_for(tickets)

    assert kpis.on_time[Milestone.ACKNOWLEDGE] == Rate(hits=2, total=3, rate=2 / 3)
    assert kpis.on_time[Milestone.PLAN] == Rate(hits=0, total=0, rate=None)


def test_closed_loop_timeliness_needs_every_deadline_met():
    tickets = [
        make_closed_ticket(),
        make_closed_ticket(revisited_at=None, satisfaction=None),
        make_closed_ticket(plan_at=at(10, 12, 9)),
        make_closed_ticket(revisited_at=at(10, 12, 10)),
        make_closed_ticket(plan_at=None),
        make_closed_ticket(feedback_at=at(10, 10, 10, 1)),
        # closed in September: not this period's closure
        make_closed_ticket(received_at=at(9, 21), closed_at=at(9, 24), revisited_at=None),
        # not closed yet
        make_closed_ticket(closed_at=None, revisited_at=None),
    ]

    kpis = kpis_for(tickets)

    assert kpis.closed_loop == Rate(hits=2, total=6, rate=2 / 6)


def test_median_working_days_to_close_skips_holidays_and_counts_the_make_up_saturday():
    tickets = [
        # 30 Sep → 9 Oct: 8 and 9 Oct are the only working days
        make_closed_ticket(closed_at=at(10, 9, 17)),
        make_closed_ticket(closed_at=at(10, 9, 18)),
        # 30 Sep → 12 Oct: 8, 9, 10 (Saturday make-up), 12 Oct
        make_closed_ticket(closed_at=at(10, 12, 17), revisited_at=None),
        # 12 Oct → 19 Oct: 13, 14, 15, 16, 19 Oct
        make_closed_ticket(received_at=at(10, 12, 9), closed_at=at(10, 19, 17), revisited_at=None),
    ]

    kpis = kpis_for(tickets)

    assert kpis.median_workdays_to_close == 3.0


def test_pending_calendar_makes_a_milestone_unknown_not_late():
    tickets = [
        # received Wed 30 Dec: acknowledge by Thu 31 Dec
        make_ticket(received_at=at(12, 30, 10), acknowledged_at=at(12, 31, 10)),
        # received Thu 31 Dec: the next working day is in 2027, whose holidays are unknown
        make_ticket(received_at=at(12, 31, 10), acknowledged_at=at(12, 31, 11)),
    ]

    kpis = kpis_for(tickets, DEC)

    assert kpis.on_time[Milestone.ACKNOWLEDGE] == Rate(hits=1, total=1, rate=1.0, unknown=1)


def test_pending_calendar_leaves_closed_loop_unknown_unless_a_known_deadline_was_missed():
    tickets = [
        # received Mon 28 Dec: plan and resolution due Thu 31 Dec, all known and met
        make_ticket(
            received_at=at(12, 28, 10),
            acknowledged_at=at(12, 28, 11),
            plan_at=at(12, 29, 10),
            resolved_at=at(12, 30, 10),
            feedback_at=at(12, 30, 15),
            closed_at=at(12, 30, 16),
        ),
        # received Wed 30 Dec: plan due on the 3rd working day, in unpublished 2027
        make_ticket(
            received_at=at(12, 30, 10),
            acknowledged_at=at(12, 30, 11),
            plan_at=at(12, 31, 9),
            resolved_at=at(12, 31, 10),
            feedback_at=at(12, 31, 15),
            closed_at=at(12, 31, 16),
        ),
        # received Tue 29 Dec: acknowledged after Wed 30 Dec — late whatever 2027 brings
        make_ticket(
            received_at=at(12, 29, 10),
            acknowledged_at=at(12, 31, 9),
            plan_at=at(12, 31, 10),
            resolved_at=at(12, 31, 11),
            feedback_at=at(12, 31, 15),
            closed_at=at(12, 31, 16),
        ),
    ]

    kpis = kpis_for(tickets, DEC)

    assert kpis.closed_loop == Rate(hits=1, total=2, rate=0.5, unknown=1)


def test_median_working_days_is_none_when_every_closure_needs_an_unpublished_year():
    january = Period.month(2027, 1)
    ticket = make_ticket(received_at=at(12, 30), closed_at=at(1, 5, year=2027))

    kpis = kpis_for([ticket], january)

    assert kpis.median_workdays_to_close is None


def test_root_cause_improvement_rate_is_per_department():
    effective = {"effect": Effect.EFFECTIVE, "improvement_done": True}
    tickets = [
        make_ticket(department="网络部", root_cause="老旧光交箱过载", **effective),
        make_ticket(department="网络部", root_cause="老旧光交箱过载", **effective),
        make_ticket(department="网络部", root_cause="基站退服", improvement_done=False),
        make_ticket(department="网络部", root_cause="  "),
        make_ticket(department="市场部", root_cause="计费规则配置错误", improvement_done=False),
        make_ticket(department="市场部", root_cause="计费规则配置错误", received_at=at(9, 3)),
        # traced to a fishbone branch without a text: counted; its cause recurred: not effective
        make_ticket(department="市场部", fishbone=Fishbone.SYSTEM, effect=Effect.RECURRED),
        # still watched: left out of the rate, counted as unknown
        make_ticket(department="网络部", root_cause="基站退服", effect=Effect.WATCHING),
    ]

    kpis = kpis_for(tickets)

    assert kpis.improvement_by_department == {
        "市场部": Rate(hits=0, total=2, rate=0.0),
        "网络部": Rate(hits=2, total=3, rate=2 / 3, unknown=1),
    }
    assert kpis.improvement == Rate(hits=2, total=5, rate=0.4, unknown=1)
    assert kpis.fishbone[Fishbone.SYSTEM] == 1
    assert [(c.cause, c.tickets) for c in kpis.root_causes] == [
        ("基站退服", 2),
        ("老旧光交箱过载", 2),
        ("计费规则配置错误", 1),
    ]


def test_warning_levels_repeat_and_group_complaints_are_counted():
    repeat = f"{Basis.GROUP},{Basis.REPEAT}"
    tickets = [
        make_ticket(level=Level.RED, contact="138 0013 8000", group_id="G-1", level_basis=repeat),
        make_ticket(level=Level.YELLOW, contact="+86 138-0013-8000", group_id="G-1", level_basis=repeat),
        make_ticket(level=Level.YELLOW, contact="13900139000", group_id="G-1", level_basis=Basis.REPEAT),
        make_ticket(contact="13900139000", group_id=" G-2 ", level_basis=Basis.REPEAT),
        make_ticket(contact="13900139000", group_id="G-2"),  # resolved before the other came: no repeat
        make_ticket(contact="13700137000", group_id="  "),
        # September's tickets are September's
        make_ticket(contact="13700137000", received_at=at(9, 15), level=Level.RED, level_basis=Basis.REPEAT),
        # a cancelled ticket counts as cancelled only
        make_ticket(level=Level.RED, group_id="G-3", level_basis=Basis.REPEAT, cancelled_at=at(10, 13)),
    ]

    kpis = kpis_for(tickets)

    assert (kpis.red, kpis.yellow) == (1, 2)
    assert (kpis.repeat_customers, kpis.repeat_tickets) == (2, 4)
    assert (kpis.groups, kpis.group_tickets) == (2, 5)


def test_breakdown_gives_the_same_figures_per_branch_and_per_department():
    tickets = [
        make_ticket(branch="SZ01", department="网络部", resolved_at=at(10, 13)),
        make_ticket(branch="SZ01", department="市场部", category=Category.BILLING_DISPUTE),
        make_ticket(branch="GZ02", department="网络部", resolved_at=at(10, 14), level=Level.RED),
        make_ticket(branch="GZ02", department=""),
        # August ticket with nothing happening in October: no SZ03 row
        make_ticket(branch="SZ03", department="网络部", received_at=at(8, 3)),
    ]

    result = kpi_breakdown(tickets, OCT, CLOCK)

    assert result.overall.received == 4
    assert list(result.by_branch) == ["GZ02", "SZ01"]
    assert result.by_branch["SZ01"].resolution == Rate(hits=1, total=2, rate=0.5)
    assert result.by_branch["GZ02"].red == 1
    assert list(result.by_department) == ["", "市场部", "网络部"]
    assert result.by_department["网络部"].resolution == Rate(hits=2, total=2, rate=1.0)
    assert result.by_department["市场部"].by_category[Category.BILLING_DISPUTE] == 1
    assert result.by_department[""].received == 1


def test_a_branch_appears_when_a_milestone_falls_in_the_period_even_if_received_earlier():
    ticket = make_closed_ticket(branch="SZ03")

    result = kpi_breakdown([ticket], OCT, CLOCK)

    assert list(result.by_branch) == ["SZ03"]
    assert result.by_branch["SZ03"].received == 0
    assert result.by_branch["SZ03"].closed_loop == Rate(hits=1, total=1, rate=1.0)


def test_empty_period_has_no_rates_rather_than_zero():
    kpis = kpis_for([])

    assert kpis.received == 0
    assert kpis.resolution.rate is None
    assert kpis.satisfaction.rate is None
    assert kpis.closed_loop.rate is None
    assert kpis.median_workdays_to_close is None
    assert all(rate.rate is None for rate in kpis.on_time.values())


def test_rows_for_display_have_chinese_labels_by_default():
    tickets = [
        make_ticket(
            resolved_at=at(10, 13), department="网络部", root_cause="基站退服", effect=Effect.EFFECTIVE
        ),
        make_ticket(category=Category.BILLING_DISPUTE),
    ]

    rows = dict(kpis_for(tickets).as_rows())

    assert rows["受理量"] == 2
    assert rows["类型分布：网络故障"] == 1
    assert rows["类型分布：资费争议"] == 1
    assert rows["解决率"] == 0.5
    assert rows["满意度"] is None
    assert rows["按时率：首次响应"] is None
    assert rows["溯源改进率：网络部"] == 1.0
    assert rows["红色预警"] == 0


def test_rows_for_display_in_english():
    tickets = [make_closed_ticket(satisfaction=Satisfaction.FAIRLY_SATISFIED)]

    rows = dict(kpis_for(tickets).as_rows("en"))

    assert rows["Complaints received"] == 0
    assert rows["Satisfaction rate"] == 1.0
    assert rows["Revisit: Fairly satisfied"] == 1
    assert rows["Closed-loop timeliness"] == 1.0
    assert rows["Median working days to close"] == 2.0
    assert rows["On-time rate: Revisit"] == 1.0


def test_major_cases_and_their_plans_on_time_24_elapsed_hours_across_the_weekend():
    """A major case received Friday 16 Oct 18:00 has its plan due Saturday 18:00, weekend or not."""
    friday = at(10, 16, 18)
    tickets = [
        make_ticket(grade=Grade.MAJOR, received_at=friday, plan_at=at(10, 17, 17)),  # on time
        make_ticket(grade=Grade.MAJOR, received_at=friday, plan_at=at(10, 17, 19)),  # an hour late
        make_ticket(grade=Grade.MAJOR, received_at=friday),  # no plan yet: counted, not rated
        # a moderate ticket's plan is due in working days: not a major case
        make_ticket(grade=Grade.MODERATE, received_at=friday, plan_at=at(10, 17, 19)),
        # a cancelled major case counts only as cancelled
        make_ticket(grade=Grade.MAJOR, received_at=friday, plan_at=at(10, 17, 9), cancelled_at=at(10, 17, 8)),
        # September's major case is September's, though its plan came in October
        make_ticket(grade=Grade.MAJOR, received_at=at(9, 30, 20), plan_at=at(10, 1, 10)),
    ]

    kpis = kpis_for(tickets)

    assert kpis.major == 3
    assert kpis.major_plan == Rate(hits=1, total=2, rate=0.5)
    rows = dict(kpis.as_rows())
    assert (rows["重大投诉单"], rows["重大方案及时率"]) == (3, 0.5)
    rows_en = dict(kpis.as_rows("en"))
    assert (rows_en["Major cases"], rows_en["Major plans on time"]) == (3, 0.5)
    by_branch = kpi_breakdown(tickets, OCT, CLOCK).by_branch["SZ01"]
    assert (by_branch.major, by_branch.major_plan) == (kpis.major, kpis.major_plan)


def test_no_major_case_means_no_major_plan_rate():
    kpis = kpis_for([make_ticket(grade=Grade.MINOR, plan_at=at(10, 12, 10))])

    assert (kpis.major, kpis.major_plan.rate) == (0, None)
