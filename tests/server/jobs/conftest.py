"""Fixtures for the scheduler's jobs: an app with a movable pinned clock, tickets pushed as a branch would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from complaints.enums import Flag, Level
from complaints.model import Ticket
from complaints.wire import EDITABLE, encode
from server import create_app
from server.scheduling.scan import ScanReport, scan_flags
from server.services.changes import Actor, Change
from server.services.sync import parse_push, pull, push
from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, TicketRow
from server.storage.rows import clock_for, from_db
from tests.factories import local
from tests.server.api.conftest import add_branch, database_url, migrated_url  # noqa: F401

START = local(
    2026, 9, 28, 9, 0
)  # Monday before National Day 2026 (1-7 October; Saturday 10 October is worked)


class PinnedClock:
    """The app's "now", moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> PinnedClock:
    return PinnedClock(START)


@pytest.fixture
def desk(database_url: str, clock: PinnedClock, tmp_path: Path) -> Iterator[Flask]:  # noqa: F811
    """A migrated app on each database, with branch SZ01, whose clock the test moves."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "CLOCK": clock,
        "EVIDENCE_DIR": str(tmp_path / "files"),
    }
    app = create_app(config)
    with app.app_context():
        get_db().upgrade()
    add_branch(app, "SZ01")
    yield app
    with app.app_context():
        get_db().dispose()


def fields(ticket: Ticket) -> dict[str, Any]:
    return {k: encode(k, getattr(ticket, k)) for k in EDITABLE}


def push_tickets(app: Flask, *tickets: Ticket, code: str = "SZ01", by: str = "device-1") -> None:
    """Push new tickets, or edits of stored ones on their current version, as the branch's Sync does."""
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == code))
        assert branch is not None
        versions = dict(
            session.execute(
                select(TicketRow.sync_key, TicketRow.version).where(
                    TicketRow.sync_key.in_([t.sync_key for t in tickets])
                )
            ).all()
        )
        now = app.config["CLOCK"]()
        ctx = Change(session, branch, Actor(by, "branch", "api"), now, clock_for(branch.timezone, None))
        _ = ctx.seq
        items = [
            {"sync_key": t.sync_key, "base_version": versions.get(t.sync_key), "fields": fields(t)}
            for t in tickets
        ]
        result = push(ctx, parse_push({"tickets": items}))
        assert not result["rejected"]["tickets"], result["rejected"]


def stored(app: Flask, sync_key: str) -> dict[str, Any]:
    """A stored ticket as the model holds its values, plus version and history count."""
    with app.app_context(), get_db().read() as session:
        row = session.get(TicketRow, sync_key)
        assert row is not None
        values = {
            k: from_db(k, getattr(row, k)) for k in ("status", "flags", "level", "group_id", "level_basis")
        }
        history = session.scalars(select(HistoryRow).where(HistoryRow.entity_key == sync_key)).all()
        return {**values, "version": row.version, "history": history, "escalated_to": row.escalated_to}


def flags_of(app: Flask, sync_key: str) -> frozenset[Flag]:
    return stored(app, sync_key)["flags"]


def level_of(app: Flask, sync_key: str) -> Level:
    return stored(app, sync_key)["level"]


def scan_at(app: Flask, clock: PinnedClock, when: datetime, full: bool = False) -> ScanReport:
    """Move the clock to ``when`` and run the flag scan there."""
    clock.now = when
    with app.app_context():
        return scan_flags(when, full=full)


def pulled(app: Flask, cursor: int, code: str = "SZ01") -> dict[str, Any]:
    with app.app_context(), get_db().read() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == code))
        assert branch is not None
        return pull(session, branch, cursor)
