"""Warning levels raised by the scan (group incidents, repeat complaints, media) and the notices queued."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from complaints.enums import Category, Level, LogKind
from complaints.levels import Basis
from complaints.model import Ticket
from complaints.routing import RoutingRule
from server.scheduling.jobs import daily_digest, overdue_reminders
from server.storage.db import get_db
from server.storage.models import BranchContactRow, BranchRow, LogRow, OutboxRow
from server.storage.routing import set_rule
from tests.factories import local, make_ticket
from tests.server.api.conftest import add_head_office
from tests.server.jobs.conftest import PinnedClock, level_of, push_tickets, scan_at, stored

MONDAY = local(2026, 10, 12, 9, 0)


@pytest.fixture
def heads(desk: Flask) -> Flask:
    """SZ01 with named, e-mailed heads for network and service problems, and a coordinator."""
    with desk.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        set_rule(
            session,
            branch.id,
            RoutingRule(Category.NETWORK_FAULT, "网络部", "王经理", "wang@example.com", ("李工",)),
        )
        set_rule(
            session,
            branch.id,
            RoutingRule(Category.STAFF_ATTITUDE, "服务管理部", "赵经理", "zhao@example.com"),
        )
        session.add(
            BranchContactRow(
                branch_id=branch.id, coordinator="陈主管", email="chen@example.com", language="zh"
            )
        )
    return desk


def complaint(at: datetime, **fields: object) -> Ticket:
    number = f"SZ01-{at:%Y%m%d}-{uuid.uuid4().hex[:4]}"
    return make_ticket(
        **({"ticket_id": number, "received_at": at, "contact": f"139{uuid.uuid4().int % 10**8:08d}"} | fields)
    )


def arrive(app: Flask, clock: PinnedClock, *tickets: Ticket) -> None:
    clock.now = max(t.received_at for t in tickets)
    push_tickets(app, *tickets)


def notices(app: Flask, kind: str | None = None) -> list[OutboxRow]:
    with app.app_context(), get_db().read() as session:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if kind is not None:
            query = query.where(OutboxRow.kind == kind)
        return list(session.scalars(query))


def test_three_neighbours_the_same_day_become_a_linked_yellow_group_and_the_head_is_told_once(
    heads: Flask, clock: PinnedClock
) -> None:
    neighbours = [complaint(MONDAY + timedelta(hours=h), place="阳光花园小区3栋") for h in (0, 2, 5)]
    arrive(heads, clock, *neighbours)
    scan_at(heads, clock, MONDAY + timedelta(hours=6))

    rows = [stored(heads, t.sync_key) for t in neighbours]
    assert {r["level"] for r in rows} == {Level.YELLOW}
    assert {r["group_id"] for r in rows} == {neighbours[0].ticket_id}
    assert all(Basis.GROUP in r["level_basis"] for r in rows)
    assert {r["escalated_to"] for r in rows} == {"王经理"}
    with heads.app_context(), get_db().read() as session:
        log = session.scalars(select(LogRow).where(LogRow.kind == LogKind.ESCALATION.value)).all()
    assert sorted(e.ticket_id for e in log) == sorted(t.ticket_id for t in neighbours)
    told = notices(heads, "escalation")
    assert sorted(n.ticket_key for n in told) == sorted(t.sync_key for t in neighbours)
    assert {(n.to_addr, n.status) for n in told} == {("wang@example.com", "pending")}

    scan_at(heads, clock, MONDAY + timedelta(hours=7))
    assert len(notices(heads, "escalation")) == 3

    late = complaint(
        MONDAY + timedelta(days=2), place="阳光花园小区 3栋"
    )  # the same place, typed with a space
    arrive(heads, clock, late)
    scan_at(heads, clock, late.received_at + timedelta(minutes=5))
    assert stored(heads, late.sync_key)["group_id"] == neighbours[0].ticket_id
    assert level_of(heads, late.sync_key) is Level.YELLOW
    assert len(notices(heads, "escalation")) == 4


def test_a_group_member_lowered_with_a_reason_is_not_raised_again_by_the_same_rule(
    heads: Flask, clock: PinnedClock
) -> None:
    neighbours = [complaint(MONDAY + timedelta(hours=h), place="新城大厦") for h in (0, 1, 2)]
    arrive(heads, clock, *neighbours)
    scan_at(heads, clock, MONDAY + timedelta(hours=3))
    first = neighbours[0]
    first.level, first.level_reason = Level.BLUE, "核实为个别故障，非群体事件"
    clock.now = MONDAY + timedelta(hours=4)
    push_tickets(heads, first)
    scan_at(heads, clock, MONDAY + timedelta(hours=5))
    assert level_of(heads, first.sync_key) is Level.BLUE
    assert len(notices(heads, "escalation")) == 3


def test_the_same_customer_twice_without_resolution_turns_both_yellow(
    heads: Flask, clock: PinnedClock
) -> None:
    billing = complaint(MONDAY, category=Category.BILLING_DISPUTE, contact="138-0013-8000", place="")
    network = complaint(MONDAY + timedelta(days=1), contact="13800138000", place="")
    other = complaint(MONDAY + timedelta(days=1), contact="13900139000", place="")
    arrive(heads, clock, billing)
    scan_at(heads, clock, MONDAY + timedelta(hours=1))
    assert level_of(heads, billing.sync_key) is Level.BLUE
    arrive(heads, clock, network, other)
    scan_at(heads, clock, MONDAY + timedelta(days=1, hours=1))
    assert level_of(heads, billing.sync_key) is Level.YELLOW
    assert level_of(heads, network.sync_key) is Level.YELLOW
    assert level_of(heads, other.sync_key) is Level.BLUE
    assert Basis.REPEAT in stored(heads, network.sync_key)["level_basis"]


def test_media_exposure_turns_red_and_the_notice_says_who_what_why_and_by_when(
    heads: Flask, clock: PinnedClock
) -> None:
    ticket = complaint(MONDAY, media_exposure=True, customer_name="刘女士", contact="13712345678")
    arrive(heads, clock, ticket)
    scan_at(heads, clock, MONDAY + timedelta(minutes=10))
    assert level_of(heads, ticket.sync_key) is Level.RED
    (notice,) = notices(heads, "escalation")
    assert notice.to_addr == "wang@example.com"
    assert ticket.ticket_id in notice.subject and "红" in notice.subject
    body = notice.body
    assert "王经理" in body  # who is asked to act
    assert "媒体曝光" in body  # why
    assert "每晚八点到十一点宽带断线" in body  # what
    assert "137****5678" in body and "13712345678" not in body  # the customer's number masked
    assert "响应时限：2026-10-13 23:59" in body  # by when: acknowledgement by the end of the next working day


def test_levels_set_before_the_first_scan_are_not_mailed_but_later_escalations_are(
    heads: Flask, clock: PinnedClock
) -> None:
    old = complaint(MONDAY, level=Level.YELLOW, level_reason="客户多次来电")
    arrive(heads, clock, old)
    scan_at(heads, clock, MONDAY + timedelta(minutes=5))
    assert [(n.ticket_key, n.status) for n in notices(heads)] == [(old.sync_key, "skipped")]

    new = complaint(MONDAY + timedelta(hours=1))
    arrive(heads, clock, new)
    new.level, new.level_reason = Level.RED, "客户向工信部申诉"
    clock.now = MONDAY + timedelta(hours=2)
    push_tickets(heads, new, by="SZ01-PC2")
    scan_at(heads, clock, MONDAY + timedelta(hours=2, minutes=5))
    told = [n for n in notices(heads) if n.status == "pending"]
    assert [n.ticket_key for n in told] == [new.sync_key]
    assert "客户向工信部申诉" in told[0].body and "SZ01-PC2" in told[0].body


def test_head_office_escalation_is_told_at_once_and_the_scan_adds_no_second_notice(
    heads: Flask, clock: PinnedClock
) -> None:
    ticket = complaint(MONDAY)
    arrive(heads, clock, ticket)
    scan_at(heads, clock, MONDAY + timedelta(minutes=5))
    token = add_head_office(heads)
    clock.now = MONDAY + timedelta(hours=1)
    response = heads.test_client().post(
        f"/api/tickets/{ticket.sync_key}/escalate",
        json={"reason": "客户在微博发帖", "head": "王经理"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.json
    (notice,) = notices(heads, "escalation")
    assert notice.to_addr == "wang@example.com" and "客户在微博发帖" in notice.body
    scan_at(heads, clock, MONDAY + timedelta(hours=1, minutes=5))
    assert len(notices(heads, "escalation")) == 1


def test_an_escalated_ticket_that_stays_overdue_reminds_its_head_once_a_day(
    heads: Flask, clock: PinnedClock
) -> None:
    ticket = complaint(MONDAY, regulator_involved=True)  # red at once
    arrive(heads, clock, ticket)
    scan_at(heads, clock, MONDAY + timedelta(minutes=5))
    day_after = local(2026, 10, 14, 8, 5)  # acknowledgement was due at the end of Tuesday
    scan_at(heads, clock, day_after)
    with heads.app_context():
        assert overdue_reminders(day_after).changed == 1
        assert overdue_reminders(day_after + timedelta(hours=3)).changed == 0
        assert overdue_reminders(day_after + timedelta(days=1)).changed == 1
    reminders = notices(heads, "overdue")
    assert [n.to_addr for n in reminders] == ["wang@example.com"] * 2
    assert "响应超时" in reminders[0].body


def test_daily_digest_goes_to_the_coordinator_and_each_head_once(heads: Flask, clock: PinnedClock) -> None:
    network = complaint(MONDAY)
    attitude = complaint(MONDAY, category=Category.STAFF_ATTITUDE, description="营业员态度恶劣，大声呵斥")
    arrive(heads, clock, network, attitude)
    morning = local(2026, 10, 14, 8, 0)
    scan_at(heads, clock, morning)
    with heads.app_context():
        assert daily_digest(morning).changed == 3
        assert daily_digest(morning + timedelta(minutes=30)).changed == 0
    digests = {n.to_addr: n for n in notices(heads, "digest")}
    assert set(digests) == {"chen@example.com", "wang@example.com", "zhao@example.com"}
    assert network.ticket_id in digests["chen@example.com"].body
    assert attitude.ticket_id in digests["chen@example.com"].body
    assert network.ticket_id in digests["wang@example.com"].body
    assert attitude.ticket_id not in digests["wang@example.com"].body
    assert (
        "已超时" in digests["zhao@example.com"].body and "2026-10-14" in digests["zhao@example.com"].subject
    )


def test_notices_follow_the_branch_language(heads: Flask, clock: PinnedClock) -> None:
    with heads.app_context(), get_db().write() as session:
        contact = session.scalar(select(BranchContactRow))
        assert contact is not None
        contact.language = "en"
    ticket = complaint(MONDAY, media_exposure=True)
    arrive(heads, clock, ticket)
    scan_at(heads, clock, MONDAY + timedelta(minutes=10))
    (notice,) = notices(heads, "escalation")
    assert notice.subject.startswith("[Red warning]") and "media exposure" in notice.body
