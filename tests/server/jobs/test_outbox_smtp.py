"""Notices delivered to a real local SMTP server (aiosmtpd): retried while it is down, delivered once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from complaints.enums import Category
from complaints.routing import RoutingRule
from server.scheduling.jobs import outbox
from server.storage.db import get_db
from server.storage.models import BranchRow, OutboxRow
from server.storage.routing import set_rule
from tests.factories import local, make_ticket
from tests.server.api.conftest import add_head_office, free_port
from tests.server.jobs.conftest import PinnedClock, push_tickets, scan_at

MONDAY = local(2026, 10, 12, 9, 0)


class Inbox:
    """An aiosmtpd handler keeping every message; it refuses recipients at refused.example."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@refused.example"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"


class MailServer:
    """A local SMTP server on a fixed port that the test stops and starts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def mail(desk: Flask) -> Iterator[MailServer]:
    server = MailServer(free_port())
    desk.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_FROM="desk@example.com")
    with desk.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        set_rule(
            session, branch.id, RoutingRule(Category.NETWORK_FAULT, "网络部", "王经理", "wang@example.com")
        )
    yield server
    server.stop()


def drain(app: Flask, clock: PinnedClock, minutes: float) -> str:
    clock.now = MONDAY + timedelta(minutes=minutes)
    with app.app_context():
        return outbox(clock.now).detail


def outbox_rows(app: Flask) -> list[OutboxRow]:
    with app.app_context(), get_db().read() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_an_escalation_sent_while_the_mail_server_is_down_arrives_once_when_it_is_back(
    desk: Flask, clock: PinnedClock, mail: MailServer
) -> None:
    ticket = make_ticket(ticket_id="SZ01-20261012-0001", received_at=MONDAY)
    clock.now = MONDAY
    push_tickets(desk, ticket)
    scan_at(desk, clock, MONDAY + timedelta(minutes=1))
    token = add_head_office(desk)
    clock.now = MONDAY + timedelta(minutes=2)
    response = desk.test_client().post(
        f"/api/tickets/{ticket.sync_key}/escalate",
        json={"reason": "客户在微博发帖曝光", "head": "王经理"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200

    assert "ConnectionRefusedError" in drain(desk, clock, 3)  # the server is down
    (row,) = outbox_rows(desk)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == MONDAY + timedelta(minutes=4)  # retried a minute later, then 2, 4 … minutes

    mail.start()
    assert drain(desk, clock, 3.5).startswith("0 sent")  # not before its next attempt
    assert drain(desk, clock, 4).startswith("1 sent")
    assert drain(desk, clock, 10).startswith("0 sent")
    scan_at(desk, clock, MONDAY + timedelta(minutes=11))
    assert drain(desk, clock, 12).startswith("0 sent")

    (message,) = mail.inbox.messages
    assert message["To"] == "wang@example.com" and message["From"] == "desk@example.com"
    assert message["Subject"] == "【黄色预警】SZ01-20261012-0001 网络故障 — 请负责人跟进"
    body = message.get_content()
    assert "客户在微博发帖曝光" in body and "王经理" in body
    (row,) = outbox_rows(desk)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, MONDAY + timedelta(minutes=4))


def test_backoff_doubles_while_the_server_stays_down(
    desk: Flask, clock: PinnedClock, mail: MailServer
) -> None:
    ticket = make_ticket(ticket_id="SZ01-20261012-0002", received_at=MONDAY, media_exposure=True)
    clock.now = MONDAY
    push_tickets(desk, ticket)
    scan_at(desk, clock, MONDAY)
    waits = []
    minutes = 0.0
    for _ in range(4):
        drain(desk, clock, minutes)
        (row,) = outbox_rows(desk)
        waits.append((row.next_attempt_at - clock.now) / timedelta(minutes=1))
        minutes = (row.next_attempt_at - MONDAY) / timedelta(minutes=1)
    assert waits == [1, 2, 4, 8]
    mail.start()
    drain(desk, clock, minutes)
    assert len(mail.inbox.messages) == 1


def test_a_refused_address_is_marked_failed_and_not_retried(
    desk: Flask, clock: PinnedClock, mail: MailServer
) -> None:
    with desk.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        set_rule(
            session,
            branch.id,
            RoutingRule(Category.NETWORK_FAULT, "网络部", "王经理", "wang@refused.example"),
        )
    mail.start()
    clock.now = MONDAY
    push_tickets(desk, make_ticket(ticket_id="SZ01-20261012-0003", received_at=MONDAY, media_exposure=True))
    scan_at(desk, clock, MONDAY)
    assert "1 refused" in drain(desk, clock, 1)
    (row,) = outbox_rows(desk)
    assert row.status == "failed" and "wang@refused.example" in row.last_error
    assert drain(desk, clock, 120).startswith("0 sent, 0 deferred, 0 refused")
    assert mail.inbox.messages == []
