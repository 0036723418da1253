"""Issue 15 item 2: a group incident handled as one — forgiving place names, one decision for every member,
progress broadcast, the group revisit and its head-office figure. The clock is pinned."""

from datetime import date, timedelta

import pytest

from complaints import figures
from complaints.calendar import WorkCalendar
from complaints.enums import Category, Flag, LogKind, Satisfaction
from complaints.groups import (
    GroupError,
    apply_compensation,
    apply_plan,
    broadcast,
    live_members,
    normalise_place,
    representative,
    revisit_rate,
    shared_task,
)
from complaints.kpis import compute_kpis
from complaints.levels import LevelRules, assess
from complaints.model import Task
from complaints.periods import Period
from complaints.pipeline import settle
from complaints.sla import SlaClock
from tests.factories import local, make_ticket

CLOCK = SlaClock(WorkCalendar())
NOW = local(2026, 3, 9, 10)
S, F, D = Satisfaction.SATISFIED, Satisfaction.FAIRLY_SATISFIED, Satisfaction.DISSATISFIED


@pytest.mark.parametrize(
    ("typed", "place"),
    [
        ("翠湖小区", "翠湖小区"),
        ("翠湖小区3栋", "翠湖小区"),
        ("翠湖小区 3 栋", "翠湖小区"),
        ("翠湖小区３栋", "翠湖小区"),  # full-width digit
        ("　翠湖小区　", "翠湖小区"),  # full-width blanks
        ("翠湖小区3号楼2单元501室", "翠湖小区"),
        ("翠湖小区3栋-2-501", "翠湖小区"),
        ("翠湖小区三幢", "翠湖小区"),
        ("翠湖小区A座18层", "翠湖小区"),
        ("翠湖小区12楼", "翠湖小区"),
        ("Cuihu Garden 3栋", "cuihugarden"),
        ("黄鹤楼", "黄鹤楼"),  # a name ending in 楼 without a number stays whole
        ("万科城2期", "万科城2期"),  # a phase is part of the estate, not a building
        ("3栋", "3栋"),  # nothing but a building: kept as typed
        ("", ""),
    ],
)
def test_place_names_are_compared_by_their_estate(typed, place):
    assert normalise_place(typed) == place


@pytest.mark.parametrize(
    ("suffixes", "typed", "place"),
    [
        (("栋",), "翠湖小区3栋", "翠湖小区"),
        (("栋",), "翠湖小区3单元", "翠湖小区3单元"),  # 单元 is no longer a suffix
        (("栋", "号"), "人民路88号", "人民路"),
        ((), "翠湖小区3栋", "翠湖小区3栋"),
    ],
)
def test_the_suffix_list_is_a_setting(suffixes, typed, place):
    assert normalise_place(typed, suffixes) == place


def _three(places):
    return [
        make_ticket(ticket_id=f"SZ01-20260302-000{i}", place=p, received_at=local(2026, 3, 2, 9 + i))
        for i, p in enumerate(places, 1)
    ]


@pytest.mark.parametrize(
    ("places", "rules", "grouped"),
    [
        (("翠湖小区", "翠湖小区3栋", "翠湖小区 5 栋 2 单元"), LevelRules(), True),
        (("翠湖小区", "翠湖小区３栋", "翠湖小区3号楼"), LevelRules(), True),
        (("翠湖小区", "翠湖小区3栋", "碧水花园"), LevelRules(), False),
        (("翠湖小区", "翠湖小区3单元", "翠湖小区4单元"), LevelRules(place_suffixes=("栋",)), False),
        (("翠湖小区", "翠湖小区3单元", "翠湖小区4单元"), LevelRules(place_suffixes=("单元",)), True),
    ],
)
def test_group_matching_forgives_what_people_type(places, rules, grouped):
    found = assess(_three(places), rules)
    assert {bool(a.group_id) for a in found.values()} == {grouped}
    if grouped:
        assert {a.group_id for a in found.values()} == {"SZ01-20260302-0001"}


def test_place_suffixes_setting_is_checked():
    assert LevelRules(place_suffixes=["栋", " 单元 "]).place_suffixes == ("栋", "单元")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="place_suffixes"):
        LevelRules(place_suffixes="栋")  # type: ignore[arg-type]


def _group(n=3, **fields):
    return [
        make_ticket(
            ticket_id=f"SZ01-20260302-000{i}",
            contact=f"1380013800{i}",
            group_id="SZ01-20260302-0001",
            received_at=local(2026, 3, 2, 9 + i),
            **fields,
        )
        for i in range(1, n + 1)
    ]


def test_the_representative_is_the_first_ticket_unless_another_is_chosen():
    members = live_members(list(reversed(_group())), "SZ01-20260302-0001")
    assert representative(members).ticket_id == "SZ01-20260302-0001"
    assert representative(members, members[2].sync_key).ticket_id == "SZ01-20260302-0003"
    assert representative(members, "unknown").ticket_id == "SZ01-20260302-0001"
    with pytest.raises(GroupError):
        representative([])


def test_cancelled_tickets_and_other_groups_are_not_members():
    members = _group()
    members[1].cancelled_at = NOW
    other = make_ticket(ticket_id="SZ01-20260302-0009", group_id="SZ01-20260302-0009")
    assert [t.ticket_id for t in live_members([*members, other], "SZ01-20260302-0001")] == [
        "SZ01-20260302-0001",
        "SZ01-20260302-0003",
    ]


@pytest.mark.parametrize(
    "given",
    [
        [None, None, None],
        ["退还两个月宽带费", None, "赠送 10GB 流量"],  # members' own earlier words are replaced
    ],
)
def test_one_compensation_decision_is_applied_to_every_member(given):
    members = _group()
    for ticket, text in zip(members, given, strict=True):
        ticket.compensation = text or ""
    decided = apply_compensation(members, "每户减免当月宽带费100元")
    assert {t.compensation for t in decided} == {"每户减免当月宽带费100元"}
    assert len(decided) == len(members)
    assert [t.compensation for t in members] == [text or "" for text in given]  # the originals untouched
    again = apply_compensation(decided, "每户减免当月宽带费100元")
    assert again == []  # applying it twice changes nothing
    with pytest.raises(GroupError):
        apply_compensation(members, " ")


def test_the_groups_plan_reaches_every_member_and_keeps_a_plan_already_communicated():
    members = _group(acknowledged_at=local(2026, 3, 2, 15))
    members[2].plan_at = local(2026, 3, 3, 11)
    planned = apply_plan(members, "更换小区光交箱分光器，3月6日前完成", local(2026, 3, 4, 10))
    assert [t.plan_at for t in planned] == [local(2026, 3, 4, 10)] * 2 + [local(2026, 3, 3, 11)]
    assert {t.plan for t in planned} == {"更换小区光交箱分光器，3月6日前完成"}
    for ticket in planned:
        assert Flag.PLAN_OVERDUE not in settle(None, ticket, now=NOW, clock=CLOCK, by="t").ticket.flags


def test_a_broadcast_progress_update_clears_no_progress_on_every_member():
    members = _group(
        acknowledged_at=local(2026, 3, 2, 15),
        routed_at=local(2026, 3, 2, 15),
        plan_at=local(2026, 3, 3, 10),
    )
    late = local(2026, 3, 9, 10)  # two working days and more after the plan, no update
    assert all(
        Flag.NO_PROGRESS in settle(None, t, now=late, clock=CLOCK, by="t").ticket.flags for t in members
    )
    entries = broadcast(
        members, "施工队已进场，预计周三恢复", late - timedelta(hours=1), "coordinator", "短信"
    )
    assert [(e.ticket_id, e.kind, e.channel) for e in entries] == [
        (t.ticket_id, LogKind.PROGRESS, "短信") for t in members
    ]
    for ticket, entry in zip(members, entries, strict=True):
        flags = settle(None, ticket, now=late, clock=CLOCK, by="t", progress=[entry]).ticket.flags
        assert Flag.NO_PROGRESS not in flags


def test_a_shared_task_becomes_every_members_next_task():
    members = _group()
    own = [Task("SZ01-20260302-0002", 1, "上门测速"), Task("SZ01-20260302-0002", 2, "更换光猫")]
    tasks = shared_task(members, own, "更换分光器", "网络部李工", date(2026, 3, 6))
    assert [(t.ticket_id, t.task_no, t.title, t.owner, t.due) for t in tasks] == [
        ("SZ01-20260302-0001", 1, "更换分光器", "网络部李工", date(2026, 3, 6)),
        ("SZ01-20260302-0002", 3, "更换分光器", "网络部李工", date(2026, 3, 6)),
        ("SZ01-20260302-0003", 1, "更换分光器", "网络部李工", date(2026, 3, 6)),
    ]


@pytest.mark.parametrize(
    ("answers", "rate"),
    [
        ([S, S, D, None], (2, 3)),  # one member not revisited yet: not counted
        ([S, F, D, D], (2, 4)),  # fairly satisfied counts as satisfied, as in the satisfaction figure
        ([None, None, None, None], (0, 0)),
        ([D, D, D, D], (0, 4)),
    ],
)
def test_group_revisit_rate_is_satisfied_members_over_revisited_members(answers, rate):
    members = _group(4)
    for ticket, answer in zip(members, answers, strict=True):
        if answer is not None:
            ticket.closed_at, ticket.revisited_at, ticket.satisfaction = NOW, NOW, answer
    assert revisit_rate(members) == rate
    if D in answers:  # a dissatisfied member is reopened (its revisit time emptied); its answer still counts
        unhappy = next(t for t in members if t.satisfaction is D)
        outcome = settle(None, unhappy, now=NOW, clock=CLOCK, by="t").ticket
        assert outcome.revisited_at is None and outcome.reopened_at == NOW
        reopened = [outcome if t is unhappy else t for t in members]
        assert revisit_rate(reopened) == rate
        kpis = compute_kpis(reopened, Period.month(2026, 3), CLOCK)  # the head-office figure counts it too
        assert (kpis.group_revisit.hits, kpis.group_revisit.total) == rate
    kpis = compute_kpis([*members, _lone(answer=S)], Period.month(2026, 3), CLOCK)
    assert (kpis.group_revisit.hits, kpis.group_revisit.total) == rate
    assert figures.GROUP_REVISIT.value(kpis) == (rate[0] / rate[1] if rate[1] else None)
    assert kpis.groups == 1
    assert figures.GROUP_REVISIT in figures.TABLE and figures.GROUP_INCIDENTS in figures.TABLE


def _lone(answer):
    """A ticket outside any group: its revisit counts in the satisfaction figure, not the group's."""
    return make_ticket(
        ticket_id="SZ01-20260302-0099",
        category=Category.BILLING_DISPUTE,
        closed_at=NOW,
        revisited_at=NOW,
        satisfaction=answer,
    )
