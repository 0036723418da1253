"""Fixtures for the dashboard: an app with demo data, signed-in clients, the CSRF token of a page."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app
from server.auth import ADMIN, HEAD_OFFICE, hash_password, issue_token
from server.cli import demo
from server.storage.db import get_db
from server.storage.models import BranchRow, UserRow
from tests.server.api.conftest import NOW, app, database_url, migrated_url  # noqa: F401

PASSWORD = "s3cret-pass"
TICKETS_PER_BRANCH = 40
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(application: Flask, username: str, role: str, active: bool = True) -> None:
    with application.app_context(), get_db().write() as session:
        session.add(
            UserRow(
                username=username,
                password_hash=hash_password(PASSWORD),
                role=role,
                active=active,
                created_at=NOW,
            )
        )


def load_demo(application: Flask) -> dict[str, str]:
    """Demo branches SZ01/GZ01/FS01 with tickets, users "analyst" (head office) and "root" (admin)."""
    with application.app_context():
        tokens = demo.load(TICKETS_PER_BRANCH)
    add_user(application, "analyst", HEAD_OFFICE)
    add_user(application, "root", ADMIN)
    return tokens


def branch_token(application: Flask, code: str) -> str:
    with application.app_context(), get_db().write() as session:
        branch = session.query(BranchRow).filter_by(code=code).one()
        return issue_token(session, "branch", NOW, branch=branch)[1]


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found[1]


def sign_in(client: FlaskClient, username: str = "analyst", password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/dashboard/signin").text)
    response = client.post(
        "/dashboard/signin", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text


def demo_sqlite_app(path: Path) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "CLOCK": lambda: NOW})


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the demo data, made once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("dashboard") / "demo.db"
    application = demo_sqlite_app(path)
    with application.app_context():
        get_db().upgrade()
    load_demo(application)
    with application.app_context():
        get_db().dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def demo_app(demo_database: Path, tmp_path: Path) -> Iterator[Flask]:
    """An app on a private copy of the demo database, "now" pinned to `NOW`."""
    copy = tmp_path / "dash.db"
    shutil.copyfile(demo_database, copy)
    application = demo_sqlite_app(copy)
    yield application
    with application.app_context():
        get_db().dispose()


@pytest.fixture
def analyst(demo_app: Flask) -> FlaskClient:
    """A client signed in as a head-office user."""
    client = demo_app.test_client()
    sign_in(client, "analyst")
    return client
