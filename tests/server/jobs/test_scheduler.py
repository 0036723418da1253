"""Slots, catch-up and fencing of runs; the status command and admin page; monthly and calendar jobs."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from server.auth import ADMIN, hash_password
from server.scheduling.jobs import calendar_reminder, monthly_analysis
from server.scheduling.leader import make_lease
from server.scheduling.scheduler import SchedulerService, all_job_specs, execute, latest_slot
from server.storage.db import get_db
from server.storage.evidence import evidence_folder, evidence_store
from server.storage.models import JobRunRow, OutboxRow, ReportRow, SchedulerLeaseRow, UserRow
from tests.factories import local, make_ticket
from tests.server.api.conftest import REPO, add_branch, add_head_office, free_port
from tests.server.jobs.conftest import PinnedClock, push_tickets


def evidence_folder_of(app: Flask) -> Path:
    with app.app_context():
        return evidence_folder()


def job_runs(app: Flask, job_id: str) -> list[JobRunRow]:
    with app.app_context(), get_db().read() as session:
        return list(
            session.scalars(select(JobRunRow).where(JobRunRow.job_id == job_id).order_by(JobRunRow.id))
        )


def test_the_latest_slot_is_the_triggers_last_fire_time(desk: Flask) -> None:
    specs = all_job_specs(desk.config)
    assert latest_slot(specs["daily_digest"], local(2026, 10, 14, 9, 0)) == local(2026, 10, 14, 8, 0)
    assert latest_slot(specs["daily_digest"], local(2026, 10, 14, 7, 59)) == local(2026, 10, 13, 8, 0)
    assert latest_slot(specs["flag_scan"], local(2026, 10, 14, 10, 7, 30)) == local(2026, 10, 14, 10, 5)
    assert latest_slot(specs["monthly_analysis"], local(2026, 11, 20, 0, 0)) == local(2026, 11, 1, 6, 0)


def test_a_new_leader_runs_a_missed_daily_digest_once_and_only_within_its_grace(desk: Flask) -> None:
    wall = {"now": local(2026, 10, 14, 9, 30)}  # the 08:00 digest was missed while no scheduler led
    desk.config["SCHEDULER_JOBS"] = ["daily_digest"]
    service = SchedulerService(desk, wall=lambda: wall["now"])
    assert service.lease.acquire()
    service._fire("daily_digest", catch_up=True)
    service._fire("daily_digest", catch_up=True)
    assert [(r.slot, r.trigger) for r in job_runs(desk, "daily_digest")] == [
        (local(2026, 10, 14, 8, 0), "catch-up")
    ]
    wall["now"] = local(
        2026, 10, 15, 15, 0
    )  # seven hours after the next slot: too late to send a morning digest
    service._fire("daily_digest", catch_up=True)
    assert len(job_runs(desk, "daily_digest")) == 1
    service.lease.release()


def test_a_slot_claimed_twice_runs_once_and_the_second_attempt_is_counted(desk: Flask) -> None:
    spec = all_job_specs(desk.config)["heartbeat"]
    slot = local(2026, 10, 14, 10, 0)
    with desk.app_context():
        assert execute(spec, slot) is not None
        assert execute(spec, slot) is None
    (run,) = job_runs(desk, "heartbeat")
    assert (run.duplicates, run.detail, run.error) == (1, "alive", "")


def test_a_leader_that_lost_its_lease_cannot_claim_a_slot(desk: Flask) -> None:
    wall = {"now": datetime.now().astimezone()}
    with desk.app_context():
        db = get_db()
        stale = make_lease(db, ttl=30, wall=lambda: wall["now"])
        assert stale.acquire()
        if db.is_sqlite:
            wall["now"] += timedelta(seconds=31)  # it stopped renewing: the lease expired
        else:
            admin = create_engine(db.url, poolclass=NullPool)
            with admin.connect() as conn:  # its lock connection died
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": stale._backend_pid})
        fresh = make_lease(db, ttl=30, wall=lambda: wall["now"])
        assert wait(fresh.acquire)
        spec = all_job_specs(desk.config)["heartbeat"]
        assert execute(spec, local(2026, 10, 14, 10, 0), lease=stale) is None
        assert execute(spec, local(2026, 10, 14, 10, 0), lease=fresh) is not None
        fresh.release()
        stale.release()
    assert [r.duplicates for r in job_runs(desk, "heartbeat")] == [0]


def wait(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def admin_auth(desk: Flask) -> dict[str, str]:
    with desk.app_context(), get_db().write() as session:
        session.add(
            UserRow(
                username="ops",
                password_hash=hash_password("ops-password"),
                role=ADMIN,
                email="ops@example.com",
                created_at=local(2026, 1, 1),
            )
        )
    return {"Authorization": "Basic " + base64.b64encode(b"ops:ops-password").decode()}


def test_status_command_and_admin_page_show_each_jobs_last_run_and_errors(
    desk: Flask, clock: PinnedClock, admin_auth: dict[str, str]
) -> None:
    clock.now = local(2026, 10, 12, 9, 0)
    push_tickets(desk, make_ticket(ticket_id="SZ01-20261012-0001", received_at=clock.now))
    clock.now = local(2026, 10, 14, 9, 0)  # its acknowledgement is overdue now
    runner = desk.test_cli_runner()
    result = runner.invoke(args=["scheduler", "run-job", "flag_scan", "--full"])
    assert result.exit_code == 0, result.output
    assert "flag_scan: 1 branches (1 walked in full), 1 evaluated" in result.output
    desk.config.update(SMTP_HOST="127.0.0.1", SMTP_TLS="bogus")
    result = runner.invoke(args=["scheduler", "run-job", "outbox"])
    assert result.exit_code == 1 and "SMTP_TLS must be" in result.output

    status = runner.invoke(args=["scheduler", "status"]).output
    assert "leader: none yet" in status
    lines = {line.split()[0]: line.split() for line in status.splitlines()[2:]}
    job, slot, ms, changed, runs, errors = lines["flag_scan"][:6]
    assert (changed, runs, errors) == ("1", "1", "0") and int(ms) >= 0  # its flags and deadlines were written
    assert lines["outbox"][3:6] == ["0", "1", "1"] and "ValueError: SMTP_TLS" in " ".join(lines["outbox"])
    assert lines["daily_digest"][1:4] == ["-", "-", "-"]

    client = desk.test_client()
    assert client.get("/admin/scheduler").status_code == 401
    branch_token = add_branch(desk, "GZ01")
    assert (
        client.get("/admin/scheduler", headers={"Authorization": f"Bearer {branch_token}"}).status_code == 401
    )
    page = client.get("/admin/scheduler", headers=admin_auth)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "flag_scan" in html and "ValueError: SMTP_TLS must be" in html and " ms" in html
    head_office = add_head_office(desk)
    assert (
        client.get("/admin/scheduler", headers={"Authorization": f"Bearer {head_office}"}).status_code == 200
    )


def test_monthly_analysis_on_the_first_is_kept_once_and_downloadable(
    desk: Flask, clock: PinnedClock, admin_auth: dict[str, str]
) -> None:
    clock.now = local(2026, 10, 12, 9, 0)
    push_tickets(
        desk, *[make_ticket(ticket_id=f"SZ01-20261012-000{n}", received_at=clock.now) for n in (1, 2, 3)]
    )
    first = local(2026, 11, 1, 6, 0)
    with desk.app_context():
        assert monthly_analysis(first).changed == 1
        assert monthly_analysis(first + timedelta(hours=1)).detail == "analysis 2026-10 already kept"
    client = desk.test_client()
    html = client.get("/admin/scheduler", headers=admin_auth).get_data(as_text=True)
    assert "complaints-analysis-2026-10.xlsx" in html
    response = client.get("/admin/reports/1", headers=admin_auth)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("complaints-analysis-2026-10.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert "月度分析" in book.sheetnames  # the analysis sheet, with charts
    rows = list(book["KPI"].iter_rows(values_only=True))
    header = next(r for r in rows if "受理量" in r)
    received = header.index("受理量")
    assert [r[received] for r in rows if r and r[0] and "SZ01" in str(r[0])] == [3]
    assert client.get("/admin/reports/99", headers=admin_auth).status_code == 404
    with desk.app_context(), get_db().read() as session:  # a file in the store, not a value in the database
        row = session.scalars(select(ReportRow)).one()
        assert row.content is None
        with evidence_store().open(row.sha256 or "") as kept:
            assert kept.read() == response.data
    response.close()
    assert not [p for p in evidence_folder_of(desk).iterdir() if p.is_file()]  # no scratch file left


def test_a_monthly_analysis_kept_in_the_database_before_the_file_store_still_downloads(
    desk: Flask, admin_auth: dict[str, str]
) -> None:
    with desk.app_context(), get_db().write() as session:
        made = datetime(2026, 10, 1, tzinfo=UTC)
        session.add(
            ReportRow(kind="monthly", period="2026-09", filename="a.xlsx", content=b"PK-old", created_at=made)
        )
    response = desk.test_client().get("/admin/reports/1", headers=admin_auth)
    assert response.status_code == 200 and response.data == b"PK-old"


def test_calendar_reminder_from_1_november_weekly_while_next_year_is_missing(
    desk: Flask, admin_auth: dict[str, str]
) -> None:
    with desk.app_context():
        assert calendar_reminder(local(2026, 10, 31, 9, 0)).changed == 0
        assert calendar_reminder(local(2026, 11, 2, 9, 0)).changed == 1
        assert calendar_reminder(local(2026, 11, 4, 9, 0)).changed == 0  # the same week
        assert calendar_reminder(local(2026, 11, 9, 9, 0)).changed == 1
        with get_db().read() as session:
            notices = session.scalars(select(OutboxRow)).all()
    assert {n.to_addr for n in notices} == {"ops@example.com"}
    assert "2027" in notices[0].subject and "flag_scan --full" in notices[0].body


def test_the_scheduler_runs_as_its_own_process_and_other_commands_start_none(migrated_url: str) -> None:
    env = {**os.environ, "FLASK_DATABASE_URL": migrated_url, "FLASK_SCHEDULER_ENABLED": "true",
           "FLASK_SCHEDULER_JOBS": "heartbeat", "FLASK_SCHEDULER_POLL_SECONDS": "0.2"}  # fmt: skip
    flask = [sys.executable, "-m", "flask", "--app", "server"]
    listing = subprocess.run([*flask, "branch", "list"], cwd=REPO, env=env, capture_output=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    engine = create_engine(migrated_url)
    with engine.connect() as conn:
        assert conn.scalar(select(SchedulerLeaseRow.pid)) is None  # `flask branch list` started no scheduler

    process = subprocess.Popen(
        [*flask, "scheduler", "run"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert wait(lambda: _scalar(engine, select(JobRunRow.pid)) == process.pid, timeout=30)
        with engine.connect() as conn:
            assert conn.scalar(select(SchedulerLeaseRow.pid)) == process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        engine.dispose()
    assert process.returncode == 0
    assert f"scheduler {os.uname().nodename}:{process.pid}: leading" in output and ": stopped" in output


def _scalar(engine: Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.scalar(query)


def test_flask_run_with_the_flag_runs_the_scheduler_in_process(migrated_url: str) -> None:
    env = {**os.environ, "FLASK_DATABASE_URL": migrated_url, "FLASK_SCHEDULER_ENABLED": "true",
           "FLASK_SCHEDULER_JOBS": "heartbeat", "FLASK_SCHEDULER_POLL_SECONDS": "0.2"}  # fmt: skip
    command = [sys.executable, "-m", "flask", "--app", "server", "run", "--port", str(free_port())]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    engine = create_engine(migrated_url)
    try:
        assert wait(lambda: _scalar(engine, select(JobRunRow.pid)) == process.pid, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
        engine.dispose()
