"""The flag scan stores the same tickets, figures, checks, history and notices however its batches fall.

A walk fills one batch with the unfinished tickets of every status (one
transaction per batch); settling them one by one, in a transaction each, must
store exactly the same, apart from the change numbers the transactions take.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from server import create_app
from server.scheduling.scan import scan_flags
from server.storage.db import get_db
from server.storage.models import (
    BranchRow,
    HistoryRow,
    OutboxRow,
    TicketCheckRow,
    figures_table,
    tickets_table,
)
from tests.factories import local, make_ticket
from tests.server.api.conftest import add_branch
from tests.server.jobs.conftest import START, PinnedClock, push_tickets


def desk_at(path: Path, clock: PinnedClock) -> Flask:
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "CLOCK": clock})
    with app.app_context():
        get_db().upgrade()
    add_branch(app, "SZ01")
    return app


def tickets_in_every_status() -> list[Any]:
    """Tickets received the week before ``START``, stopped at each stage (most are overdue by then)."""
    found = []
    for n in range(12):
        received = local(2026, 9, 21, 9, 0) + timedelta(hours=n)
        stage: dict[str, Any] = {}
        if n % 4 >= 1:
            stage["acknowledged_at"] = received + timedelta(hours=1)
        if n % 4 >= 2:
            stage |= {"routed_at": received + timedelta(hours=2), "department": "网络部"}
            stage["investigator"] = "网络部-调查员1"
        if n % 4 == 3:
            stage["plan_at"] = received + timedelta(hours=20)
        found.append(
            make_ticket(
                sync_key=f"{n:032x}",
                ticket_id=f"SZ01-20260921-{n:04d}",
                received_at=received,
                contact=f"1380013{n:04d}",
                place=f"幸福路{n}号",
                **stage,
            )
        )
    return found


def stored_state(app: Flask) -> dict[str, Any]:
    """Everything the scan writes, without the change numbers (they count transactions)."""
    with app.app_context(), get_db().read() as session:
        tickets = [
            {k: v for k, v in row._mapping.items() if k not in ("change_seq", "id")}
            for row in session.execute(select(tickets_table).order_by(tickets_table.c.sync_key))
        ]
        figures = [
            tuple(row) for row in session.execute(select(figures_table).order_by(figures_table.c.sync_key))
        ]
        c = TicketCheckRow.__table__.c
        checks = session.execute(select(c.sync_key, c.next_check_at).order_by(c.sync_key)).all()
        h = HistoryRow.__table__.c
        history = session.execute(
            select(h.entity_key, h.version, h.field, h.old_value, h.new_value, h.by, h.at).order_by(
                h.entity_key, h.version, h.field
            )
        ).all()
        o = OutboxRow.__table__.c
        outbox = session.execute(
            select(o.dedupe_key, o.kind, o.subject, o.status).order_by(o.dedupe_key)
        ).all()
    return {"tickets": tickets, "figures": figures, "checks": checks, "history": history, "outbox": outbox}


def change_numbers(app: Flask) -> tuple[int, set[int]]:
    """The branch's change counter and the change numbers of the tickets the scan wrote."""
    with app.app_context(), get_db().read() as session:
        counter = session.scalar(select(BranchRow.change_seq).where(BranchRow.code == "SZ01"))
        t = tickets_table.c
        seqs = set(session.scalars(select(t.change_seq).where(t.updated_by == "scheduler")))
    return counter or 0, seqs


def test_a_walk_in_one_batch_stores_what_settling_ticket_by_ticket_stores(tmp_path: Path) -> None:
    clock = PinnedClock(START)
    one, each = desk_at(tmp_path / "one.db", clock), desk_at(tmp_path / "each.db", clock)
    tickets = tickets_in_every_status()
    clock.now = local(2026, 9, 23, 12, 0)
    for app in (one, each):
        push_tickets(app, *tickets)
    pushed, _ = change_numbers(one)

    clock.now = START
    with one.app_context():
        walked = scan_flags(START)
    with each.app_context():
        singly = scan_flags(START, batch=1)

    assert walked.full_branches == singly.full_branches == 1
    assert walked.evaluated == singly.evaluated == len(tickets)
    assert walked.written == singly.written > 0
    assert stored_state(one) == stored_state(each)
    # every status in one transaction here; a transaction per ticket there
    assert change_numbers(one) == (pushed + 1, {pushed + 1})
    assert len(change_numbers(each)[1]) == walked.written
