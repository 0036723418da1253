"""Fixtures for the service: an app on SQLite and on PostgreSQL, branches, tokens, a real gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import Flask

from server import create_app
from server.auth import BRANCH, HEAD_OFFICE, hash_password, issue_token
from server.storage.db import get_db
from server.storage.models import BranchRow, UserRow

REPO = Path(__file__).resolve().parents[3]
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


def _fresh_postgres_database() -> tuple[str, str]:
    import psycopg

    name = f"cd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name


def _drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database of each kind; without PostgreSQL this fails when REQUIRE_POSTGRES=1."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not _postgres_available():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    url, name = _fresh_postgres_database()
    yield url
    _drop_postgres_database(name)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CLOCK": lambda: NOW})
    get_db_of(app).upgrade()
    yield app
    get_db_of(app).dispose()


def get_db_of(app: Flask):  # noqa: ANN201
    with app.app_context():
        return get_db()


def add_branch(app: Flask, code: str, tz: str = "Asia/Shanghai") -> str:
    """Create a branch and return a token for it."""
    with app.app_context(), get_db().write() as session:
        branch = BranchRow(code=code, name=code, timezone=tz, change_seq=0, created_at=NOW)
        session.add(branch)
        session.flush()
        return issue_token(session, BRANCH, NOW, branch=branch)[1]


def add_head_office(app: Flask, username: str = "hq", password: str = "hq-password") -> str:
    """Create a head-office user and return a token for it."""
    with app.app_context(), get_db().write() as session:
        user = UserRow(
            username=username, password_hash=hash_password(password), role=HEAD_OFFICE, created_at=NOW
        )
        session.add(user)
        session.flush()
        return issue_token(session, HEAD_OFFICE, NOW, user=user)[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A real gunicorn serving the app on a free loopback port (``threads`` > 1: gthread workers)."""

    def __init__(
        self,
        database_url: str,
        workers: int = 4,
        extra_env: dict[str, str] | None = None,
        app_spec: str = "server:create_app()",
        threads: int = 1,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FLASK_DATABASE_URL": database_url, **(extra_env or {})}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--threads",
                str(threads),
                "--timeout",
                "60",
                "--log-level",
                "warning",
                app_spec,
            ],
            cwd=REPO,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/openapi.json", timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A migrated database URL, for a server started in another process."""
    app = create_app({"DATABASE_URL": database_url})
    get_db_of(app).upgrade()
    get_db_of(app).dispose()
    return database_url
