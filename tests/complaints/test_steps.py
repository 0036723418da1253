"""The steps of the standard, one click each: order, content, stamping, what comes next."""

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import LogKind, Status
from complaints.flags import refresh
from complaints.sla import SlaClock
from complaints.steps import Step, StepRefused, next_due, take
from tests.factories import local, make_ticket

CLOCK = SlaClock(WorkCalendar())
AT = local(2026, 3, 2, 11, 0)


@pytest.mark.parametrize(
    ("step", "fields", "en"),
    [
        (Step.PLAN, {}, "Plan communicated needs 'Acknowledged at' first"),
        (
            Step.RESOLVE,
            {"acknowledged_at": local(2026, 3, 2, 10)},
            "Resolved needs 'Plan communicated at' first",
        ),
        (Step.FEEDBACK, {"resolved_at": local(2026, 3, 2, 10)}, "fill in 'Cause', 'Solution', 'Safeguards'"),
        (Step.CLOSE, {"resolved_at": local(2026, 3, 2, 10)}, "Close needs 'Feedback at' first"),
        (Step.CANCEL, {}, "fill in 'Cancellation reason' on its row first"),
        (Step.ACKNOWLEDGE, {"cancelled_at": local(2026, 3, 2, 10)}, "is cancelled"),
        (
            Step.EXTENSION,
            {"acknowledged_at": local(2026, 3, 2, 10), "extension_until": local(2026, 3, 9)},
            "fill in 'Extension reason', 'Customer told of extension' on its row first",
        ),
    ],
)
def test_a_step_out_of_order_or_without_its_content_is_refused_saying_why(step, fields, en):
    with pytest.raises(StepRefused) as refused:
        take(step, make_ticket(**fields), AT, "小王", CLOCK)
    assert en in refused.value.en and refused.value.zh


def test_each_step_in_order_stamps_its_milestone_and_names_the_next():
    ticket = make_ticket(cause="光交箱过载", solution="扩容", safeguards="每月巡检", preferred_channel="短信")
    seen = []
    for step, at in [
        (Step.ACKNOWLEDGE, local(2026, 3, 2, 10)),
        (Step.PLAN, local(2026, 3, 3, 10)),
        (Step.RESOLVE, local(2026, 3, 4, 10)),
        (Step.FEEDBACK, local(2026, 3, 4, 12)),
        (Step.CLOSE, local(2026, 3, 4, 13)),
    ]:
        ticket, log = take(step, ticket, at, "小王", CLOCK)
        ticket = refresh(ticket, CLOCK, at)
        assert [e.at for e in log] == [at]
        seen.append((ticket.status, next_due(ticket, CLOCK).step))
    assert seen == [
        (Status.ACKNOWLEDGED, Step.PLAN),
        (Status.EXECUTING, Step.RESOLVE),
        (Status.RESOLVED, Step.FEEDBACK),
        (Status.FEEDBACK_GIVEN, Step.CLOSE),
        (Status.CLOSED, Step.REVISIT),
    ]
    assert ticket.feedback_channel == "短信"


def test_an_objection_reopens_through_the_lifecycle_rule():
    done = make_ticket(
        resolved_at=local(2026, 3, 2, 10), feedback_at=local(2026, 3, 2, 12), objection_demand="赔偿"
    )
    reopened, log = take(Step.OBJECTION, done, AT, "小王", CLOCK)
    assert (reopened.reopened_at, reopened.feedback_at, reopened.objection_count) == (AT, None, 1)
    assert [e.kind for e in log] == [LogKind.OBJECTION]
