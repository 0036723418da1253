"""The flag scan on issue 15's clocks: routing on time, and a major case with no plan after 24 hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from complaints.enums import Category, Flag, Grade
from complaints.routing import RoutingRule
from server import create_app
from server.storage.accounts import find_branch
from server.storage.db import get_db
from server.storage.models import OutboxRow
from server.storage.routing import set_emergency_contact, set_rule
from tests.factories import local, make_ticket
from tests.server.api.conftest import add_branch
from tests.server.jobs.conftest import START, PinnedClock, flags_of, push_tickets, scan_at


def emergency_notices(app: Flask) -> list[tuple[str, str]]:
    with app.app_context(), get_db().read() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.kind == "emergency").order_by(OutboxRow.id))
        return [
            (r.dedupe_key.split(":", 1)[0] + ":" + r.dedupe_key.rsplit(":", 1)[1], r.to_addr) for r in rows
        ]


def test_an_unrouted_ticket_is_flagged_when_the_routing_time_has_passed_and_cleared_when_routed(
    desk: Flask, clock: PinnedClock
) -> None:
    ticket = make_ticket(received_at=START)
    push_tickets(desk, ticket)
    scan_at(desk, clock, START + timedelta(hours=4))
    assert Flag.ROUTE_OVERDUE not in flags_of(desk, ticket.sync_key)
    report = scan_at(desk, clock, START + timedelta(hours=4, seconds=1))
    assert report.written == 1  # the ticket's next check was its routing time
    assert Flag.ROUTE_OVERDUE in flags_of(desk, ticket.sync_key)

    clock.now = START + timedelta(hours=5)
    ticket.routed_at, ticket.department = clock.now, "网络部"
    push_tickets(desk, ticket)
    assert Flag.ROUTE_OVERDUE not in flags_of(desk, ticket.sync_key)


@pytest.fixture
def hourly(database_url: str, clock: PinnedClock) -> Iterator[Flask]:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "CLOCK": clock, "SLA_POLICY": {"route_hours": 1}}
    )
    with app.app_context():
        get_db().upgrade()
    add_branch(app, "SZ01")
    yield app
    with app.app_context():
        get_db().dispose()


def test_the_routing_time_is_configurable(hourly: Flask, clock: PinnedClock) -> None:
    ticket = make_ticket(received_at=START)
    push_tickets(hourly, ticket)
    scan_at(hourly, clock, START + timedelta(hours=1, seconds=1))
    assert Flag.ROUTE_OVERDUE in flags_of(hourly, ticket.sync_key)


def test_a_bad_policy_setting_stops_the_start_naming_it(database_url: str) -> None:
    with pytest.raises(ValueError, match="route_hours must be a whole number"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SLA_POLICY": {"route_hours": "soon"}})


def test_a_major_case_without_a_plan_on_national_day_is_flagged_and_escalated_once(
    desk: Flask, clock: PinnedClock
) -> None:
    with desk.app_context(), get_db().write() as session:
        branch = find_branch(session, "SZ01")
        set_rule(
            session, branch.id, RoutingRule(Category.NETWORK_FAULT, "网络部", "王经理", "wang@example.com")
        )
        set_emergency_contact(session, branch.id, "senior", "刘总", "liu@example.com")
    received = local(2026, 9, 30, 9, 10)  # the eve of National Day
    clock.now = received + timedelta(minutes=20)
    ticket = make_ticket(
        received_at=received,
        grade=Grade.MAJOR,
        routed_at=clock.now,
        department="网络部",
        contact="13700137000",
    )
    push_tickets(desk, ticket)
    assert sorted(emergency_notices(desk)) == [
        ("emergency:legal", ""),
        ("emergency:pr", ""),
        ("emergency:senior", "liu@example.com"),
    ]

    scan_at(desk, clock, local(2026, 10, 1, 9, 10))
    assert Flag.PLAN_OVERDUE not in flags_of(desk, ticket.sync_key)
    scan_at(desk, clock, local(2026, 10, 1, 9, 10, 1))  # a holiday: 24 hours are 24 hours
    assert Flag.PLAN_OVERDUE in flags_of(desk, ticket.sync_key)
    late = [n for n in emergency_notices(desk) if n[0].startswith("emergency-late")]
    assert sorted(late) == [
        ("emergency-late:head", "wang@example.com"),
        ("emergency-late:senior", "liu@example.com"),
    ]

    scan_at(desk, clock, local(2026, 10, 2, 9, 0))
    assert len(emergency_notices(desk)) == 5  # told once
