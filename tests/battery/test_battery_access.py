"""Battery item 8: every endpoint × own / other branch / unknown id; bad tokens; no raw token stored.

tests/server/api/test_isolation.py checks the single paths (detail, escalate,
resolve, list, pull, push onto another branch's ticket). This adds what it does
not: the answer for another branch's id equals the answer for an unknown id on
every endpoint (not only the status), the other branch's stored rows are
unchanged after all of it, idempotency keys do not cross branches, 401 on
every endpoint for every kind of bad credential, and a scan of every column of
every table for the plain tokens.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import LargeBinary, String, Text, inspect, select

from server.auth import HEAD_OFFICE, hash_password, issue_token
from server.storage.db import get_db
from server.storage.models import Base, BranchRow, HistoryRow, TicketRow, TokenRow, UserRow
from tests.server.api.conftest import (  # noqa: F401 (fixtures)
    NOW,
    add_branch,
    add_head_office,
    app,
    database_url,
)
from tests.server.api.test_branch_portal import csrf, upload, workbook_bytes
from tests.server.api.test_branch_portal import ticket as portal_ticket
from tests.server.api.test_sync_api import new_fields, sync

pytestmark = pytest.mark.battery

UNKNOWN_TICKET = "f" * 32
UNKNOWN_CONFLICT = 999_999


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}


def key() -> str:
    return uuid.uuid4().hex


def _branch_with_work(client: Any, token: str, code: str) -> dict[str, Any]:
    """A ticket with a task, a log entry and an open conflict; their ids."""
    ticket = key()
    sync(client, token, {"tickets": [{"sync_key": ticket, "fields": new_fields(f"{code}-20261125-0001")}]})
    task = key()
    sync(client, token, {
        "tasks": [{"sync_key": task, "ticket_key": ticket, "fields": {"task_no": 1, "title": "换光猫"}}],
        "log": [{"sync_key": key(), "ticket_key": ticket, "at": "2026-11-25T01:30:00+00:00", "kind": "note",
                 "text": "已联系客户"}],
    })  # fmt: skip
    for cause in ("a", "b"):
        out = sync(
            client, token, {"tickets": [{"sync_key": ticket, "base_version": 1, "fields": {"cause": cause}}]}
        )
    conflict = out["pushed"]["tickets"][0]["conflicts"][0]["id"]
    return {"token": token, "ticket": ticket, "task": task, "conflict": conflict}


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:  # noqa: F811
    client = app.test_client()
    own = _branch_with_work(client, add_branch(app, "SZ01"), "SZ01")
    other = _branch_with_work(client, add_branch(app, "GZ01"), "GZ01")
    with app.app_context(), get_db().read() as session:
        other["branch_id"] = session.scalar(select(BranchRow.id).where(BranchRow.code == "GZ01"))
    return {"client": client, "own": own, "other": other, "hq": add_head_office(app)}


def branch_snapshot(flask_app: Flask, branch_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every stored row that belongs to the branch (its tickets' history included)."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    with flask_app.app_context(), get_db().read() as session:
        for table in Base.metadata.sorted_tables:
            if "branch_id" in table.c:
                query = select(table).where(table.c.branch_id == branch_id)
            elif table.name == "branches":
                query = select(table).where(table.c.id == branch_id)
            else:
                continue
            snapshot[table.name] = [
                dict(r._mapping) for r in session.execute(query.order_by(*table.primary_key))
            ]
        keys = [r["sync_key"] for name in ("tickets", "tasks") for r in snapshot[name]]
        history = session.execute(select(HistoryRow.__table__).where(HistoryRow.entity_key.in_(keys)))
        snapshot["history"] = sorted((dict(r._mapping) for r in history), key=lambda r: r["id"])
    return snapshot


def _without_id(body: dict[str, Any], the_id: Any) -> dict[str, Any]:
    """The error envelope with the id it names replaced by a placeholder."""
    return {**body, "where": {k: "<id>" if v == the_id else v for k, v in body["where"].items()}}


ENDPOINTS = {
    "ticket detail": lambda c, t, ids: c.get(f"/api/tickets/{ids['ticket']}", headers=auth(t)),
    "escalate": lambda c, t, ids: c.post(
        f"/api/tickets/{ids['ticket']}/escalate", json={"reason": "媒体曝光"}, headers=auth(t)
    ),
    "resolve conflict": lambda c, t, ids: c.post(
        f"/api/conflicts/{ids['conflict']}/resolve", json={"keep": "branch"}, headers=auth(t)
    ),
    "push a task onto the ticket": lambda c, t, ids: c.post(
        "/api/sync",
        json={
            "tasks": [
                {"sync_key": "1" * 32, "ticket_key": ids["ticket"], "fields": {"task_no": 2, "title": "x"}}
            ]
        },
        headers=auth(t),
    ),
    "push a log entry onto the ticket": lambda c, t, ids: c.post(
        "/api/sync",
        json={
            "log": [
                {
                    "sync_key": "2" * 32,
                    "ticket_key": ids["ticket"],
                    "at": "2026-11-25T01:40:00+00:00",
                    "kind": "note",
                    "text": "x",
                }
            ]
        },
        headers=auth(t),
    ),  # fmt: skip
}
"""Every branch endpoint that takes an id; for the pushes the id is the ticket a new row would hang on."""
UNKNOWN = {"ticket": UNKNOWN_TICKET, "conflict": UNKNOWN_CONFLICT}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_another_branchs_id_answers_exactly_like_an_unknown_one_and_changes_nothing(app, world, endpoint):  # noqa: F811
    client, own, other = world["client"], world["own"], world["other"]
    call = ENDPOINTS[endpoint]
    before = branch_snapshot(app, other["branch_id"])

    unknown = call(client, own["token"], UNKNOWN)
    foreign = call(client, own["token"], other)
    assert unknown.status_code in (200, 404)
    if unknown.status_code == 200:  # a push: the row is rejected, the rest of the round trip answers
        assert unknown.json["pushed"]["rejected"] == foreign.json["pushed"]["rejected"]
        assert [
            e["message"] for r in unknown.json["pushed"]["rejected"].values() for x in r for e in x["errors"]
        ] == ["no such ticket"]
    else:
        kind = "conflict" if "conflict" in endpoint else "ticket"
        assert foreign.status_code == 404
        assert _without_id(foreign.json, other[kind]) == _without_id(unknown.json, UNKNOWN[kind])
    assert branch_snapshot(app, other["branch_id"]) == before  # 0 cross-branch changes

    mine = call(client, own["token"], own)  # and the same call on the own id works
    assert mine.status_code == 200
    if mine.json.get("pushed"):
        assert not any(mine.json["pushed"]["rejected"].values())


def test_sync_keys_of_another_branch_are_refused_and_its_rows_never_leak(app, world):  # noqa: F811
    """A pushed row reusing another branch's sync key is refused (keys are random: this is no oracle)."""
    client, own, other = world["client"], world["own"], world["other"]
    before = branch_snapshot(app, other["branch_id"])
    out = sync(client, own["token"], {
        "cursor": 0,
        "tickets": [{"sync_key": other["ticket"], "base_version": 2, "fields": {"cause": "hijack"}}],
        "tasks": [{"sync_key": other["task"], "ticket_key": own["ticket"], "fields": {"title": "hijack"}}],
    })  # fmt: skip
    assert {part: len(rows) for part, rows in out["pushed"]["rejected"].items()} == {
        "tickets": 1,
        "tasks": 1,
        "log": 0,
    }
    pulled = out["pulled"]
    leaked = {other["ticket"], other["task"]} & {
        r["sync_key"] for part in ("tickets", "tasks") for r in pulled[part]
    }
    assert not leaked and all(c["sync_key"] != other["ticket"] for c in pulled["conflicts"])
    assert "GZ01" not in json.dumps(pulled, ensure_ascii=False)
    for path in ("/api/tickets", "/api/tickets?branch=GZ01", "/api/conflicts"):
        assert "GZ01" not in client.get(path, headers=auth(own["token"])).get_data(as_text=True)
    assert branch_snapshot(app, other["branch_id"]) == before


def test_an_idempotency_key_never_replays_another_branchs_answer(app, world):  # noqa: F811
    client, own, other = world["client"], world["own"], world["other"]
    shared = {"Idempotency-Key": "same-key-on-two-branches"}
    theirs = client.post("/api/sync", json={}, headers={**auth(other["token"]), **shared})
    mine = client.post("/api/sync", json={}, headers={**auth(own["token"]), **shared})
    assert theirs.status_code == mine.status_code == 200
    assert {t["branch"] for t in mine.json["pulled"]["tickets"]} == {"SZ01"}
    assert {t["branch"] for t in theirs.json["pulled"]["tickets"]} == {"GZ01"}


def test_a_branch_token_cannot_reach_head_office_endpoints(world):
    client, own = world["client"], world["own"]
    response = client.get("/api/consolidated?start=2026-11-01&end=2026-12-01", headers=auth(own["token"]))
    assert response.status_code == 403 and response.json["error"] == "forbidden"


# --- bad credentials -------------------------------------------------------------------------------------


TOKEN_ENDPOINTS = [
    ("POST", "/api/sync", {}),
    ("GET", "/api/tickets", None),
    ("GET", f"/api/tickets/{UNKNOWN_TICKET}", None),
    ("POST", f"/api/tickets/{UNKNOWN_TICKET}/escalate", {"reason": "x"}),
    ("GET", "/api/conflicts", None),
    ("POST", f"/api/conflicts/{UNKNOWN_CONFLICT}/resolve", {"keep": "server"}),
    ("GET", "/api/consolidated?start=2026-11-01&end=2026-12-01", None),
    ("POST", "/xlwings/sync", {}),
]
"""Every token-authenticated endpoint: the API and the xlwings remote buttons."""


@pytest.fixture
def bad_credentials(app: Flask) -> dict[str, str | None]:  # noqa: F811
    """Each kind of bad Authorization header: missing, malformed, unknown, revoked, of a disabled user."""
    revoked_branch = add_branch(app, "SZ01")
    revoked_hq = add_head_office(app, "former", "pw-former")
    with app.app_context(), get_db().write() as session:
        for row in session.scalars(select(TokenRow)):
            row.revoked_at = NOW
        user = UserRow(
            username="disabled", password_hash=hash_password("pw"), role=HEAD_OFFICE, created_at=NOW
        )
        session.add(user)
        session.flush()
        disabled = issue_token(session, HEAD_OFFICE, NOW, user=user)[1]
        user.active = False
    return {
        "missing": None,
        "not bearer": "Basic " + base64.b64encode(b"hq:hq-password").decode(),
        "empty bearer": "Bearer ",
        "unknown token": "Bearer cdt_" + "x" * 43,
        "revoked branch token": f"Bearer {revoked_branch}",
        "revoked head-office token": f"Bearer {revoked_hq}",
        "disabled user's token": f"Bearer {disabled}",
    }


@pytest.mark.parametrize(
    "method, path, body", TOKEN_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in TOKEN_ENDPOINTS]
)
def test_every_endpoint_answers_401_to_every_bad_credential(app, bad_credentials, method, path, body):  # noqa: F811
    client = app.test_client()
    for kind, header in bad_credentials.items():
        headers = {"Idempotency-Key": "k"} | ({"Authorization": header} if header else {})
        response = client.open(path, method=method, json=body, headers=headers)
        assert response.status_code == 401, kind
        assert response.json["error"] == "unauthorized", kind
    with app.app_context(), get_db().read() as session:
        assert session.scalar(select(TokenRow).where(TokenRow.revoked_at.is_(None))).user_id is not None


def test_head_office_sign_in_refuses_a_disabled_user(app):  # noqa: F811
    add_head_office(app, "analyst", "s3cret-pass")
    with app.app_context(), get_db().write() as session:
        session.scalar(select(UserRow).where(UserRow.username == "analyst")).active = False
    assert app.test_client().post("/api/tokens", auth=("analyst", "s3cret-pass")).status_code == 401


# --- no raw token at rest ----------------------------------------------------------------------------------


def test_no_plain_token_is_stored_anywhere_in_the_database(app, world, database_url):  # noqa: F811
    """Scan every text column of every table (and, on SQLite, the database files' bytes) for the tokens."""
    client = world["client"]
    signed_in = client.post("/api/tokens", auth=("hq", "hq-password")).json["token"]
    plain = [world["own"]["token"], world["other"]["token"], world["hq"], signed_in]
    for token in plain:  # each token used, so every per-request record (rate limit, idempotency) exists
        assert client.get("/api/tickets", headers=auth(token)).status_code == 200
    assert client.post("/api/sync", json={}, headers=auth(world["own"]["token"])).status_code == 200
    secrets = [t.removeprefix("cdt_") for t in plain]

    found: list[str] = []
    scanned = 0
    with app.app_context(), get_db().read() as session:
        inspector = inspect(session.connection())
        for table in Base.metadata.sorted_tables:
            assert table.name in inspector.get_table_names()
            columns = [c for c in table.c if isinstance(c.type, String | Text | LargeBinary)]
            for row in session.execute(select(*columns)) if columns else []:
                for column, value in zip(columns, row, strict=True):
                    scanned += 1
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value or "")
                    found += [f"{table.name}.{column.name}" for s in secrets if s in text]
    assert scanned > 100 and found == []
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        files = [p for p in path.parent.glob(path.name + "*") if p.is_file()]
        assert all(s.encode() not in p.read_bytes() for p in files for s in secrets)


def test_revoking_a_token_ends_its_branch_portal_session(app, tmp_path):  # noqa: F811
    """The upload page (a browser session opened with a branch token) ends at the next request."""
    app.config["BRANCH_DOWNLOADS"] = str(tmp_path / "downloads")
    token = add_branch(app, "SZ01")
    client = app.test_client()
    signin = csrf(client.get("/branch/").get_data(as_text=True))
    client.post("/branch/signin", data={"branch": "SZ01", "token": token, "csrf_token": signin})
    page = upload(client, workbook_bytes([portal_ticket(1)])).get_data(as_text=True)
    link = re.search(r'href="(/branch/download/[^"]+)"', page).group(1)
    assert 'name="workbook"' in client.get("/branch/").get_data(as_text=True)  # signed in

    with app.app_context(), get_db().write() as session:
        session.scalar(select(TokenRow)).revoked_at = NOW
    home = client.get("/branch/").get_data(as_text=True)
    assert 'name="token"' in home and 'name="workbook"' not in home  # back to the sign-in form
    assert client.get(link).status_code == 302
    refused = upload(client, workbook_bytes([portal_ticket(1), portal_ticket(2)]))
    assert refused.status_code == 302
    with app.app_context(), get_db().read() as session:
        assert (
            len(session.scalars(select(TicketRow)).all()) == 1
        )  # the upload after the revoke stored nothing
