"""Battery 12: faults — the database restarting mid-sync, the process killed during a consolidated export.

(a) A PostgreSQL restart as the app sees it: every connection of the test database is terminated
    (``pg_terminate_backend``; the shared server itself is not restarted) while gunicorn serves
    syncs. A request caught mid-transaction gets a 503 JSON envelope with ``Retry-After``; the
    same gunicorn workers serve the next syncs (the pool pre-pings and replaces dead connections);
    the resent request is applied once; every acknowledged row is stored. On SQLite, a file
    locked by another writer makes a sync wait, not fail.
(b) The SMTP server down: tests/server/jobs/test_outbox_smtp.py (aiosmtpd stopped and started;
    notices retried with back-off and delivered once; the escalation itself is not held up).
(c) ``flask consolidate`` SIGKILLed mid-way leaves no file under the target name (only ``.part``,
    overwritten by the next run), and an earlier complete file stays as it was; a rerun succeeds.
    A gunicorn worker SIGKILLed while it streams GET /api/consolidated: the client's download
    fails (no chunked terminator) and what arrived does not open as a zip; the server keeps serving.
"""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from flask import Flask

from bench.load import Branch, LoadOptions, LoadResult, _verify, gunicorn, prepare
from server import create_app
from server.services import demo
from server.storage.db import get_db
from tests.server.api.conftest import (
    NOW,
    PG_ADMIN_URL,
    REPO,
    _drop_postgres_database,
    _fresh_postgres_database,
    _postgres_available,
    add_branch,
    add_head_office,
    get_db_of,
)

pytestmark = pytest.mark.battery


@pytest.fixture
def postgres_url() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database: (SQLAlchemy URL, database name)."""
    if not _postgres_available():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    url, name = _fresh_postgres_database()
    yield url, name
    _drop_postgres_database(name)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _new_tickets(code: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "sync_key": uuid.uuid4().hex,
            "fields": {
                "ticket_id": f"{code}-20261125-{n + 1:04d}",
                "received_at": "2026-11-25T01:10:00+00:00",
                "channel": "hotline",
                "customer_name": f"客户{n}",
                "contact": "13800138000",
                "category": "network_fault",
                "place": "阳光花园",
                "description": "每晚八点宽带断线",
                "grade": "moderate",
            },
        }
        for n in range(count)
    ]


# --- (a) the database restarted mid-sync ---------------------------------------------------------


def test_connections_cut_mid_sync_give_a_retry_hint_and_lose_nothing(postgres_url: tuple[str, str]) -> None:
    url, name = postgres_url
    tokens, _ = prepare(url, 4)
    (held_code, held_token), others = tokens[0], tokens[1:]
    options = LoadOptions(branches=3, seconds=8, tickets=5, lost_answers=0.05)
    specs = [
        {"code": code, "token": token, "seed": n, "received_at": "2026-11-25T01:10:00+00:00",
         "initial_keys": [uuid.uuid4().hex for _ in range(options.tickets)]}
        for n, (code, token) in enumerate(others)
    ]  # fmt: skip
    with gunicorn(url, workers=2) as (base, master):
        workers = _children(master)
        branches = [Branch(spec, base, options) for spec in specs]
        for branch in branches:
            branch.first_sync()
        deadline = time.monotonic() + options.seconds
        syncing = [threading.Thread(target=b.run_until, args=(deadline,)) for b in branches]
        for thread in syncing:
            thread.start()

        # One more branch's push is held mid-transaction: the test holds its branch row locked, so the
        # push has claimed its Idempotency-Key and written nothing visible when the connections go.
        body = {
            "cursor": 0,
            "branch": held_code,
            "tickets": _new_tickets(held_code, 3),
            "tasks": [],
            "log": [],
        }
        headers = {"Authorization": f"Bearer {held_token}", "Idempotency-Key": uuid.uuid4().hex}
        answers: list[requests.Response] = []
        plain = url.replace("+psycopg", "")
        with psycopg.connect(plain, autocommit=True) as admin, psycopg.connect(plain) as locker:
            locker.execute("SELECT id FROM branches WHERE code = %s FOR UPDATE", (held_code,))
            pushing = threading.Thread(
                target=lambda: answers.append(
                    requests.post(f"{base}/api/sync", json=body, headers=headers, timeout=60)
                )
            )
            pushing.start()
            for _ in range(600):
                waiting = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (name,),
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the held push never reached its transaction")
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid NOT IN (pg_backend_pid(), %s)",
                (name, locker.info.backend_pid),
            ).fetchone()
            locker.rollback()
        pushing.join(timeout=60)
        for thread in syncing:
            thread.join(timeout=120)

        assert cut and cut[0] >= 1
        (answer,) = answers
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        envelope = answer.json()
        assert envelope["error"] == "database_unavailable" and "数据库" in envelope["message"]
        assert "Traceback" not in answer.text and "SELECT" not in answer.text

        # the same request resent with its key is applied once; resent again, the same answer
        again = requests.post(f"{base}/api/sync", json=body, headers=headers, timeout=60)
        assert again.status_code == 200
        assert [t["created"] for t in again.json()["pushed"]["tickets"]] == [True] * 3
        third = requests.post(f"{base}/api/sync", json=body, headers=headers, timeout=60)
        assert third.json() == again.json()

        # the same workers (not restarted) serve the next press of every branch
        for branch in branches:
            before = (branch.statuses[200], len(branch.errors))
            branch.press()
            assert branch.statuses[200] > before[0] and len(branch.errors) == before[1]
        assert _children(master) == workers

    statuses = {s for b in branches for s in b.statuses}
    assert statuses <= {200, 503}
    assert all("database_unavailable" in e for b in branches for e in b.errors), [b.errors for b in branches]
    result = LoadResult(options)
    _verify(url, [b.report() for b in branches], result)
    assert result.errors == [] and result.lost_total == 0, (result.errors, dict(result.lost))
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM tickets t JOIN branches b ON b.id = t.branch_id WHERE b.code = %s",
            (held_code,),
        ).fetchone()
    assert stored == (3,)


def test_sqlite_file_locked_by_another_writer_makes_a_sync_wait_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "desk.db"
    app: Flask = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "CLOCK": lambda: NOW})
    get_db_of(app).upgrade()
    token = add_branch(app, "SZ01")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    timer = threading.Timer(1.5, other.rollback)
    timer.start()
    began = time.monotonic()
    response = app.test_client().post(
        "/api/sync",
        json={"tickets": _new_tickets("SZ01", 2)},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
    )
    waited = time.monotonic() - began
    timer.join()
    other.close()
    assert response.status_code == 200, response.json
    assert waited >= 1.0
    listed = app.test_client().get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json
    assert listed["total"] == 2


# --- (c) killed during a consolidated export ------------------------------------------------------

PERIOD = ("2026-09-01", "2026-12-01")


@pytest.fixture(scope="module")
def desk_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A SQLite desk with three branches × 1,000 demo tickets: (URL, head-office token)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('faults') / 'desk.db'}"
    app = create_app({"DATABASE_URL": url, "CLOCK": lambda: NOW})
    with app.app_context():
        get_db().upgrade()
        demo.load(1000)
    token = add_head_office(app, "analyst")
    get_db_of(app).dispose()
    yield url, token


def _consolidate(url: str, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "server", "consolidate", "--start", PERIOD[0],
         "--end", PERIOD[1], "--lang", "en", "-o", str(output)],
        cwd=REPO,
        env={**os.environ, "FLASK_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches any worker it starts
    )  # fmt: skip


def _kill_once_written(process: subprocess.Popen[bytes], partial: Path) -> None:
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size > 0):
        assert process.poll() is None, "the export finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def _complete_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return book.testzip() is None and "xl/workbook.xml" in book.namelist()
    except zipfile.BadZipFile:
        return False


def test_export_killed_mid_way_leaves_no_half_written_workbook(
    desk_file: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = desk_file
    output = tmp_path / "hq.xlsx"
    partial = tmp_path / "hq.xlsx.part"

    _kill_once_written(_consolidate(url, output), partial)
    assert not output.exists()
    assert not _complete_workbook(partial.read_bytes())  # killed mid-way, under another name

    rerun = _consolidate(url, output)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    complete = output.read_bytes()
    assert _complete_workbook(complete) and not partial.exists()

    _kill_once_written(_consolidate(url, output), partial)
    assert output.read_bytes() == complete  # the earlier complete file is untouched


def _worker_serving(client_port: int, server_port: int, workers: set[int]) -> int:
    """The worker holding the server side of the connection from ``client_port`` (from /proc)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    assert inode is not None, "the connection is not in /proc/net/tcp"
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no worker holds the connection")


def test_worker_killed_while_streaming_the_workbook_fails_the_download_and_the_server_serves_on(
    desk_file: tuple[str, str],
) -> None:
    url, token = desk_file
    headers = {"Authorization": f"Bearer {token}"}
    query = f"/api/consolidated?start={PERIOD[0]}&end={PERIOD[1]}&lang=en"
    with gunicorn(url, workers=2, extra_env={"FLASK_CONSOLIDATE_WORKERS": "0"}) as (base, master):
        workers = _children(master)
        response = requests.get(base + query, headers=headers, stream=True, timeout=60)
        assert response.status_code == 200
        pieces = response.iter_content(64 * 1024)
        received = bytearray(next(pieces))
        sock = response.raw._fp.fp.raw._sock  # type: ignore[union-attr]  # (Connection: close)
        victim = _worker_serving(sock.getsockname()[1], int(base.rsplit(":", 1)[1]), workers)
        os.kill(victim, signal.SIGKILL)
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
            for piece in pieces:
                received += piece
        assert not _complete_workbook(bytes(received))

        full = requests.get(base + query, headers=headers, timeout=120)
        assert full.status_code == 200 and _complete_workbook(full.content)
        assert len(received) < len(full.content)
        deadline = time.monotonic() + 30
        while len(_children(master)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert victim not in _children(master) and len(_children(master)) == 2
