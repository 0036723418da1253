"""One door for every change: the same scenario through every door gives the same answer and stored state.

Each scenario runs once per door (the sync API, the ``/branch`` upload; on SQLite
and PostgreSQL) and asserts what the branch sees in the door's own answer — the
pulled rows, the merged workbook — and what the server keeps.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from complaints.enums import Level, Satisfaction
from complaints.model import Ticket
from tests.server.api.conftest import NOW
from tests.server.doors.conftest import (
    RECEIVED,
    ApiDoor,
    Door,
    UploadDoor,
    add_branch,
    complete,
    log_of,
    state,
    stored,
)


def test_media_exposure_is_red_in_the_same_answer(door: Door, app) -> None:
    ticket = complete(1, media_exposure=True)
    answer = door.send([ticket])
    shown = state(answer.tickets[ticket.sync_key])
    assert shown["level"] == "red" and shown["bases"] == ["MEDIA"]
    assert state(stored(app, ticket.sync_key)) == shown
    assert [kind for kind, *_ in log_of(app, ticket.sync_key)] == ["escalation"]


def test_regulator_involvement_is_red_in_the_same_answer(door: Door, app) -> None:
    ticket = complete(2, regulator_involved=True)
    shown = state(door.send([ticket]).tickets[ticket.sync_key])
    assert shown["level"] == "red" and shown["bases"] == ["REGULATOR"]
    assert state(stored(app, ticket.sync_key)) == shown


def test_three_neighbours_with_the_same_problem_are_one_group_incident(door: Door, app) -> None:
    first = complete(3, place="翠湖小区")
    door.send([first])
    assert stored(app, first.sync_key).level is Level.BLUE
    others = [complete(4, place="翠湖小区 "), complete(5, place="翠湖小区")]
    answer = door.send(others)
    for ticket in (first, *others):  # the first ticket, stored before, is raised with the others
        shown = state(answer.tickets[ticket.sync_key])
        assert shown["level"] == "yellow" and shown["bases"] == ["GROUP"] and shown["grouped"]
        assert state(stored(app, ticket.sync_key)) == shown
    assert len({stored(app, t.sync_key).group_id for t in (first, *others)}) == 1


def test_the_same_customer_twice_without_resolution_is_a_repeat_complaint(door: Door, app) -> None:
    first, again = complete(6, contact="139-0013-9000"), complete(7, contact="13900139000")
    answer = door.send([first, again])
    for ticket in (first, again):
        shown = state(answer.tickets[ticket.sync_key])
        assert shown["level"] == "yellow" and shown["bases"] == ["REPEAT"]
        assert state(stored(app, ticket.sync_key)) == shown


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"acknowledged_at": RECEIVED + timedelta(minutes=40), "plan_at": RECEIVED + timedelta(minutes=9)},
         "plan_at"),
        ({"feedback_at": RECEIVED + timedelta(minutes=30)}, "feedback_at"),
        ({"customer_name": ""}, "customer_name"),
        ({"description": "宽带断线。" * 7000}, "description"),
        ({"received_at": NOW + timedelta(days=2)}, "received_at"),
        ({"received_at": RECEIVED.replace(year=1999)}, "received_at"),
        *[({"ticket_id": f"SZ01-20261125-{ch}0008"}, "ticket_id") for ch in ("\u2028", "\r", "\x0b", "\x85")],
    ],
    ids=["milestones out of order", "feedback before resolution", "required field empty",
         "text longer than an Excel cell", "received in the future", "received before 2000",
         "ticket number with U+2028", "ticket number with CR", "ticket number with VT",
         "ticket number with NEL"],
)  # fmt: skip
def test_what_the_policy_refuses_is_refused_at_every_door_and_nothing_is_stored(
    door: Door, app, fields: dict[str, object], refused: str
) -> None:
    if door.name != "api" and refused == "description":
        pytest.skip("an Excel cell cannot hold more than 32,767 characters: no workbook can carry this text")
    ticket = complete(8, **fields)
    answer = door.send([ticket])
    assert refused in answer.refused, answer.text
    assert ticket.sync_key not in answer.tickets
    assert stored(app, ticket.sync_key) is None


def _closed(n: int) -> Ticket:
    """A ticket handled to the end in the week before: acknowledged, planned, resolved, told, closed."""
    at = NOW - timedelta(days=9)
    return complete(
        n,
        received_at=at,
        acknowledged_at=at + timedelta(hours=2),
        plan_at=at + timedelta(days=1),
        resolved_at=at + timedelta(days=2),
        feedback_at=at + timedelta(days=2, hours=3),
        feedback_channel="电话",
        cause="光猫老化",
        solution="更换光猫",
        safeguards="纳入月度巡检",
        closed_at=at + timedelta(days=3),
    )


def _again(answer_ticket: Ticket, **changes: object) -> Ticket:
    """The ticket as the branch has it after the answer, edited."""
    return dataclasses.replace(answer_ticket, **changes)


def test_a_dissatisfied_revisit_escalates_and_reopens_at_every_door(door: Door, app) -> None:
    ticket = _closed(9)
    kept = door.send([ticket]).tickets[ticket.sync_key]
    assert kept.status.value == "closed"
    visited = _again(kept, revisited_at=NOW - timedelta(minutes=30), satisfaction=Satisfaction.DISSATISFIED,
                     suggestions="还是经常断线")  # fmt: skip
    shown = state(door.send([visited]).tickets[ticket.sync_key])
    assert shown["status"] == "reinvestigating" and shown["level"] == "yellow"
    assert shown["objections"] == 1 and shown["reopened"] and not shown["revisited"]
    assert state(stored(app, ticket.sync_key)) == shown
    kinds = [kind for kind, *_ in log_of(app, ticket.sync_key)]
    assert kinds == ["escalation", "reopen"]


def test_an_objection_after_the_feedback_starts_a_second_investigation_at_every_door(door: Door, app) -> None:
    ticket = dataclasses.replace(_closed(10), closed_at=None)
    kept = door.send([ticket]).tickets[ticket.sync_key]
    assert kept.status.value == "feedback_given"
    objected = _again(kept, objection_demand="要求减免当月宽带费")
    after = door.send([objected]).tickets[ticket.sync_key]
    shown = state(after)
    assert shown["status"] == "reinvestigating" and shown["objections"] == 1 and shown["reopened"]
    assert (
        after.feedback_at is None
        and after.resolved_at is None
        and after.objection_demand == "要求减免当月宽带费"
    )
    assert state(stored(app, ticket.sync_key)) == shown
    assert [kind for kind, *_ in log_of(app, ticket.sync_key)] == ["objection"]


def test_a_level_head_office_raised_is_lowered_by_the_branch_only_with_a_new_reason(
    door: Door, app, head_office_token: str
) -> None:
    ticket = complete(11)
    door.send([ticket])
    escalated = app.test_client().post(
        f"/api/tickets/{ticket.sync_key}/escalate",
        json={"reason": "总部督办"},
        headers={"Authorization": f"Bearer {head_office_token}"},
    )
    assert escalated.status_code == 200, escalated.json
    raised = stored(app, ticket.sync_key)
    assert raised.level is Level.YELLOW

    silently = door.send([_again(raised, level=Level.BLUE)])
    assert "level_reason" in silently.refused, silently.text
    assert stored(app, ticket.sync_key).level is Level.YELLOW

    explained = door.send([_again(raised, level=Level.BLUE, level_reason="已上门修复，客户确认恢复")])
    assert explained.tickets[ticket.sync_key].level is Level.BLUE
    assert stored(app, ticket.sync_key).level is Level.BLUE
    kind, text, author, role = log_of(app, ticket.sync_key)[-1]
    assert (kind, author, role) == ("deescalation", "SZ01", "branch")
    assert "已上门修复" in text and "总部曾升级此单" in text


def test_whatever_the_api_accepts_comes_back_in_a_workbook_that_uploads_again_unchanged(
    app, tmp_path
) -> None:
    token = add_branch(app, "SZ01")
    edge = complete(
        12,
        received_at=datetime(2000, 1, 1, tzinfo=UTC),
        description="=SUM(A1)\u2028第二行\x01"
        + "断" * (32_767 - 13 - 6),  # the control character takes 7 in the file
        expectation="  ",
        promised_at=datetime(2999, 12, 31, 15, 0, tzinfo=UTC),
        customer_name="@张先生",
    )
    api = ApiDoor(app, token).send([edge])
    assert not api.refused, api.text
    upload = UploadDoor(app, token, tmp_path)
    merged = upload.send([])  # a blank workbook of the branch comes back holding the ticket
    back = merged.tickets[edge.sync_key]
    assert back.description == edge.description and back.customer_name == "@张先生"
    again = upload.send(list(merged.tickets.values()))  # and that workbook uploads again, changing nothing
    assert not again.refused, again.text
    assert stored(app, edge.sync_key).version == back.version  # nothing was written by the second upload
    assert again.tickets[edge.sync_key] == back
