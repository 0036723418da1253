"""Check deadlines, offline in the workbook, reaches the same state as the server's door for the same rows.

The ribbon's Check deadlines runs the rules of every door (`complaints.pipeline`) on the rows of the
workbook; the server runs them when the rows arrive. Both see the same tickets at the same instant.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from addin import macros
from addin.run import Env
from complaints.enums import Satisfaction
from complaints.model import Ticket
from server.xlsx import write_workbook
from tests.addin.harness import run_macro
from tests.server.api.conftest import NOW
from tests.server.doors.conftest import ApiDoor, add_branch, as_typed, complete, state
from tests.server.workbook_factories import save_template


def _dissatisfied(n: int) -> Ticket:
    at = NOW - timedelta(days=9)
    return complete(
        n,
        received_at=at,
        acknowledged_at=at + timedelta(hours=2),
        plan_at=at + timedelta(days=1),
        resolved_at=at + timedelta(days=2),
        feedback_at=at + timedelta(days=2, hours=3),
        closed_at=at + timedelta(days=3),
        revisited_at=NOW - timedelta(minutes=30),
        satisfaction=Satisfaction.DISSATISFIED,
        suggestions="还是经常断线",
    )


SCENARIOS = {
    "media exposure": lambda: [complete(1, media_exposure=True)],
    "regulator": lambda: [complete(2, regulator_involved=True)],
    "group incident": lambda: [complete(n, place="翠湖小区") for n in (3, 4, 5)],
    "repeat complaint": lambda: [complete(6, contact="13900139000"), complete(7, contact="139 0013 9000")],
    "dissatisfied revisit": lambda: [_dissatisfied(8)],
    "nothing to raise": lambda: [complete(9), complete(10)],
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_check_deadlines_in_the_workbook_agrees_with_the_server(app, tmp_path, scenario: str) -> None:
    tickets = SCENARIOS[scenario]()
    served = ApiDoor(app, add_branch(app, "SZ01")).send(tickets).tickets

    path = save_template(tmp_path / "SZ01.xlsx")
    write_workbook(path, path, tickets=tickets)
    run_macro(path, macros.check_deadlines, Env(now=NOW, user="小王@SZ01-PC1"))
    checked = {t.sync_key: t for t in as_typed(path)}

    for ticket in tickets:
        assert state(checked[ticket.sync_key]) == state(served[ticket.sync_key]), ticket.ticket_id
        assert checked[ticket.sync_key].group_id == served[ticket.sync_key].group_id
