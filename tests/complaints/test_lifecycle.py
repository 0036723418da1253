import pytest

from complaints.enums import Level, LogKind, Satisfaction, Status
from complaints.lifecycle import (
    LifecycleError,
    cancel,
    derive_status,
    milestone_errors,
    record_objection,
    record_revisit,
)
from tests.factories import local, make_ticket

T0 = local(2026, 3, 2, 9, 10)


@pytest.mark.parametrize(
    ("milestones", "status"),
    [
        ({}, Status.NEW),
        ({"acknowledged_at": local(2026, 3, 2, 10)}, Status.ACKNOWLEDGED),
        (
            {"acknowledged_at": local(2026, 3, 2, 10), "routed_at": local(2026, 3, 2, 11)},
            Status.INVESTIGATING,
        ),
        ({"routed_at": local(2026, 3, 2, 11), "plan_at": local(2026, 3, 4, 11)}, Status.EXECUTING),
        ({"plan_at": local(2026, 3, 4), "resolved_at": local(2026, 3, 6)}, Status.RESOLVED),
        ({"resolved_at": local(2026, 3, 6), "feedback_at": local(2026, 3, 6, 18)}, Status.FEEDBACK_GIVEN),
        (
            {
                "resolved_at": local(2026, 3, 6),
                "feedback_at": local(2026, 3, 7),
                "closed_at": local(2026, 3, 7),
            },
            Status.CLOSED,
        ),
        ({"closed_at": local(2026, 3, 7), "revisited_at": local(2026, 3, 12)}, Status.REVISITED),
        ({"reopened_at": local(2026, 3, 13)}, Status.REINVESTIGATING),
        ({"resolved_at": local(2026, 3, 6), "cancelled_at": local(2026, 3, 6)}, Status.CANCELLED),
    ],
)
def test_status_follows_the_furthest_milestone(milestones, status):
    assert derive_status(make_ticket(**milestones)) is status


def test_feedback_before_resolution_is_reported_not_fixed():
    ticket = make_ticket(resolved_at=local(2026, 3, 6, 12), feedback_at=local(2026, 3, 5, 12))
    errors = milestone_errors(ticket)
    assert [e.field for e in errors] == ["feedback_at"]
    assert "before resolved_at" in errors[0].message
    assert ticket.feedback_at == local(2026, 3, 5, 12)


def test_closure_without_feedback_is_reported():
    errors = milestone_errors(make_ticket(resolved_at=local(2026, 3, 6), closed_at=local(2026, 3, 7)))
    assert [e.field for e in errors] == ["closed_at"]


def test_acknowledgement_before_receipt_is_reported():
    errors = milestone_errors(make_ticket(acknowledged_at=local(2026, 3, 1, 9)))
    assert [e.field for e in errors] == ["acknowledged_at"]


def test_milestones_in_order_have_no_errors():
    ticket = make_ticket(
        acknowledged_at=local(2026, 3, 2, 10),
        routed_at=local(2026, 3, 2, 10),
        plan_at=local(2026, 3, 4),
        resolved_at=local(2026, 3, 6),
        feedback_at=local(2026, 3, 6, 20),
        closed_at=local(2026, 3, 7),
        revisited_at=local(2026, 3, 12),
    )
    assert milestone_errors(ticket) == []


def given_feedback(**fields):
    return make_ticket(
        plan_at=local(2026, 3, 4),
        resolved_at=local(2026, 3, 6),
        feedback_at=local(2026, 3, 6, 20),
        closed_at=local(2026, 3, 7),
        **fields,
    )


def test_objection_starts_a_second_investigation_and_keeps_history():
    ticket, entry = record_objection(given_feedback(), "要求赔偿一个月月租", local(2026, 3, 9, 10), "李四")
    assert ticket.status is Status.REINVESTIGATING
    assert ticket.objection_count == 1
    assert ticket.objection_demand == "要求赔偿一个月月租"
    assert ticket.resolved_at is ticket.feedback_at is ticket.closed_at is ticket.plan_at is None
    assert entry.kind is LogKind.OBJECTION
    assert "resolved_at=2026-03-06" in entry.text and "要求赔偿" in entry.text


def test_objection_before_feedback_is_refused():
    with pytest.raises(LifecycleError, match="feedback"):
        record_objection(make_ticket(), "x", local(2026, 3, 3), "李四")


def test_objection_without_a_demand_is_refused():
    with pytest.raises(LifecycleError, match="demand"):
        record_objection(given_feedback(), "  ", local(2026, 3, 9), "李四")


def test_satisfied_revisit_closes_the_loop():
    outcome = record_revisit(given_feedback(), local(2026, 3, 12), Satisfaction.SATISFIED, "", "李四")
    assert outcome.ticket.status is Status.REVISITED
    assert outcome.escalation is None and outcome.log == ()


def test_dissatisfied_revisit_escalates_one_level_and_reopens():
    outcome = record_revisit(
        given_feedback(), local(2026, 3, 12), Satisfaction.DISSATISFIED, "晚上仍然断线", "李四", head="王部长"
    )
    ticket = outcome.ticket
    assert ticket.level is Level.YELLOW
    assert ticket.status is Status.REINVESTIGATING
    assert ticket.reopened_at == local(2026, 3, 12)
    assert outcome.escalation is not None and outcome.escalation.head == "王部长"
    assert [e.kind for e in outcome.log] == [LogKind.ESCALATION, LogKind.REOPEN]


def test_dissatisfied_revisit_on_a_red_ticket_still_reopens():
    outcome = record_revisit(
        given_feedback(level=Level.RED),
        local(2026, 3, 12),
        Satisfaction.DISSATISFIED,
        "",
        "李四",
    )
    assert outcome.ticket.level is Level.RED
    assert outcome.ticket.status is Status.REINVESTIGATING


def test_revisit_before_closure_is_refused():
    with pytest.raises(LifecycleError, match="closed"):
        record_revisit(make_ticket(), local(2026, 3, 12), Satisfaction.SATISFIED, "", "李四")


def test_cancellation_needs_a_reason_and_keeps_the_row():
    with pytest.raises(LifecycleError):
        cancel(make_ticket(), "", local(2026, 3, 3), "李四")
    ticket, entry = cancel(make_ticket(), "客户撤诉", local(2026, 3, 3), "李四")
    assert ticket.status is Status.CANCELLED and ticket.cancel_reason == "客户撤诉"
    assert entry.kind is LogKind.CANCELLATION
