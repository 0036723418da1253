"""The doors a ticket can come through, each driven as its users drive it, and the state they leave.

Every door takes tickets as a branch has them (new ones with version 0, edited
ones with the version they were based on) and answers with the tickets as it
shows them back to its user, and with what it refused. The parity tests run
one table of scenarios through every door and expect the same answer and the
same stored state.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import pytest
from flask import Flask
from sqlalchemy import select

from addin import macros
from addin.run import Env
from complaints.enums import Category, Channel, Grade
from complaints.model import Ticket
from complaints.rows import ReadPolicy, read_book
from complaints.schema import TICKETS
from complaints.wire import push_ticket, ticket_from_json
from server.remote.pages import InProcessTransport
from server.storage.db import get_db
from server.storage.models import BranchRow, LogRow, TicketRow
from server.storage.rows import row_to_ticket
from server.xlsx import read_workbook, write_workbook
from server.xlsx.grid import open_grid
from server.xlsx.template import build_workbook
from server.xlsx.zipguard import check_zip
from tests.addin.harness import run_macro
from tests.server.api.conftest import NOW, add_branch, add_head_office, app, database_url  # noqa: F401
from tests.server.api.test_branch_portal import csrf, download, upload
from tests.server.workbook_factories import save_template

RECEIVED = NOW - timedelta(hours=1)


def complete(n: int, **fields: Any) -> Ticket:
    """A complete new ticket of SZ01, received an hour ago, from its own customer in its own estate."""
    values: dict[str, Any] = {
        "ticket_id": f"SZ01-20261125-{n:04d}",
        "branch": "SZ01",
        "received_at": RECEIVED,
        "channel": Channel.HOTLINE,
        "customer_name": "张先生",
        "contact": f"1380013{n:04d}",
        "category": Category.NETWORK_FAULT,
        "place": f"阳光花园{n}期",
        "problem_time": "每晚八点",
        "service": "家庭宽带",
        "description": "每晚八点到十一点宽带断线，重启光猫后十分钟又断",
        "expectation": "一周内恢复稳定上网",
        "grade": Grade.MODERATE,
    }
    values.update(fields)
    return Ticket(**values)


@dataclass
class Answer:
    """What a door showed its user: the tickets as it sent them back, and what it refused (by field)."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    text: str = ""
    """The door's own words about what it refused (a page, an error list)."""


class Door(Protocol):
    name: str

    def send(self, tickets: list[Ticket]) -> Answer: ...


class ApiDoor:
    """``POST /api/sync`` with the branch token, as the add-in's Sync or any client sends it."""

    name = "api"

    def __init__(self, desk: Flask, token: str) -> None:
        self.app = desk
        self.token = token

    def send(self, tickets: list[Ticket]) -> Answer:
        body = {"tickets": [push_ticket(t) for t in tickets], "cursor": 0}
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": uuid.uuid4().hex}
        response = self.app.test_client().post("/api/sync", json=body, headers=headers)
        assert response.status_code == 200, response.json
        data = response.json
        answer = Answer(text=str(data["pushed"]["rejected"]))
        answer.tickets = {row["sync_key"]: ticket_from_json(row, "SZ01") for row in data["pulled"]["tickets"]}
        answer.refused = {e["field"] for r in data["pushed"]["rejected"]["tickets"] for e in r["errors"]}
        return answer


class UploadDoor:
    """``/branch``: sign in with the token, upload a workbook holding the tickets, download it merged."""

    name = "upload"

    def __init__(self, desk: Flask, token: str, tmp: Any) -> None:
        self.app = desk
        desk.config["BRANCH_DOWNLOADS"] = str(tmp / "downloads")
        self.client = desk.test_client()
        page = self.client.get("/branch/").get_data(as_text=True)
        signed = self.client.post(
            "/branch/signin", data={"branch": "SZ01", "token": token, "csrf_token": csrf(page)}
        )
        assert signed.status_code == 302

    def send(self, tickets: list[Ticket]) -> Answer:
        out = io.BytesIO()
        build_workbook("SZ01", "zh", tickets=tickets).save(out)
        response = upload(self.client, out.getvalue())
        page = response.get_data(as_text=True)
        answer = Answer(text=page)
        answer.refused = {c.key for c in TICKETS.columns if f"（{c.zh}）" in page or f"{c.zh} — " in page}
        if response.status_code == 200:
            merged = read_workbook(download(self.client, page), now=NOW)
            answer.tickets = {t.sync_key: t for t in merged.tickets}
        else:
            assert response.status_code == 422, page
        return answer


class AddinSyncDoor:
    """The ribbon's Sync on the branch's workbook, through the payload harness (xlwings' remote engine),
    talking to the server in-process with the branch token, as ``POST /xlwings/sync`` does."""

    name = "addin-sync"

    def __init__(self, desk: Flask, token: str, tmp: Any) -> None:
        self.app = desk
        self.path = save_template(tmp / "SZ01.xlsx")
        self.env = Env(
            now=NOW, user="小王@SZ01-PC1", transport=InProcessTransport(desk, f"Bearer {token}", "")
        )

    def send(self, tickets: list[Ticket]) -> Answer:
        before = {t.sync_key: t for t in read_workbook(self.path, now=NOW).tickets}
        write_workbook(self.path, self.path, tickets=[*before.values(), *tickets])
        with self.app.app_context():
            outcome = run_macro(self.path, macros.sync, self.env)
        answer = Answer(text=outcome.text)
        answer.refused = {c.key for c in TICKETS.columns if f"{c.zh}: " in outcome.text}
        # the rows the server took have a version; the ones it refused stay as typed, for the user to fix
        answer.tickets = {t.sync_key: t for t in as_typed(self.path) if t.version}
        return answer


def as_typed(path: Any) -> list[Ticket]:
    """The tickets of a workbook as its rows stand, work in progress included (no import policy)."""
    with open_grid(str(path), check_zip(path).formula_parts, "calamine") as grid:
        return read_book(grid.titles, grid.rows, epoch=grid.epoch, policy=ReadPolicy()).tickets


DOORS: dict[str, Callable[..., Door]] = {
    "api": lambda desk, token, tmp: ApiDoor(desk, token),
    "upload": lambda desk, token, tmp: UploadDoor(desk, token, tmp),
    "addin-sync": lambda desk, token, tmp: AddinSyncDoor(desk, token, tmp),
}


@pytest.fixture(params=sorted(DOORS))
def door(request: pytest.FixtureRequest, app: Flask, tmp_path: Any) -> Door:  # noqa: F811
    token = add_branch(app, "SZ01")
    return DOORS[request.param](app, token, tmp_path)


@pytest.fixture
def branch_token(app: Flask) -> str:  # noqa: F811
    return add_branch(app, "SZ01")


@pytest.fixture
def head_office_token(app: Flask) -> str:  # noqa: F811
    return add_head_office(app)


def stored(desk: Flask, sync_key: str) -> Ticket | None:
    """The ticket as the server keeps it, or None."""
    with desk.app_context(), get_db().read() as session:
        row = session.get(TicketRow, sync_key)
        if row is None:
            return None
        code = session.scalar(select(BranchRow.code).where(BranchRow.id == row.branch_id))
        return row_to_ticket(row, code or "")


def log_of(desk: Flask, sync_key: str) -> list[tuple[str, str, str, str]]:
    """(kind, text, author, role) of the ticket's log entries, oldest first."""
    with desk.app_context(), get_db().read() as session:
        rows = session.scalars(select(LogRow).where(LogRow.ticket_key == sync_key).order_by(LogRow.at))
        return [(r.kind, r.text, r.author, r.role) for r in rows]


def state(ticket: Ticket) -> dict[str, Any]:
    """What a user notices about a ticket: level and why, status, reopening, flags."""
    return {
        "level": ticket.level.value,
        "bases": sorted(b for b in ticket.level_basis.split(",") if b),
        "grouped": bool(ticket.group_id),
        "status": ticket.status.value,
        "objections": ticket.objection_count,
        "reopened": ticket.reopened_at is not None,
        "revisited": ticket.revisited_at is not None,
        "flags": sorted(f.value for f in ticket.flags),
    }
