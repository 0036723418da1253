import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaints.enums import Category, Channel, Grade, Level, LogKind
from complaints.levels import (
    REMEDIES,
    Assessment,
    Basis,
    LevelError,
    LevelRules,
    apply_assessment,
    assess,
    deescalate,
    escalate,
    reason_in,
)
from tests.factories import local, make_ticket

AT = local(2026, 3, 3, 15, 0)


@pytest.mark.parametrize("grade", list(Grade))
def test_every_grade_has_a_remedy_in_both_languages(grade):
    assert REMEDIES[grade].zh and REMEDIES[grade].en


def test_major_remedy_involves_senior_management_legal_and_pr():
    assert "高层" in REMEDIES[Grade.MAJOR].zh and "PR" in REMEDIES[Grade.MAJOR].en


@pytest.mark.parametrize(("start", "end"), [(Level.BLUE, Level.YELLOW), (Level.YELLOW, Level.RED)])
def test_escalate_raises_one_level_and_records_who_why_and_head(start, end):
    ticket, record, entry = escalate(make_ticket(level=start), "客户微博发帖", "李四", AT, head="王部长")
    assert ticket.level is end
    assert ticket.escalated_to == "王部长" and ticket.escalated_at == AT
    assert (record.from_level, record.to_level, record.by, record.reason) == (
        start,
        end,
        "李四",
        "客户微博发帖",
    )
    assert entry.kind is LogKind.ESCALATION and "客户微博发帖" in entry.text


def test_red_cannot_be_escalated_further():
    with pytest.raises(LevelError, match="red"):
        escalate(make_ticket(level=Level.RED), "x", "李四", AT)


def test_escalation_without_reason_is_refused():
    with pytest.raises(LevelError, match="reason"):
        escalate(make_ticket(), "", "李四", AT)


def test_deescalation_with_reason_lowers_one_level_and_is_audited():
    ticket, record, entry = deescalate(make_ticket(level=Level.RED), "媒体已撤稿", "王部长", AT)
    assert ticket.level is Level.YELLOW
    assert entry.kind is LogKind.DEESCALATION and record.by == "王部长"


@given(reason=st.text(alphabet=" \t\n\r", max_size=5), level=st.sampled_from([Level.YELLOW, Level.RED]))
def test_deescalation_never_happens_without_a_reason(reason, level):
    with pytest.raises(LevelError):
        deescalate(make_ticket(level=level), reason, "王部长", AT)


def neighbours(n, days_apart=1, place="阳光花园小区", category=Category.NETWORK_FAULT):
    return [
        make_ticket(
            ticket_id=f"SZ01-2026030{i + 2}-000{i + 1}",
            received_at=local(2026, 3, 2, 9) + timedelta(days=i * days_apart),
            contact=f"1380013800{i}",
            place=place,
            category=category,
        )
        for i in range(n)
    ]


def test_three_complaints_of_one_category_from_one_place_form_a_linked_group():
    tickets = neighbours(3)
    result = assess(tickets)
    assert {result[t.sync_key].group_id for t in tickets} == {"SZ01-20260302-0001"}
    assert all(Basis.GROUP in result[t.sync_key].bases for t in tickets)


def test_two_complaints_are_not_a_group():
    result = assess(neighbours(2))
    assert all(not a.group_id for a in result.values())


def test_complaints_spread_over_more_than_the_window_are_not_a_group():
    result = assess(neighbours(3, days_apart=4))  # 0, 4, 8 days: no three within 7 days
    assert all(not a.group_id for a in result.values())


def test_group_threshold_and_window_are_configurable():
    result = assess(neighbours(2), LevelRules(group_size=2, group_days=7))
    assert all(a.group_id for a in result.values())


def test_place_is_compared_without_blanks_and_case():
    tickets = neighbours(2) + [dataclasses.replace(neighbours(3)[2], place=" 阳光花园 小区 ")]
    assert all(a.group_id for a in assess(tickets).values())


def test_same_customer_twice_unresolved_is_a_repeat_complaint():
    first = make_ticket(ticket_id="A", contact="138-0013-8000")
    second = make_ticket(ticket_id="B", contact="+86 13800138000", received_at=local(2026, 3, 5, 9))
    resolved = make_ticket(ticket_id="C", contact="13800138000", resolved_at=local(2026, 3, 3))
    result = assess([first, second, resolved])
    assert Basis.REPEAT in result[first.sync_key].bases and Basis.REPEAT in result[second.sync_key].bases
    assert Basis.REPEAT not in result[resolved.sync_key].bases


@pytest.mark.parametrize(
    "fields", [{"media_exposure": True}, {"regulator_involved": True}, {"channel": Channel.REGULATOR}]
)
def test_media_or_regulator_turns_red(fields):
    ticket = make_ticket(**fields)
    raised, record, entry = apply_assessment(ticket, assess([ticket])[ticket.sync_key], AT)
    assert raised.level is Level.RED
    assert record is not None and record.by == "system"
    assert entry is not None and entry.kind is LogKind.ESCALATION


def test_group_incident_turns_yellow_and_links_the_tickets():
    tickets = neighbours(3)
    result = assess(tickets)
    raised = [apply_assessment(t, result[t.sync_key], AT)[0] for t in tickets]
    assert [t.level for t in raised] == [Level.YELLOW] * 3
    assert {t.group_id for t in raised} == {"SZ01-20260302-0001"}


def test_applying_the_same_assessment_twice_changes_nothing_more():
    ticket = make_ticket(media_exposure=True)
    assessment = assess([ticket])[ticket.sync_key]
    once, _, _ = apply_assessment(ticket, assessment, AT)
    twice, record, entry = apply_assessment(once, assessment, AT)
    assert twice == once and record is None and entry is None


def test_a_rule_does_not_re_raise_after_a_reasoned_deescalation():
    ticket = make_ticket(media_exposure=True)
    assessment = assess([ticket])[ticket.sync_key]
    red, _, _ = apply_assessment(ticket, assessment, AT)
    lowered, _, _ = deescalate(red, "媒体报道已澄清", "王部长", AT)
    again, record, _ = apply_assessment(lowered, assessment, AT)
    assert again.level is Level.YELLOW and record is None


def test_a_new_basis_raises_even_after_deescalation():
    ticket = make_ticket(level=Level.YELLOW, level_basis=Basis.GROUP)
    raised, _, _ = apply_assessment(ticket, Assessment(frozenset({Basis.GROUP, Basis.MEDIA})), AT)
    assert raised.level is Level.RED
    assert raised.level_basis == "GROUP,MEDIA"


def test_rules_never_lower_a_level():
    ticket = make_ticket(level=Level.RED)
    lowered, _, _ = apply_assessment(ticket, Assessment(frozenset({Basis.GROUP})), AT)
    assert lowered.level is Level.RED


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("群体性投诉 / group incident", "群体性投诉", "group incident"),
        (
            "同一客户多次投诉未解决 / repeat complaint, unresolved; 群体性投诉 / group incident",
            "同一客户多次投诉未解决；群体性投诉",
            "repeat complaint, unresolved; group incident",
        ),
        (
            "回访不满意 / dissatisfied at revisit: 仍然掉线",
            "回访不满意：仍然掉线",
            "dissatisfied at revisit: 仍然掉线",
        ),
        (
            "客户在微博发帖 / posted on Weibo",
            "客户在微博发帖 / posted on Weibo",
            "客户在微博发帖 / posted on Weibo",
        ),
    ],
)
def test_a_rules_reason_is_shown_in_one_language_and_a_typed_one_as_it_is(text, zh, en):
    assert (reason_in(text, "zh"), reason_in(text, "en")) == (zh, en)
