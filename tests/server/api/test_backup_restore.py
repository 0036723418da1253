"""Backup and restore, on SQLite and PostgreSQL: taken while branches sync, restored whole, refused safely."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask

from server import create_app
from server.storage.backup import holdings
from server.storage.db import alembic_config
from server.storage.evidence import FolderStore
from tests.server.api.conftest import (
    NOW,
    _drop_postgres_database,
    _fresh_postgres_database,
    add_branch,
    get_db_of,
)
from tests.server.api.test_sync_api import create, key, new_fields, sync

WRITERS = 4
LOGGED_AT = "2026-11-25T01:30:00+00:00"


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind as ``database_url``: where a backup is restored."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url, name = _fresh_postgres_database()
    yield url
    _drop_postgres_database(name)


def app_on(url: str) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": url, "CLOCK": lambda: NOW})


@dataclass
class Ack:
    value: str
    log_key: str
    sent: float
    acked: float


@dataclass
class Writer:
    """One device editing the ``cause`` of its own ticket again and again, each push with a log entry."""

    client: Any
    token: str
    sync_key: str
    ticket_id: str
    version: int
    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        cursor, n = 0, 0
        while not stop.is_set():
            n += 1
            value, log_key = f"{self.ticket_id} edit {n}", key()
            body = {
                "cursor": cursor,
                "tickets": [
                    {
                        "sync_key": self.sync_key,
                        "base_version": self.version,
                        "fields": new_fields(self.ticket_id, cause=value),
                    }
                ],
                "log": [
                    {
                        "sync_key": log_key,
                        "ticket_key": self.sync_key,
                        "at": LOGGED_AT,
                        "kind": "progress",
                        "text": value,
                    }
                ],
            }
            sent = time.monotonic()
            response = self.client.post(
                "/api/sync",
                json=body,
                headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key()},
            )
            acked = time.monotonic()
            out = response.json
            if response.status_code != 200 or out["pushed"]["tickets"][0]["conflicts"]:
                self.errors.append(f"{response.status_code} {out}")
                return
            self.acks.append(Ack(value, log_key, sent, acked))
            cursor = out["pulled"]["cursor"]
            mine = [t for t in out["pulled"]["tickets"] if t["sync_key"] == self.sync_key]
            self.version = mine[-1]["version"]


def wait_until(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the writers stalled"
        time.sleep(0.02)


def test_a_backup_taken_during_syncs_restores_every_change_acknowledged_before_it(
    app: Flask, fresh_url: str, tmp_path: Path
) -> None:
    token = add_branch(app, "SZ01")
    client = app.test_client()
    writers = []
    for n in range(1, WRITERS + 1):
        row = create(client, token, ticket_id=f"SZ01-20261125-{n:04d}")
        writers.append(Writer(app.test_client(), token, row["sync_key"], row["ticket_id"], row["version"]))
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: all(len(w.acks) >= 3 for w in writers))
        output = tmp_path / "desk.backup"
        began = time.monotonic()
        made = app.test_cli_runner().invoke(args=["backup", "-o", str(output)])
        ended = time.monotonic()
        counts = [len(w.acks) for w in writers]
        wait_until(lambda: all(len(w.acks) >= c + 3 for w, c in zip(writers, counts, strict=True)))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert made.exit_code == 0, made.output
    assert f"to {output}" in made.output
    assert output.stat().st_mode & 0o777 == 0o600  # it holds customers' phone numbers
    assert [e for w in writers for e in w.errors] == []
    in_flight = [a for w in writers for a in w.acks if a.sent < ended and a.acked > began]
    assert in_flight, "no sync was running while the backup was taken"

    restored = app_on(fresh_url)
    done = restored.test_cli_runner().invoke(args=["restore", str(output)])
    assert done.exit_code == 0, done.output
    assert "replaced: nothing" in done.output and "it now holds: 1 branches" in done.output

    reader = restored.test_client()  # the branch's token is restored with everything else
    for writer in writers:
        before = [a for a in writer.acks if a.acked < began]
        detail = reader.get(
            f"/api/tickets/{writer.sync_key}", headers={"Authorization": f"Bearer {token}"}
        ).json
        values = [a.value for a in writer.acks]
        # the last edit acknowledged before the backup, or a later one: never an older value
        assert values.index(detail["ticket"]["cause"]) >= len(before) - 1
        logged = {entry["sync_key"] for entry in detail["log"] if entry["kind"] == "progress"}
        assert {a.log_key for a in before} <= logged
        assert logged <= {a.log_key for a in writer.acks}  # nothing that was never sent

    again = restored.test_cli_runner().invoke(args=["restore", str(output)])
    assert again.exit_code == 1 and "holds data (1 branches" in again.output
    assert "nothing was changed" in again.output
    get_db_of(restored).dispose()


def foreign_database(path: Path, database_url: str) -> Path:
    """A valid database file of the right engine that is not Complaint Desk's."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            conn.execute("INSERT INTO notes (text) VALUES ('shopping list')")
        return path
    url, name = _fresh_postgres_database()
    try:
        dsn = url.replace("+psycopg", "")
        subprocess.run(["psql", "-q", dsn, "-c", "CREATE TABLE notes (id int, text text)"], check=True)
        subprocess.run(["pg_dump", "--format=custom", "--file", str(path), dsn], check=True)
    finally:
        _drop_postgres_database(name)
    return path


@pytest.mark.parametrize("broken", ["junk", "cut", "foreign", "other_engine"])
def test_a_broken_or_foreign_file_is_refused_and_the_database_is_untouched(
    app: Flask, database_url: str, tmp_path: Path, broken: str
) -> None:
    token = add_branch(app, "SZ01")
    row = create(app.test_client(), token)
    good = tmp_path / "good.backup"
    assert app.test_cli_runner().invoke(args=["backup", "-o", str(good)]).exit_code == 0
    path = tmp_path / f"{broken}.backup"
    if broken == "junk":
        path.write_text("序号,日期,客户姓名\n1,2026.11.3,张三\n", encoding="utf-8")
        expected = "is not a Complaint Desk backup (neither a SQLite database nor a pg_dump"
    elif broken == "cut":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        expected = "is damaged"
    elif broken == "foreign":
        foreign_database(path, database_url)
        expected = "is not a Complaint Desk backup: it lacks"
    else:
        if database_url.startswith("sqlite"):
            pytest.skip("the other engine's backup is checked from the PostgreSQL side")
        other = app_on(f"sqlite:///{tmp_path / 'other.db'}")
        get_db_of(other).upgrade()
        assert other.test_cli_runner().invoke(args=["backup", "-o", str(path)]).exit_code == 0
        get_db_of(other).dispose()
        expected = "is a sqlite backup and"
    before = holdings(get_db_of(app))

    result = app.test_cli_runner().invoke(args=["restore", "--force", str(path)])

    assert result.exit_code == 1
    assert expected in result.output and "|" in result.output  # Chinese, then English
    assert holdings(get_db_of(app)) == before == {"branches": 1, "users": 0, "tickets": 1}
    pulled = sync(app.test_client(), token, {"cursor": 0})["pulled"]["tickets"]
    assert [(t["sync_key"], t["version"]) for t in pulled] == [(row["sync_key"], 1)]


def test_a_forced_restore_replaces_the_data_and_says_what_it_replaced(app: Flask, tmp_path: Path) -> None:
    token = add_branch(app, "SZ01")
    client = app.test_client()
    kept = create(client, token, ticket_id="SZ01-20261125-0001")
    output = tmp_path / "one-ticket.backup"
    assert app.test_cli_runner().invoke(args=["backup", "-o", str(output)]).exit_code == 0
    later = create(client, token, ticket_id="SZ01-20261125-0002")

    result = app.test_cli_runner().invoke(args=["restore", "--force", str(output)])

    assert result.exit_code == 0, result.output
    assert "replaced: 1 branches, 0 users, 2 tickets" in result.output
    assert "it now holds: 1 branches, 0 users, 1 tickets" in result.output
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/tickets/{kept['sync_key']}", headers=auth).status_code == 200
    assert client.get(f"/api/tickets/{later['sync_key']}", headers=auth).status_code == 404


def test_backup_refuses_to_overwrite_a_file(app: Flask, tmp_path: Path) -> None:
    output = tmp_path / "precious.txt"
    output.write_text("keep me")
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(output)])
    assert result.exit_code == 1 and "exists; choose another name" in result.output
    assert output.read_text() == "keep me"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_backup_of_an_older_schema_is_restored_and_upgraded(database_url: str, tmp_path: Path) -> None:
    old = app_on(database_url)
    get_db_of(old).upgrade("0005")
    output = tmp_path / "old.backup"
    assert old.test_cli_runner().invoke(args=["backup", "-o", str(output)]).exit_code == 0
    fresh = app_on(f"sqlite:///{tmp_path / 'new.db'}")
    result = fresh.test_cli_runner().invoke(args=["restore", str(output)])
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert f"schema upgraded from 0005 to {head}" in result.output
    get_db_of(old).dispose()
    get_db_of(fresh).dispose()


def test_the_daily_backup_keeps_the_newest_of_its_own_files_and_nothing_else_is_touched(
    app: Flask, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    ours = [folder / f"complaint-desk-202611{day:02d}T183000Z.sqlite3" for day in range(1, 17)]
    others = [
        folder / "notes.txt",
        folder / "complaint-desk-before-upgrade.sqlite3",
        folder / "old-complaint-desk-20261101T183000Z.sqlite3",
        folder / "complaint-desk-20261101T183000Z.sqlite3.bak",
    ]
    for path in ours + others:
        path.write_text("an older file")
    app.config.update(BACKUP_DIR=str(folder), BACKUP_KEEP=3, EVIDENCE_DIR=str(tmp_path / "no-evidence"))
    runner = app.test_cli_runner()

    result = runner.invoke(args=["scheduler", "run-job", "daily_backup"])

    assert result.exit_code == 0, result.output
    suffix = "sqlite3" if get_db_of(app).is_sqlite else "pgdump"
    made = folder / f"complaint-desk-20261125T020000Z.{suffix}"  # the app's pinned "now"
    assert f"daily_backup: {made.name}" in result.output and "14 older deleted" in result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in [made, *ours[-2:], *others])
    assert made.read_bytes()[:5] in (b"SQLit", b"PGDMP")
    assert made.stat().st_mode & 0o777 == 0o600
    status = runner.invoke(args=["scheduler", "status"]).output
    line = next(line for line in status.splitlines() if line.startswith("daily_backup"))
    assert line.split()[3:6] == ["1", "1", "0"] and made.name in line


def test_evidence_files_are_backed_up_beside_the_database_and_restored_checked(
    app: Flask, fresh_url: str, tmp_path: Path
) -> None:
    store = tmp_path / "evidence"
    app.config.update(EVIDENCE_DIR=str(store))
    recording, screenshot = b"call recording " * 1000, b"\x89PNG screenshot"
    first, second = FolderStore(store).put(recording), FolderStore(store).put(screenshot)
    output = tmp_path / "backups" / "with-evidence.backup"

    made = app.test_cli_runner().invoke(args=["backup", "-o", str(output)])
    again = app.test_cli_runner().invoke(args=["backup", "-o", str(output.with_name("second.backup"))])

    assert (
        made.exit_code == 0
        and "evidence files copied" in made.output
        and made.output.rstrip().endswith(": 2")
    )
    assert again.output.rstrip().endswith(": 0")  # the backups of one folder share what they copied
    kept = output.parent / "evidence"
    assert (kept / first[:2] / first).read_bytes() == recording
    assert (kept / first[:2] / first).stat().st_mode & 0o777 == 0o600
    (kept / second[:2] / second).write_bytes(b"damaged on the backup disk")

    restored = app_on(fresh_url)
    restored.config.update(EVIDENCE_DIR=str(tmp_path / "new-store"))
    result = restored.test_cli_runner().invoke(args=["restore", str(output)])

    assert result.exit_code == 0, result.output
    assert "evidence files restored: 1" in result.output
    assert f"evidence file {second} is damaged in the backup: not restored" in result.output
    with FolderStore(tmp_path / "new-store").open(first) as back:
        assert back.read() == recording
    assert not FolderStore(tmp_path / "new-store").has(second)
    get_db_of(restored).dispose()
