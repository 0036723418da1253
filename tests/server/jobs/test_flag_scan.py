"""The flag scan with a pinned clock: deadlines across National Day 2026 and a Saturday make-up day,
the revisit window, writing only what changes, and agreement with evaluating every ticket afresh."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from complaints.enums import Flag, Grade, Level, LogKind
from complaints.flags import evaluate
from complaints.model import LogEntry, Task, Ticket
from complaints.wire import encode
from server.scheduling.scan import revisit_list
from server.services.changes import Actor, Change
from server.services.demo import demo_ticket
from server.services.sync import parse_push, push
from server.storage.db import get_db
from server.storage.models import BranchRow, LogRow, TaskRow, TicketRow
from server.storage.rows import clock_for, computed_values, row_to_ticket
from tests.factories import local, make_ticket
from tests.server.api.conftest import add_branch
from tests.server.jobs.conftest import (
    START,
    PinnedClock,
    flags_of,
    pulled,
    push_tickets,
    scan_at,
    stored,
)


def received(clock: PinnedClock, app: Flask, when: datetime, **fields: object) -> Ticket:
    """A ticket received at ``when``, pushed by the branch once its last recorded event has happened."""
    clock.now = max([when, *(v for v in fields.values() if isinstance(v, datetime))])
    number = f"SZ01-{when:%Y%m%d}-{uuid.uuid4().hex[:4]}"
    ticket = make_ticket(**({"ticket_id": number, "received_at": when} | fields))
    push_tickets(app, ticket)
    return ticket


def test_acknowledgement_falls_due_after_national_day_not_during_it(desk: Flask, clock: PinnedClock) -> None:
    ticket = received(clock, desk, local(2026, 9, 30, 9, 10))  # Wednesday; 1-7 October are holidays
    scan_at(desk, clock, local(2026, 9, 30, 10, 0))
    assert not flags_of(desk, ticket.sync_key) & {Flag.ACK_DUE_SOON, Flag.ACK_OVERDUE}

    scan_at(desk, clock, local(2026, 10, 5, 12, 0))
    assert Flag.ACK_OVERDUE not in flags_of(desk, ticket.sync_key)

    scan_at(desk, clock, local(2026, 10, 8, 0, 0, 1))  # due at the end of Thursday 8 October
    assert Flag.ACK_DUE_SOON in flags_of(desk, ticket.sync_key)

    before = stored(desk, ticket.sync_key)
    with desk.app_context(), get_db().read() as session:
        cursor = session.scalar(select(BranchRow.change_seq).where(BranchRow.code == "SZ01"))
    scan_at(desk, clock, local(2026, 10, 9, 0, 0, 1))
    after = stored(desk, ticket.sync_key)
    assert Flag.ACK_OVERDUE in after["flags"]
    assert after["version"] == before["version"] + 1
    assert [(h.field, h.by, h.source) for h in after["history"] if h.version == after["version"]] == [
        ("flags", "scheduler", "scheduler")
    ]
    pulled_rows = {t["sync_key"]: t for t in pulled(desk, cursor)["tickets"]}
    assert "ACK_OVERDUE" in pulled_rows[ticket.sync_key]["flags"]


def test_saturday_make_up_day_counts_as_a_working_day(desk: Flask, clock: PinnedClock) -> None:
    ticket = received(clock, desk, local(2026, 10, 9, 10, 0))  # Friday; Saturday 10 October is worked
    scan_at(desk, clock, local(2026, 10, 10, 12, 0))
    assert Flag.ACK_DUE_SOON in flags_of(desk, ticket.sync_key)
    scan_at(desk, clock, local(2026, 10, 11, 8, 0))  # Sunday: the Saturday deadline has passed
    assert Flag.ACK_OVERDUE in flags_of(desk, ticket.sync_key)
    # plan: 3 working days = Saturday 10, Monday 12, Tuesday 13 October
    scan_at(desk, clock, local(2026, 10, 13, 12, 0))
    assert Flag.PLAN_DUE_SOON in flags_of(desk, ticket.sync_key)
    assert Flag.PLAN_OVERDUE not in flags_of(desk, ticket.sync_key)
    scan_at(desk, clock, local(2026, 10, 14, 0, 0, 1))
    assert Flag.PLAN_OVERDUE in flags_of(desk, ticket.sync_key)


def closed_ticket(clock: PinnedClock, app: Flask, closed: datetime) -> Ticket:
    day = closed - timedelta(days=1)
    return received(
        clock,
        app,
        closed,
        received_at=day,
        acknowledged_at=day + timedelta(hours=1),
        routed_at=day + timedelta(hours=1),
        department="网络部",
        investigator="网络部-调查员1",
        plan_at=day + timedelta(hours=2),
        resolved_at=closed - timedelta(hours=3),
        feedback_at=closed - timedelta(hours=2),
        cause="光猫老化",
        solution="更换光猫",
        safeguards="纳入巡检",
        closed_at=closed,
    )


def revisit_ids(app: Flask) -> list[str]:
    with app.app_context(), get_db().read() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        return [r.ticket_id for r in revisit_list(session, branch.id)]


def test_revisit_window_runs_from_the_third_to_the_seventh_working_day_after_closure(
    desk: Flask, clock: PinnedClock
) -> None:
    # closed Tuesday 29 September: working days after are 30 Sep, 8, 9, 10 (Sat), 12, 13, 14 October
    ticket = closed_ticket(clock, desk, local(2026, 9, 29, 16, 0))
    scan_at(desk, clock, local(2026, 10, 8, 12, 0))
    assert not flags_of(desk, ticket.sync_key) & {Flag.REVISIT_DUE, Flag.REVISIT_OVERDUE}
    assert revisit_ids(desk) == []

    scan_at(desk, clock, local(2026, 10, 9, 8, 0))
    assert Flag.REVISIT_DUE in flags_of(desk, ticket.sync_key)
    assert revisit_ids(desk) == [ticket.ticket_id]

    scan_at(desk, clock, local(2026, 10, 14, 23, 0))
    assert Flag.REVISIT_OVERDUE not in flags_of(desk, ticket.sync_key)
    scan_at(desk, clock, local(2026, 10, 15, 0, 0, 1))
    assert flags_of(desk, ticket.sync_key) == {Flag.REVISIT_OVERDUE}
    assert revisit_ids(desk) == [ticket.ticket_id]

    ticket.revisited_at = local(2026, 10, 15, 10, 0)
    clock.now = ticket.revisited_at
    push_tickets(desk, ticket)
    scan_at(desk, clock, local(2026, 10, 15, 11, 0))
    assert revisit_ids(desk) == []


def test_a_scan_writes_only_tickets_whose_flags_change(desk: Flask, clock: PinnedClock) -> None:
    day = local(2026, 10, 12, 9, 0)
    resolved = received(
        clock,
        desk,
        local(2026, 10, 13, 10, 0),
        received_at=day,
        acknowledged_at=day + timedelta(hours=1),
        plan_at=day + timedelta(hours=3),
        resolved_at=local(2026, 10, 13, 10, 0),  # feedback due 24 hours later
    )
    waiting = received(clock, desk, local(2026, 10, 13, 12, 0))
    assert scan_at(desk, clock, local(2026, 10, 14, 9, 0)).evaluated == 2
    versions = {t.sync_key: stored(desk, t.sync_key)["version"] for t in (resolved, waiting)}

    report = scan_at(desk, clock, local(2026, 10, 14, 10, 0, 1))
    assert (report.evaluated, report.written) == (1, 1)
    assert Flag.FEEDBACK_OVERDUE in flags_of(desk, resolved.sync_key)
    assert stored(desk, resolved.sync_key)["version"] == versions[resolved.sync_key] + 1
    assert stored(desk, waiting.sync_key)["version"] == versions[waiting.sync_key]

    again = scan_at(desk, clock, local(2026, 10, 14, 10, 0, 2))
    assert (again.evaluated, again.written) == (0, 0)


def test_a_branch_without_changes_or_checks_come_costs_the_scan_no_read_of_its_tickets(
    desk: Flask, clock: PinnedClock
) -> None:
    add_branch(desk, "SZ02")
    received(clock, desk, local(2026, 10, 13, 9, 0))
    scan_at(desk, clock, local(2026, 10, 13, 9, 30))  # the first scan walks both branches
    statements: list[str] = []
    with desk.app_context():
        engine = get_db().engine

    def executed(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", executed)
    try:
        report = scan_at(desk, clock, local(2026, 10, 13, 9, 31))
    finally:
        event.remove(engine, "before_cursor_execute", executed)
    assert (report.branches, report.evaluated) == (2, 0)
    per_branch = [
        s
        for s in statements
        if "FROM branches" not in s and re.search(r"\b(tickets|ticket_checks|scan_cursors)\b", s)
    ]
    assert per_branch == []


def test_incremental_scans_agree_with_evaluating_every_ticket_afresh(desk: Flask, clock: PinnedClock) -> None:
    """Scans every few hours across National Day leave every ticket as a fresh evaluation would."""
    zone = ZoneInfo("Asia/Shanghai")
    rng = random.Random(6)
    clock.now = START
    with desk.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        ctx = Change(session, branch, Actor("demo", "branch", "api"), START, clock_for(branch.timezone, None))
        _ = ctx.seq
        tickets, tasks, log = [], [], []
        for n in range(1, 121):
            values = demo_ticket(rng, "SZ01", n, START, zone)
            # received again within the last week: every recorded time moves with the receipt
            target = START - timedelta(days=rng.randrange(0, 8), hours=rng.randrange(0, 12))
            shift = target - values.get("received_at", target)  # none: the demo had it received later today
            values = {k: v + shift if isinstance(v, datetime) else v for k, v in values.items()}
            values["received_at"] = target
            values = {k: v for k, v in values.items() if not (isinstance(v, datetime) and v > START)}
            key = uuid.uuid4().hex
            tickets.append({"sync_key": key, "fields": {k: encode(k, v) for k, v in values.items()}})
            if n % 4 == 0:
                due = (START + timedelta(days=rng.randrange(0, 12))).date().isoformat()
                task = {"task_no": 1, "title": "更换设备", "owner": "张工", "due": due}
                tasks.append({"sync_key": uuid.uuid4().hex, "ticket_key": key, "fields": task})
            if n % 5 == 0:
                at = (START - timedelta(hours=rng.randrange(1, 60))).isoformat()
                log.append({"sync_key": uuid.uuid4().hex, "ticket_key": key, "at": at, "kind": "progress",
                            "text": "已联系客户说明进度"})  # fmt: skip
        result = push(ctx, parse_push({"tickets": tickets, "tasks": tasks, "log": log}))
        assert not any(result["rejected"].values())

    when = START
    while when < local(2026, 10, 16, 0, 0):
        scan_at(desk, clock, when)
        assert stale_tickets(desk, when) == [], when
        when += timedelta(hours=7, minutes=13)
    assert scan_at(desk, clock, clock.now, full=True).written == 0


def stale_tickets(app: Flask, now: datetime) -> list[tuple[str, str, str]]:
    """Tickets whose stored status, flags or deadlines differ from what the rules say at ``now``."""
    rules = clock_for("Asia/Shanghai", None)
    stale = []
    with app.app_context(), get_db().read() as session:
        for row in session.scalars(select(TicketRow)):
            fresh = computed_values(evaluate(row_to_ticket(row), rules, now, *_tasks_and_log(session, row)))
            stored = {k: getattr(row, k) for k in fresh} | {"flags": row.flags or ""}
            if stored != fresh:
                stale.append((row.ticket_id, str(stored), str(fresh)))
    return stale


def _tasks_and_log(session: Session, row: TicketRow) -> tuple[list[Task], list[LogEntry]]:
    tasks = [
        Task(t.ticket_id, t.task_no, t.title, t.owner, t.due, t.done_at, t.sync_key)
        for t in session.scalars(select(TaskRow).where(TaskRow.ticket_key == row.sync_key))
    ]
    log = [
        LogEntry(e.ticket_id, e.at, LogKind.PROGRESS, e.text, sync_key=e.sync_key)
        for e in session.scalars(
            select(LogRow).where(LogRow.ticket_key == row.sync_key, LogRow.kind == LogKind.PROGRESS.value)
        )
    ]
    return tasks, log


def test_resolution_deadline_skips_the_holiday_week(desk: Flask, clock: PinnedClock) -> None:
    ticket = received(
        clock, desk, local(2026, 9, 29, 9, 0), grade=Grade.MINOR, acknowledged_at=local(2026, 9, 29, 10)
    )
    # minor: resolve within 3 working days = 30 September, 8 and 9 October
    scan_at(desk, clock, local(2026, 10, 7, 12, 0))
    assert Flag.RESOLVE_OVERDUE not in flags_of(desk, ticket.sync_key)
    scan_at(desk, clock, local(2026, 10, 10, 0, 0, 1))
    assert Flag.RESOLVE_OVERDUE in flags_of(desk, ticket.sync_key)
    assert stored(desk, ticket.sync_key)["level"] is Level.BLUE
