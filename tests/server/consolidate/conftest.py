"""Fixtures for the consolidated workbook: an app with demo-like data on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import update

from server.auth import ADMIN, hash_password, issue_token
from server.services import demo
from server.storage.db import get_db
from server.storage.models import UserRow, tickets_table
from tests.server.api.conftest import NOW, app, database_url, migrated_url  # noqa: F401

TRICKY = {
    "SZ01": '=HYPERLINK("http://evil.example","点我")',
    "GZ01": "+86 宽带\r\n每晚断线 & <断网> \x07响铃 _x0041_",
}
"""Descriptions that a spreadsheet would take for a formula, or that XML cannot hold as they are."""


@pytest.fixture
def loaded(app: Flask) -> Iterator[Flask]:  # noqa: F811
    """Three demo branches × 40 tickets received around November 2026, plus tricky texts."""
    with app.app_context():
        demo.load(40)
        with get_db().write() as session:
            for code, text in TRICKY.items():
                first = session.execute(
                    tickets_table.select().where(tickets_table.c.ticket_id.like(f"{code}-202611%")).limit(1)
                ).first()
                assert first is not None
                session.execute(
                    update(tickets_table)
                    .where(tickets_table.c.sync_key == first.sync_key)
                    .values(description=text)
                )
    yield app


def admin_token(app: Flask) -> str:  # noqa: F811
    with app.app_context(), get_db().write() as session:
        user = UserRow(username="root", password_hash=hash_password("pw"), role=ADMIN, created_at=NOW)
        session.add(user)
        session.flush()
        return issue_token(session, ADMIN, NOW, user=user)[1]
