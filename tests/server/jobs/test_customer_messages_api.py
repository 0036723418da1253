"""Issue 15 item 7 through the API with a branch token: messages to the customer filled, checked, sent.

Sending logs the message on the ticket through the one door (so it counts as the
acknowledgement, a written confirmation, the feedback), queues it in the outbox,
and the outbox job delivers an SMS to a real local gateway (an HTTP server
started here), retrying while the gateway is down.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from complaints.enums import Flag, Status
from server import create_app
from server.auth import ADMIN, HEAD_OFFICE, hash_password
from server.scheduling.jobs import outbox
from server.storage.db import get_db
from server.storage.models import LogRow, OutboxRow, TicketRow, UserRow
from server.storage.rows import from_db
from tests.factories import local, make_ticket
from tests.server.api.conftest import add_branch, database_url, migrated_url  # noqa: F401
from tests.server.gateway import FakeGateway
from tests.server.jobs.conftest import PinnedClock, flags_of, push_tickets

MONDAY = local(2026, 10, 12, 9, 0)
PASSWORD = "s3cret-pass"


def add_user(app: Flask, username: str, role: str) -> None:
    with app.app_context(), get_db().write() as session:
        session.add(
            UserRow(username=username, password_hash=hash_password(PASSWORD), role=role, created_at=MONDAY)
        )


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    server = FakeGateway()
    yield server
    server.close()


@pytest.fixture
def setup(database_url: str, gateway: FakeGateway) -> Iterator[tuple[Flask, PinnedClock, str]]:  # noqa: F811
    clock = PinnedClock(MONDAY)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "SMS_GATEWAY_URL": gateway.url,
            "SMS_GATEWAY_TOKEN": "gw-secret",
        }
    )
    with app.app_context():
        get_db().upgrade()
    token = add_branch(app, "SZ01")
    yield app, clock, token
    with app.app_context():
        get_db().dispose()


def post(app: Flask, token: str, sync_key: str, **body: Any) -> Any:
    return app.test_client().post(
        f"/api/tickets/{sync_key}/messages", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def stored_row(app: Flask, sync_key: str) -> TicketRow:
    with app.app_context(), get_db().read() as session:
        row = session.get(TicketRow, sync_key)
        assert row is not None
        session.expunge(row)
        return row


def log_of(app: Flask, sync_key: str) -> list[tuple[str, str, str]]:
    with app.app_context(), get_db().read() as session:
        rows = session.scalars(select(LogRow).where(LogRow.ticket_key == sync_key).order_by(LogRow.at))
        return [(r.kind, r.channel, r.text) for r in rows]


def outbox_rows(app: Flask) -> list[OutboxRow]:
    with app.app_context(), get_db().read() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_a_branch_previews_sends_and_the_rules_read_what_the_customer_was_told(setup, gateway):
    app, clock, token = setup
    ticket = make_ticket(
        ticket_id="SZ01-20261012-0001",
        received_at=MONDAY,
        contact="13800138000 / zhang@example.com",
        preferred_channel="短信",
        compensation="赠送3个月提速",
    )
    push_tickets(app, ticket)
    assert Flag.UNCONFIRMED_COMMITMENT in flags_of(app, ticket.sync_key)

    # a preview: the coordinator's words are checked, nothing is sent or logged, phone numbers masked
    clock.now = MONDAY + timedelta(minutes=5)
    seen = post(
        app, token, ticket.sync_key, kind="progress", channel="sms", text="我们会尽快处理，请回电13912345678"
    )
    assert seen.status_code == 200
    shown = seen.get_json()
    assert [(i["kind"], i["phrase"]) for i in shown["issues"]] == [("unquantified", "尽快")]
    assert "139****5678" in shown["body"] and "13912345678" not in shown["body"]
    assert shown["to"] == "138****8000" and shown["sent"] is False
    assert outbox_rows(app) == [] and log_of(app, ticket.sync_key) == []

    # what a message cannot go without is refused, naming it
    refused = post(app, token, ticket.sync_key, kind="plan", channel="sms", send=True)
    assert refused.status_code == 409 and refused.get_json()["error"] == "message_incomplete"

    # the acknowledgement by SMS acknowledges the ticket
    sent = post(app, token, ticket.sync_key, kind="acknowledgement", channel="sms", send=True)
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["sent"] is True and sent.get_json()["log"]["kind"] == "progress"
    row = stored_row(app, ticket.sync_key)
    assert row.acknowledged_at == clock.now and from_db("status", row.status) is Status.ACKNOWLEDGED

    # the written confirmation of the compensation clears the flag; resent with its key, it is sent once
    clock.now = MONDAY + timedelta(minutes=10)
    for _ in range(2):
        confirmed = app.test_client().post(
            f"/api/tickets/{ticket.sync_key}/messages",
            json={"kind": "confirmation", "channel": "sms", "send": True},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "confirm-1"},
        )
        assert confirmed.status_code == 201
    assert "补偿承诺：赠送3个月提速" in confirmed.get_json()["body"]
    assert Flag.UNCONFIRMED_COMMITMENT not in flags_of(app, ticket.sync_key)
    assert [(kind, channel) for kind, channel, _ in log_of(app, ticket.sync_key)] == [
        ("progress", "短信"),
        ("confirmation", "短信"),
    ]

    # the gateway is down: both wait; back up: each arrives once, to the real number
    gateway.status = 503
    clock.now = MONDAY + timedelta(minutes=11)
    with app.app_context():
        assert outbox(clock.now).detail.startswith("0 sent, 2 deferred")
    gateway.status = 202
    clock.now = MONDAY + timedelta(minutes=30)
    with app.app_context():
        assert outbox(clock.now).detail.startswith("2 sent")
        assert outbox(clock.now + timedelta(hours=1)).detail.startswith("0 sent")
    assert [m["to"] for m in gateway.received] == ["13800138000", "13800138000"]
    assert "调查已经启动" in gateway.received[0]["text"] and "赠送3个月提速" in gateway.received[1]["text"]
    assert gateway.headers[0]["Authorization"] == "Bearer gw-secret"
    assert [(r.channel, r.status) for r in outbox_rows(app)] == [("sms", "sent"), ("sms", "sent")]

    # the outbox on the admin page: the customer's number in full for an administrator only
    add_user(app, "ops", ADMIN)
    add_user(app, "analyst", HEAD_OFFICE)
    for user, shown, hidden in (
        ("ops", "13800138000", "138****8000"),
        ("analyst", "138****8000", "13800138000"),
    ):
        auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}
        page = app.test_client().get("/admin/scheduler", headers=auth).get_data(as_text=True)
        assert shown in page and hidden not in page and "customer-confirmation (sms)" in page


def test_feedback_by_email_is_the_feedback_and_is_flagged_off_the_preferred_channel(setup):
    app, clock, token = setup
    ticket = make_ticket(
        ticket_id="SZ01-20261012-0002",
        received_at=MONDAY,
        contact="13800138000 zhang@example.com",
        preferred_channel="短信",
        acknowledged_at=MONDAY + timedelta(hours=1),
        plan_at=MONDAY + timedelta(hours=2),
        resolved_at=MONDAY + timedelta(hours=5),
    )
    clock.now = MONDAY + timedelta(hours=6)
    push_tickets(app, ticket)
    early = post(app, token, ticket.sync_key, kind="feedback", channel="email", lang="en", send=True)
    assert early.status_code == 409 and early.get_json()["error"] == "message_incomplete"  # no cause yet

    push_tickets(
        app, dataclasses.replace(ticket, cause="光交箱过载", solution="已扩容", safeguards="每月巡检")
    )
    sent = post(app, token, ticket.sync_key, kind="feedback", channel="email", lang="en", send=True)
    assert sent.status_code == 201
    answer = sent.get_json()
    assert answer["subject"] == "The result of your complaint (SZ01-20261012-0002)"
    assert "Cause: 光交箱过载" in answer["body"] and answer["to"] == "zhang@example.com"
    row = stored_row(app, ticket.sync_key)
    assert (row.feedback_at, row.feedback_channel) == (clock.now, "E-mail")
    assert Flag.FEEDBACK_CHANNEL in flags_of(app, ticket.sync_key)  # the customer prefers SMS
    (queued,) = outbox_rows(app)
    assert (queued.channel, queued.to_addr, queued.status) == ("email", "zhang@example.com", "pending")

    # told again, by SMS as the customer prefers: that is the feedback's channel now, and the flag goes
    clock.now += timedelta(minutes=30)
    again = post(app, token, ticket.sync_key, kind="feedback", channel="sms", send=True)
    assert again.status_code == 201
    row = stored_row(app, ticket.sync_key)
    assert (row.feedback_at, row.feedback_channel) == (MONDAY + timedelta(hours=6), "短信")
    assert Flag.FEEDBACK_CHANNEL not in flags_of(app, ticket.sync_key)


def test_another_branchs_ticket_is_not_found(setup):
    app, _clock, _token = setup
    ticket = make_ticket(ticket_id="SZ01-20261012-0003", received_at=MONDAY)
    push_tickets(app, ticket)
    other = add_branch(app, "LD01")
    assert post(app, other, ticket.sync_key, kind="revisit", channel="sms").status_code == 404


def test_text_no_excel_cell_can_hold_is_refused_naming_the_field(setup):
    app, _clock, token = setup
    ticket = make_ticket(ticket_id="SZ01-20261012-0004", received_at=MONDAY)
    push_tickets(app, ticket)
    answer = post(app, token, ticket.sync_key, kind="progress", channel="sms", text="进" * 40_000, send=True)
    assert answer.status_code == 422 and answer.get_json()["where"] == {"field": "text"}
    assert outbox_rows(app) == []


def test_a_progress_message_is_the_progress_update_the_rules_wait_for(setup):
    app, clock, token = setup
    ticket = make_ticket(
        ticket_id="SZ01-20260928-0001",
        received_at=local(2026, 9, 28, 9),
        contact="13800138000",
        acknowledged_at=local(2026, 9, 28, 10),
        routed_at=local(2026, 9, 28, 10),
        plan_at=local(2026, 9, 29, 10),
        promised_at=local(2026, 10, 20, 18),
    )
    push_tickets(app, ticket)
    assert Flag.NO_PROGRESS in flags_of(app, ticket.sync_key)  # nothing since the plan, before National Day
    sent = post(
        app,
        token,
        ticket.sync_key,
        kind="progress",
        channel="sms",
        text="光交箱扩容已完成一半，明天18点前完工",
        send=True,
    )
    assert sent.status_code == 201 and sent.get_json()["issues"] == []
    assert Flag.NO_PROGRESS not in flags_of(app, ticket.sync_key)
    assert [kind for kind, _, _ in log_of(app, ticket.sync_key)] == ["progress"]
