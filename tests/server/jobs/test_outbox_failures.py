"""One notice that cannot be sent never holds up the others; e-mails show no full phone number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from server.services.notices import Notice, enqueue
from server.storage.db import get_db
from tests.factories import make_ticket
from tests.phones import LANDLINES, MOBILES, unmasked
from tests.server.jobs.conftest import PinnedClock, push_tickets, scan_at
from tests.server.jobs.test_outbox_smtp import MONDAY, MailServer, drain, mail, outbox_rows  # noqa: F401


class AsciiMailServer(MailServer):
    """A mail server that, like many, does not offer SMTPUTF8 (internationalised addresses)."""

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=False)
        self._controller.start()


@pytest.fixture
def ascii_mail(mail: MailServer) -> AsciiMailServer:  # noqa: F811
    server = AsciiMailServer(mail.port)
    server.inbox = mail.inbox
    return server


BREAKERS = ["\u2028", "\r", "\x0b", "\x85", "\n", "\u2029", "\x1f"]
"""Characters a ticket number once carried into a subject: each made the header raise."""


def queue(app: Flask, *notices: tuple[str, str]) -> None:
    """Queue notices (subject, address) as they were left in the outbox before header text was cleaned."""
    with app.app_context(), get_db().write() as session:
        for i, (subject, to_addr) in enumerate(notices):
            notice = Notice("escalation", f"test:{i}", "王经理", to_addr, "zh", subject, "请跟进。\n")
            enqueue(session, notice, MONDAY)


def test_a_notice_that_cannot_be_sent_is_failed_with_its_reason_and_the_rest_are_delivered(
    desk: Flask, clock: PinnedClock, ascii_mail: AsciiMailServer
) -> None:
    subjects = [f"【红色预警】SZ01-0001{ch}Bcc: spy@example.com" for ch in BREAKERS]
    queue(
        desk,
        *[(s, "wang@example.com") for s in subjects],
        ("不能投递", "王经理@例子.中国"),  # the server takes no internationalised address (no SMTPUTF8)
        ("【黄色预警】SZ01-0002", "li@example.com"),
    )
    ascii_mail.start()
    assert drain(desk, clock, 1).startswith(f"{len(BREAKERS) + 1} sent, 0 deferred, 1 refused")
    rows = outbox_rows(desk)
    assert [r.status for r in rows] == ["sent"] * len(BREAKERS) + ["failed", "sent"]
    assert "SMTPUTF8" in rows[len(BREAKERS)].last_error
    delivered = [m["Subject"] for m in ascii_mail.inbox.messages]
    assert delivered[:-1] == ["【红色预警】SZ01-0001 Bcc: spy@example.com"] * len(BREAKERS)
    assert all(m["Bcc"] is None and m["To"] == "wang@example.com" for m in ascii_mail.inbox.messages[:-1])
    assert drain(desk, clock, 120).startswith("0 sent, 0 deferred, 0 refused")  # the failed one stays failed


def test_an_escalation_e_mail_shows_every_number_masked(
    desk: Flask,
    clock: PinnedClock,
    mail: MailServer,  # noqa: F811
) -> None:
    spellings = [s.written for s in MOBILES + LANDLINES]
    ticket = make_ticket(
        ticket_id="SZ01-20261012-0009",
        received_at=MONDAY,
        media_exposure=True,
        contact="138-0013-8000",
        customer_name="王先生 139 1234 5678",
        place="（０７５５）８３２０１２３４",
        description="；".join(spellings),
    )
    clock.now = MONDAY
    push_tickets(desk, ticket)
    scan_at(desk, clock, MONDAY + timedelta(minutes=1))
    mail.start()
    assert drain(desk, clock, 2).startswith("1 sent")
    (message,) = mail.inbox.messages
    text = f"{message['Subject']}\n{message.get_content()}"
    assert "138-****-8000" in text and "王先生 139 **** 5678" in text
    assert unmasked(text) == []
