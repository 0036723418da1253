"""Issue 15 items 1, 3 and 8: major cases, repeat complaints as the standard means them, routing on time."""

from datetime import timedelta

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Category, Flag, Grade, Level, LogKind, Status
from complaints.flags import evaluate
from complaints.levels import Assessment, Basis, LevelRules, assess, own_bases
from complaints.model import LogEntry
from complaints.pipeline import settle
from complaints.sla import SlaClock, SlaPolicy, policy_from_settings
from tests.factories import local, make_ticket

CLOCK = SlaClock(WorkCalendar())


def eod(y: int, m: int, d: int):
    return local(y, m, d, 23, 59, 59)


# --- item 1: the emergency path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "fields", "plan_due"),
    [
        # Friday afternoon: 24 elapsed hours end on Saturday; a moderate ticket waits for Wednesday
        (local(2026, 9, 25, 15), {"grade": Grade.MAJOR}, local(2026, 9, 26, 15)),
        (local(2026, 9, 25, 15), {"grade": Grade.MODERATE}, eod(2026, 9, 30)),
        # the eve of National Day: due on the holiday itself; moderate after the week off (make-up Sat 10 Oct)
        (local(2026, 9, 30, 9, 10), {"grade": Grade.MAJOR}, local(2026, 10, 1, 9, 10)),
        (local(2026, 9, 30, 9, 10), {"grade": Grade.MODERATE}, eod(2026, 10, 10)),
        # a group incident is yellow (群体质疑), not major by itself: the coordinator grades a dispute major
        (local(2026, 9, 30, 9, 10), {"grade": Grade.MINOR, "group_id": "G1"}, eod(2026, 10, 10)),
    ],
)
def test_major_plan_is_due_24_elapsed_hours_after_receipt_through_weekends_and_holidays(
    received, fields, plan_due
):
    assert CLOCK.deadlines(make_ticket(received_at=received, **fields)).plan == plan_due


@pytest.mark.parametrize(
    ("grade", "now", "overdue"),
    [
        (Grade.MAJOR, local(2026, 10, 1, 9, 10), False),
        (Grade.MAJOR, local(2026, 10, 1, 9, 11), True),  # National Day: the 24 hours have run out
        (Grade.MODERATE, local(2026, 10, 1, 9, 11), False),
    ],
)
def test_a_major_ticket_without_a_plan_after_24_hours_is_flagged(grade, now, overdue):
    ticket = make_ticket(received_at=local(2026, 9, 30, 9, 10), grade=grade, routed_at=local(2026, 9, 30, 10))
    assert (Flag.PLAN_OVERDUE in evaluate(ticket, CLOCK, now).flags) is overdue


def test_with_emergency_groups_every_group_incident_takes_the_emergency_path():
    clock = SlaClock(WorkCalendar(), SlaPolicy(emergency_groups=True))
    received = local(2026, 9, 30, 9, 10)
    member = make_ticket(received_at=received, grade=Grade.MINOR, group_id="G1")
    assert clock.deadlines(member).plan == local(2026, 10, 1, 9, 10)
    assert Flag.CHECKLIST_INCOMPLETE in evaluate(member, clock, received).flags
    assert Flag.CHECKLIST_INCOMPLETE not in evaluate(member, CLOCK, received).flags


def test_per_grade_plan_hours_are_configurable():
    clock = SlaClock(WorkCalendar(), SlaPolicy(plan_hours={Grade.MAJOR: 12, Grade.MODERATE: 48}))
    received = local(2026, 9, 30, 9, 10)
    assert clock.deadlines(make_ticket(received_at=received, grade=Grade.MAJOR)).plan == received + timedelta(
        hours=12
    )
    assert clock.deadlines(
        make_ticket(received_at=received, grade=Grade.MODERATE)
    ).plan == received + timedelta(hours=48)
    assert clock.deadlines(make_ticket(received_at=received, grade=Grade.MINOR)).plan == eod(2026, 10, 10)


EXECUTING = {
    "received_at": local(2026, 9, 29, 9),
    "acknowledged_at": local(2026, 9, 29, 10),
    "routed_at": local(2026, 9, 29, 10),
    "plan_at": local(2026, 9, 29, 16),
    "emergency_plan_at": local(2026, 9, 29, 12),
    "legal_review_at": local(2026, 9, 29, 14),
    "external_statement_at": local(2026, 9, 29, 15),
}


@pytest.mark.parametrize(
    ("grade", "now", "late"),
    [
        (Grade.MAJOR, local(2026, 10, 3, 10), False),  # reported on 2 Oct 10:00: a day has not passed
        (Grade.MAJOR, local(2026, 10, 3, 10, 1), True),  # daily during works, holidays or not
        (Grade.MODERATE, local(2026, 10, 3, 10, 1), False),  # two working days: after the holiday week
        (Grade.MODERATE, local(2026, 10, 10, 0, 1), True),
    ],
)
def test_major_cases_report_progress_daily_others_every_two_working_days(grade, now, late):
    ticket = make_ticket(grade=grade, **EXECUTING)
    log = [LogEntry(ticket.ticket_id, local(2026, 10, 2, 10), LogKind.PROGRESS, "扩容施工中")]
    assert (Flag.NO_PROGRESS in evaluate(ticket, CLOCK, now, log=log).flags) is late


@pytest.mark.parametrize(
    ("fields", "incomplete"),
    [
        ({"grade": Grade.MAJOR}, True),
        ({"grade": Grade.MAJOR, "emergency_plan_at": local(2026, 9, 29, 12)}, True),
        ({"grade": Grade.MAJOR, **EXECUTING}, False),
        ({"grade": Grade.MINOR, "group_id": "G1"}, False),
        ({"grade": Grade.MODERATE}, False),
        (
            {"grade": Grade.MAJOR, **EXECUTING, "emergency_plan_at": None, "resolved_at": local(2026, 10, 9)},
            False,
        ),
    ],
)
def test_the_emergency_checklist_is_tracked_until_the_case_is_resolved(fields, incomplete):
    ticket = make_ticket(**{"received_at": local(2026, 9, 29, 9), **fields})
    flags = evaluate(ticket, CLOCK, local(2026, 9, 29, 18)).flags
    assert (Flag.CHECKLIST_INCOMPLETE in flags) is incomplete


# --- item 8: routing on time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "routed", "after", "flagged"),
    [
        (SlaPolicy(), False, timedelta(hours=4), False),
        (SlaPolicy(), False, timedelta(hours=4, minutes=1), True),  # Friday 17:00 → Friday 21:01
        (SlaPolicy(), True, timedelta(days=3), False),
        (SlaPolicy(route_hours=1), False, timedelta(hours=1, minutes=1), True),
        (SlaPolicy(route_hours=48), False, timedelta(hours=47), False),
    ],
)
def test_a_ticket_not_routed_within_the_configured_time_is_flagged(policy, routed, after, flagged):
    received = local(2026, 9, 25, 17)
    ticket = make_ticket(received_at=received, routed_at=received + timedelta(minutes=30) if routed else None)
    flags = evaluate(ticket, SlaClock(WorkCalendar(), policy), received + after).flags
    assert (Flag.ROUTE_OVERDUE in flags) is flagged
    assert Flag.ROUTE_OVERDUE.is_overdue
    assert (Flag.ROUTE_OVERDUE.zh, Flag.ROUTE_OVERDUE.en) == ("分派超时", "Routing overdue")


def test_a_cancelled_or_resolved_ticket_is_never_routing_overdue():
    received = local(2026, 9, 25, 17)
    now = received + timedelta(days=2)
    for fields in (
        {"cancelled_at": received + timedelta(hours=1)},
        {"resolved_at": received + timedelta(hours=1)},
    ):
        assert (
            Flag.ROUTE_OVERDUE not in evaluate(make_ticket(received_at=received, **fields), CLOCK, now).flags
        )


# --- item 3: repeat complaints -------------------------------------------------------------------------


def resolved_earlier(resolved_on, **fields):
    return make_ticket(
        ticket_id="SZ01-20260801-0001",
        received_at=resolved_on - timedelta(days=3),
        resolved_at=resolved_on,
        **fields,
    )


@pytest.mark.parametrize(
    ("earlier", "later", "rules", "repeat"),
    [
        # the same customer, the same problem, 19 days after it was marked resolved
        (resolved_earlier(local(2026, 9, 1, 10)), {}, LevelRules(), True),
        # 30 days to the minute is still within the window; a minute more is not
        (resolved_earlier(local(2026, 8, 21, 9, 10)), {}, LevelRules(), True),
        (resolved_earlier(local(2026, 8, 21, 9, 9)), {}, LevelRules(), False),
        # the window is configurable
        (resolved_earlier(local(2026, 8, 1, 10)), {}, LevelRules(repeat_days=60), True),
        (resolved_earlier(local(2026, 8, 1, 10)), {}, LevelRules(), False),
        # another problem, or another customer, is not a repeat
        (
            resolved_earlier(local(2026, 9, 1, 10)),
            {"category": Category.BILLING_DISPUTE},
            LevelRules(),
            False,
        ),
        (resolved_earlier(local(2026, 9, 1, 10)), {"contact": "13900139000"}, LevelRules(), False),
        # the same number written another way is the same customer
        (resolved_earlier(local(2026, 9, 1, 10)), {"contact": "+86 138-0013-8000"}, LevelRules(), True),
        # an earlier ticket cancelled, not resolved, does not count
        (
            resolved_earlier(local(2026, 9, 1, 10), cancelled_at=local(2026, 9, 1, 11)),
            {},
            LevelRules(),
            False,
        ),
    ],
)
def test_complaining_again_after_a_resolution_within_the_window_is_a_repeat(earlier, later, rules, repeat):
    again = make_ticket(ticket_id="SZ01-20260920-0001", received_at=local(2026, 9, 20, 9, 10), **later)
    found = assess([earlier, again], rules)
    assert (Basis.REPEAT in found[again.sync_key].bases) is repeat
    assert Basis.REPEAT not in found[earlier.sync_key].bases  # the resolved ticket itself stays as it was


def test_two_open_tickets_of_one_customer_are_still_a_repeat():
    first = make_ticket(ticket_id="A", category=Category.BILLING_DISPUTE)
    second = make_ticket(ticket_id="B", received_at=local(2026, 3, 3, 9))
    found = assess([first, second])
    assert all(Basis.REPEAT in found[t.sync_key].bases for t in (first, second))


@pytest.mark.parametrize(("objections", "repeat"), [(0, False), (1, False), (2, True), (3, True)])
def test_objecting_twice_is_a_repeat_complaint(objections, repeat):
    assert (Basis.REPEAT in own_bases(make_ticket(objection_count=objections))) is repeat


def test_the_second_objection_turns_the_ticket_yellow_when_it_is_recorded():
    fed_back = make_ticket(
        acknowledged_at=local(2026, 3, 2, 10),
        routed_at=local(2026, 3, 2, 10),
        plan_at=local(2026, 3, 3, 10),
        resolved_at=local(2026, 3, 6, 10),
        feedback_at=local(2026, 3, 6, 15),
        objection_count=1,
        objection_demand="要求赔偿",
    )
    objected = make_ticket(**{**_fields(fed_back), "objection_demand": "要求再赔偿一个月月租"})
    outcome = settle(
        fed_back,
        objected,
        now=local(2026, 3, 9, 10),
        clock=CLOCK,
        by="李四",
        assessment=Assessment(frozenset()),
    )
    assert outcome.ticket.objection_count == 2
    assert outcome.ticket.status is Status.REINVESTIGATING
    assert outcome.ticket.level is Level.YELLOW
    assert outcome.ticket.level_basis == Basis.REPEAT
    assert [e.kind for e in outcome.log] == [LogKind.OBJECTION, LogKind.ESCALATION]


def _fields(ticket):
    return {name: getattr(ticket, name) for name in ticket.__slots__ if name not in ("status", "flags")}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"route_hours": "soon"}, "route_hours must be a whole number"),
        ({"route_hours": -1}, "route_hours must be a whole number"),
        ({"plan_hours": {"huge": 1}}, "plan_hours: 'huge' is not a valid Grade"),
        ({"emergency_groups": "yes"}, "emergency_groups must be true or false"),
        ({"route_minutes": 5}, "unknown setting 'route_minutes'"),
    ],
)
def test_bad_policy_settings_are_refused_naming_them(settings, message):
    with pytest.raises(ValueError, match=message):
        policy_from_settings(settings)


def test_policy_settings_merge_working_days_and_replace_hours():
    policy = policy_from_settings({"resolve_workdays": {"major": 10}, "plan_hours": {"moderate": 48}})
    assert policy.resolve_workdays == {Grade.MINOR: 3, Grade.MODERATE: 7, Grade.MAJOR: 10}
    assert policy.plan_hours == {Grade.MODERATE: 48}  # major now counts working days
