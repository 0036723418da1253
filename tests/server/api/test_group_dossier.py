"""A group complaint's dossier: one file, the group's summary, every member's dossier, one digest."""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook

from server import create_app
from server.auth import HEAD_OFFICE
from server.services import dossier as dossiers
from server.storage.models import TicketRow
from tests.server.api.conftest import add_branch, get_db_of
from tests.server.api.test_dossier import Clock, _push, _sheet_text, _sync
from tests.server.dashboard.conftest import add_user, sign_in

GROUP = "SZ01-20261117-0001"
MEMBERS = [f"SZ01-20261117-000{n}" for n in (1, 2, 3)]


@pytest.fixture
def incident(database_url: str) -> Iterator[tuple[Flask, Clock, str]]:
    """Three customers of one building, the same fault, the same day (one incident); and one elsewhere."""
    clock = Clock()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CLOCK": clock})
    get_db_of(app).upgrade()
    token = add_branch(app, "SZ01")
    clock.now = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    for n, place in ((1, "阳光花园3栋"), (2, "阳光花园3栋"), (3, "阳光花园 3栋"), (4, "翠湖小区")):
        fields = {
            "ticket_id": f"SZ01-20261117-000{n}",
            "received_at": f"2026-11-17T0{n}:00:00+00:00",
            "channel": "hotline",
            "customer_name": f"客户{n}",
            "contact": f"1380013800{n}",
            "category": "network_fault",
            "place": place,
            "description": f"整栋楼断网，回电 1380013800{n}",
            "grade": "moderate",
        }
        _sync(app, token, {"tickets": [{"sync_key": uuid.uuid4().hex, "fields": fields}]})
    yield app, clock, token
    get_db_of(app).dispose()


def _key(app: Flask, ticket: str) -> str:
    with app.app_context(), get_db_of(app).read() as session:
        return session.query(TicketRow).filter_by(ticket_id=ticket).one().sync_key


def test_the_group_dossier_holds_a_summary_every_member_and_one_digest_that_verifies(incident, tmp_path):
    app, clock, token = incident
    runner = app.test_cli_runner()
    book = tmp_path / "group.xlsx"
    made = runner.invoke(args=["dossier", "--group", GROUP, "-o", str(book), "--masked"])
    assert made.exit_code == 0, made.output
    with app.app_context(), get_db_of(app).read() as session:
        digest = dossiers.build_group(session, GROUP, mask=True).digest()
    assert made.output.strip() == f"dossier of group {GROUP} (3 tickets) written to {book}; SHA-256 {digest}"
    wb = load_workbook(book)
    assert wb.sheetnames == [f"群体投诉 {GROUP}", *(f"卷宗 {m}" for m in MEMBERS)]
    summary = [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]
    lines = {row[0]: row[2] for row in summary if row[0] and row[2]}
    assert lines["群体投诉编号 Group incident"] == GROUP
    assert lines["问题地点 Place"] == "阳光花园3栋、阳光花园 3栋"  # as each customer gave it
    assert lines["投诉类别 Category"] == "网络故障"
    assert lines["受理时间 Received"] == "2026-11-17 09:00 – 2026-11-17 11:00"
    assert (lines["成员 Members"], lines["已处理完成 Resolved"]) == ("3", "0 / 3")
    members = [row for row in summary if row[0] in MEMBERS]
    assert [m[1] for m in members] == ["客户1", "客户2", "客户3"]
    with app.app_context(), get_db_of(app).read() as session:  # each member's own digest is listed
        assert members[1][6] == dossiers.build(session, _key(app, MEMBERS[1]), mask=True).digest()
    text = _sheet_text(book.read_bytes())
    assert "SZ01-20261117-0004" not in text  # the ticket elsewhere is no member
    assert "13800138002" not in text and "138****8002" in text
    assert re.findall(r"SHA-256: ([0-9a-f]{64})", text) == [digest]  # one digest for the whole
    assert f"群体投诉 Group complaint: {GROUP}" in text and text.count("修改记录 Field history") == 3
    checked = runner.invoke(args=["dossier", "verify", str(book)])
    assert checked.exit_code == 0 and f"matches the record of group {GROUP}" in checked.output
    by_digest = ["dossier", "verify", "--digest", digest, "--group", GROUP, "--masked"]
    assert runner.invoke(args=by_digest).exit_code == 0
    clock.now = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # one member's record changes: the whole fails
    with app.app_context(), get_db_of(app).read() as session:
        version = session.get(TicketRow, _key(app, MEMBERS[2])).version  # type: ignore[union-attr]
    _push(app, token, _key(app, MEMBERS[2]), version, acknowledged_at="2026-11-18T01:00:00+00:00")
    changed = runner.invoke(args=["dossier", "verify", str(book)])
    assert changed.exit_code == 1 and "MISMATCH" in changed.output and GROUP in changed.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one LibreOffice render is enough
def test_the_group_pdf_starts_with_the_summary_and_verifies(incident, tmp_path: Path):
    app, _clock, _token = incident
    pdf = tmp_path / "group.pdf"
    made = app.test_cli_runner().invoke(args=["dossier", "--group", GROUP, "-o", str(pdf)])
    assert made.exit_code == 0, made.output
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    first = text.split("\f")[0]
    assert f"群体投诉卷宗 Group complaint dossier · {GROUP}" in first and "成员 Members" in first
    assert all(m in first for m in MEMBERS) and "13800138001" in text  # the CLI is the administrator's
    assert all(f"投诉处理卷宗 Complaint handling dossier · {m}" in text for m in MEMBERS)
    assert len(re.findall(r"SHA-256:\s*[0-9a-f]{64}", text)) == 1
    checked = app.test_cli_runner().invoke(args=["dossier", "verify", str(pdf)])
    assert checked.exit_code == 0 and "OK" in checked.output, checked.output


def test_a_members_page_on_the_dashboard_links_the_group_dossier_masked_for_head_office(incident):
    app, _clock, _token = incident
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    assert client.get(f"/dashboard/groups/{GROUP}/dossier.xlsx").status_code in (302, 401)
    sign_in(client, "analyst")
    member = client.get(f"/dashboard/tickets/{_key(app, MEMBERS[2])}").text
    assert f"/dashboard/groups/{GROUP}/dossier.pdf" in member
    assert f"/dashboard/groups/{GROUP}/dossier.xlsx" in member
    elsewhere = client.get(f"/dashboard/tickets/{_key(app, 'SZ01-20261117-0004')}").text
    assert "/dashboard/groups/" not in elsewhere
    response = client.get(f"/dashboard/groups/{GROUP}/dossier.xlsx")
    assert response.status_code == 200
    assert f"group-dossier-{GROUP}.xlsx" in response.headers["Content-Disposition"]
    text = _sheet_text(response.data)
    with app.app_context(), get_db_of(app).read() as session:
        digest = dossiers.build_group(session, GROUP, mask=True).digest()
    assert f"SHA-256: {digest}" in text and "号码遮蔽 Phones masked: yes" in text
    assert "13800138001" not in text and all(m in text for m in MEMBERS)
    assert load_workbook(io.BytesIO(response.data)).sheetnames[0] == f"群体投诉 {GROUP}"
    assert client.get("/dashboard/groups/SZ01-20990101-0001/dossier.pdf").status_code == 404


def test_forms_of_a_group_stay_one_per_member_and_an_unknown_group_is_named(incident, tmp_path):
    app, _clock, _token = incident
    runner = app.test_cli_runner()
    forms = tmp_path / "forms.xlsx"
    made = runner.invoke(args=["dossier", "--group", GROUP, "--form", "-o", str(forms)])
    assert made.exit_code == 0 and made.output.count("complaint form of") == 3, made.output
    assert load_workbook(forms).sheetnames == [f"处理单 {m}" for m in MEMBERS]
    none = runner.invoke(args=["dossier", "--group", "SZ01-20990101-0001", "-o", str(tmp_path / "n.pdf")])
    assert none.exit_code == 1 and "no group complaint SZ01-20990101-0001" in none.output
