"""Battery 7: four gunicorn workers on two hosts started apart, leader killed: slots once, one notice each.

Two gunicorn masters (two workers each) stand for two hosts; the second starts
a few seconds after the first. Every worker runs a scheduler; one leads. A
heartbeat job fires every three seconds and the outbox job every second. Head
office escalates ten tickets, one at a time; each escalation queues a notice
to the department head, which the leader's outbox job mails to a local SMTP
server. Half-way the leader is killed. Over ten heartbeat slots there are ten
runs (the slot during the takeover is caught up, not missed), and the head
receives ten e-mails, one per ticket.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, select

from complaints.enums import Category
from complaints.routing import RoutingRule
from server import create_app
from server.storage.db import get_db
from server.storage.models import BranchRow, JobRunRow, OutboxRow
from server.storage.routing import set_rule
from tests.factories import make_ticket
from tests.server.api.conftest import (  # noqa: F401 (fixtures)
    Gunicorn,
    add_branch,
    add_head_office,
    database_url,
    free_port,
    get_db_of,
    migrated_url,
)
from tests.server.jobs.conftest import push_tickets
from tests.server.jobs.test_exactly_once import as_utc, leader_pid, wait_for
from tests.server.jobs.test_outbox_smtp import MailServer

pytestmark = pytest.mark.battery

HEARTBEAT = 3
TICKETS = 10
HEAD = "wang@example.com"


def _prepare(url: str) -> tuple[str, list[str]]:
    app: Flask = create_app({"DATABASE_URL": url})
    add_branch(app, "SZ01")
    hq = add_head_office(app)
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        set_rule(session, branch.id, RoutingRule(Category.NETWORK_FAULT, "网络部", "王经理", HEAD))
    received = datetime.now(UTC) - timedelta(hours=1)
    tickets = [
        make_ticket(
            category=Category.NETWORK_FAULT,
            department="网络部",
            ticket_id=f"SZ01-20261129-{i + 1:04d}",
            received_at=received,
            customer_name=f"客户{i}",
            contact=f"1380013{i:04d}",  # ten customers in ten estates: no repeat or group rule fires
            place=f"阳光花园{i + 1}期",
        )
        for i in range(TICKETS)
    ]
    push_tickets(app, *tickets)
    get_db_of(app).dispose()
    return hq, [t.sync_key for t in tickets]


def test_every_slot_runs_once_and_every_escalation_is_mailed_once(migrated_url: str) -> None:  # noqa: F811
    hq, keys = _prepare(migrated_url)
    mail = MailServer(free_port())
    mail.start()
    env = {
        "FLASK_SCHEDULER_ENABLED": "true",
        "FLASK_SCHEDULER_JOBS": "heartbeat,outbox",
        "FLASK_SCHEDULER_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "FLASK_SCHEDULER_OUTBOX_SECONDS": "1",
        "FLASK_SCHEDULER_LEASE_SECONDS": "1",
        "FLASK_SCHEDULER_POLL_SECONDS": "0.25",
        "FLASK_SMTP_HOST": "127.0.0.1",
        "FLASK_SMTP_PORT": str(mail.port),
        "FLASK_SMTP_FROM": "desk@example.com",
    }
    engine = create_engine(migrated_url)
    hosts = [Gunicorn(migrated_url, workers=2, extra_env=env)]
    try:
        time.sleep(3)  # the second host starts late
        hosts.append(Gunicorn(migrated_url, workers=2, extra_env=env))
        first_leader = wait_for(lambda: leader_pid(engine), 30, "a leader")
        start = as_utc(wait_for(lambda: heartbeats(engine), 30, "the first heartbeat")[0])
        window = [start + timedelta(seconds=HEARTBEAT * s) for s in range(1, 11)]

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {hq}"
        for i, key in enumerate(keys):
            if i == TICKETS // 2:
                os.kill(first_leader, signal.SIGKILL)
            answer = session.post(
                f"{hosts[i % 2].url}/api/tickets/{key}/escalate", json={"reason": f"媒体曝光 {i}"}, timeout=30
            )
            assert answer.status_code == 200, answer.text
            time.sleep(1.5)

        wait_for(lambda: any(as_utc(s) > window[-1] for s in heartbeats(engine)), 60, "ten heartbeat slots")
        wait_for(lambda: len(mail.inbox.messages) >= TICKETS, 60, "ten notices")
        time.sleep(3)  # time for a duplicate to show up, if there were one

        ran = [as_utc(s) for s in heartbeats(engine) if window[0] <= as_utc(s) <= window[-1]]
        assert ran == window  # ten slots, each once, none missed across the takeover
        with engine.connect() as conn:
            assert conn.scalar(select(JobRunRow.duplicates).order_by(JobRunRow.duplicates.desc())) == 0
            sent = conn.execute(select(OutboxRow.status, OutboxRow.recipient)).all()
        assert len(sent) == TICKETS and {s.status for s in sent} == {"sent"}
        assert len(mail.inbox.messages) == TICKETS
        assert all(m["To"].addresses[0].addr_spec == HEAD for m in mail.inbox.messages)
        subjects = [m["Subject"] for m in mail.inbox.messages]
        assert len(set(subjects)) == TICKETS  # one notice per ticket, none twice
        assert leader_pid(engine) != first_leader
    finally:
        for host in hosts:
            host.stop()
        mail.stop()
        engine.dispose()


def heartbeats(engine) -> list[datetime]:  # noqa: ANN001
    with engine.connect() as conn:
        query = select(JobRunRow.slot).where(JobRunRow.job_id == "heartbeat").order_by(JobRunRow.slot)
        return list(conn.scalars(query))
