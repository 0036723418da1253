"""Evidence on tickets through the portal and the dashboard: upload, limits, dedup, download, who may read,
the ticket's history, and the workbook's Evidence sheet (on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaints.enums import Category
from complaints.evidence import EvidenceError
from server import create_app
from server.auth import ADMIN, HEAD_OFFICE
from tests.server.api.conftest import add_branch
from tests.server.api.test_branch_portal import csrf, download, ticket, upload, workbook_bytes
from tests.server.dashboard.conftest import add_user, sign_in

PDF = b"%PDF-1.7\n" + b"0" * 300
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 300
SMS = "2026-11-24 09:30 10086：您本月话费 388 元。客户回电 13812345678\n".encode()
BILLING, NETWORK = "SZ01-20261124-0001", "SZ01-20261124-0002"


def portal_client(app, code: str, tickets):
    token = add_branch(app, code)
    client = app.test_client()
    page = client.get("/branch/").get_data(as_text=True)
    assert (
        client.post(
            "/branch/signin", data={"branch": code, "token": token, "csrf_token": csrf(page)}
        ).status_code
        == 302
    )
    assert upload(client, workbook_bytes(tickets, branch=code), f"{code}.xlsx").status_code == 200
    return client


def attach(client, ticket_id: str, name: str, data: bytes, kind: str):
    page = client.get(f"/branch/evidence?ticket={ticket_id}").get_data(as_text=True)
    return client.post(
        f"/branch/evidence?ticket={ticket_id}",
        data={"csrf_token": csrf(page), "kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def key_of(client, ticket_id: str) -> str:
    return re.search(
        r'href="/dashboard/tickets/([^"]+)"', client.get(f"/dashboard/tickets?q={ticket_id}").text
    )[1]


def fetch(client, link: str):
    """The download's answer, its file closed."""
    response = client.get(link)
    response.get_data()  # read (and keep) before the file is closed
    response.close()
    return response


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.fixture
def desk(app, tmp_path):
    app.config.update(
        EVIDENCE_DIR=str(tmp_path / "evidence"),
        EVIDENCE_MAX_BYTES=4096,
        BRANCH_DOWNLOADS=str(tmp_path / "downloads"),
        SERVER_URL="https://desk.example",
    )
    sz = portal_client(app, "SZ01", [ticket(1, category=Category.BILLING_DISPUTE), ticket(2)])
    return app, sz, tmp_path / "evidence"


def test_a_branch_attaches_evidence_once_and_head_office_sees_it_masked_in_the_history(desk):
    app, sz, folder = desk
    first = attach(sz, BILLING, "bill.pdf", PDF, "bill")
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "证据已上传" in page and "bill.pdf" in page and "还缺少：通话记录" in page

    again = attach(sz, BILLING, "copy-of-bill.pdf", PDF, "bill").get_data(as_text=True)
    assert "没有重复保存" in again and "copy-of-bill.pdf" not in again
    assert attach(sz, BILLING, "通话记录13812345678.txt", SMS, "call_records").status_code == 200
    done = sz.get(f"/branch/evidence?ticket={BILLING}").get_data(as_text=True)
    assert "证据清单已齐全" in done

    add_user(app, "analyst", HEAD_OFFICE)
    hq = app.test_client()
    sign_in(hq, "analyst")
    key = key_of(hq, NETWORK)
    token = csrf(hq.get(f"/dashboard/tickets/{key}").text)
    sent = {"csrf_token": token, "kind": "test_results", "file": (io.BytesIO(PDF), "speedtest.pdf")}
    page = f"/dashboard/tickets/{key}/evidence"
    assert hq.post(page, data=sent, content_type="multipart/form-data").status_code == 302
    wrong = {"csrf_token": token, "kind": "screenshot", "file": (io.BytesIO(PNG), "screen.jpg")}
    refused = hq.post(page, data=wrong, content_type="multipart/form-data")
    assert refused.status_code == 422 and "与扩展名“.jpg”不符" in refused.text
    forged = {"kind": "screenshot", "file": (io.BytesIO(PNG), "screen.png")}
    assert hq.post(page, data=forged, content_type="multipart/form-data").status_code == 400

    # the same content on two tickets: two attachments, one file, written for the owner only
    files = stored_files(folder)
    assert len(files) == 2
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in files} == {0o600}

    network = hq.get(f"/dashboard/tickets/{key}").text
    assert "speedtest.pdf" in network and "证据清单已齐全" in network
    assert "analyst（总部）" in network and "sha256" in network  # the history names who attached what

    billing_key = re.search(
        r'href="/dashboard/tickets/([^"]+)"', hq.get(f"/dashboard/tickets?q={BILLING}").text
    )[1]
    billing = hq.get(f"/dashboard/tickets/{billing_key}").text
    assert "13812345678" not in billing and "138****5678" in billing
    assert "<td>SZ01（分支机构）</td><td>分支机构入口</td>" in billing  # the history: who, through which door
    link = re.search(r'href="(/dashboard/evidence/\d+)"[^>]*>通话记录138', billing)[1]
    got = fetch(hq, link)
    assert got.data == SMS
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "13812345678" not in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.mimetype == "text/plain"

    add_user(app, "root", ADMIN)
    admin = app.test_client()
    sign_in(admin, "root")
    assert "通话记录13812345678.txt" in admin.get(f"/dashboard/tickets/{billing_key}").text


REFUSED = [
    ("big.pdf", b"%PDF-1.7\n" + b"0" * 5000, "超过上限 4,096 字节"),
    ("bill.pdf", PNG, "与扩展名“.pdf”不符"),
    ("sms.txt", b"<html><script>alert(1)</script></html>", "不是可接受的证据类型"),
    ("empty.pdf", b"", "是空的"),
]


def test_a_file_too_big_mislabelled_or_of_another_type_is_refused_and_nothing_is_kept(desk):
    _, sz, folder = desk
    for name, data, said in REFUSED:
        refused = attach(sz, BILLING, name, data, "bill")
        page = refused.get_data(as_text=True)
        assert refused.status_code in (400, 422), name
        assert said in page, name
        assert "还没有附件" in page and not stored_files(folder)


def test_another_branch_can_neither_read_nor_attach_and_a_form_needs_its_csrf_token(desk):
    app, sz, _ = desk
    page = attach(sz, BILLING, "bill.pdf", PDF, "bill").get_data(as_text=True)
    link = re.search(r'href="(/branch/evidence/\d+)"', page)[1]
    own = fetch(sz, link)
    assert own.status_code == 200 and own.data == PDF
    assert own.headers["Content-Disposition"] == "attachment; filename=bill.pdf"
    assert own.headers["X-Content-Type-Options"] == "nosniff"
    assert own.headers["Cache-Control"] == "private, no-store"

    gz = portal_client(app, "GZ01", [ticket(3, ticket_id="GZ01-20261124-0003", branch="GZ01")])
    assert gz.get(link).status_code == 404
    assert gz.get(f"/branch/evidence?ticket={BILLING}").status_code == 404
    assert attach(gz, BILLING, "x.pdf", PDF, "bill").status_code == 404
    assert app.test_client().get(link).status_code == 302  # not signed in: to the sign-in page
    assert app.test_client().get("/dashboard/evidence/1").status_code == 302
    sent = {"kind": "bill", "file": (io.BytesIO(PDF), "b.pdf")}
    no_token = sz.post(f"/branch/evidence?ticket={BILLING}", data=sent, content_type="multipart/form-data")
    assert no_token.status_code == 400


def test_the_merged_workbook_lists_attachments_as_links_and_what_is_still_missing(desk):
    app, sz, _ = desk
    page = attach(sz, BILLING, "bill.pdf", PDF, "bill").get_data(as_text=True)
    attachment = re.search(r'href="/branch/evidence/(\d+)"', page)[1]
    merged = upload(sz, workbook_bytes([ticket(1, category=Category.BILLING_DISPUTE), ticket(2)]))
    book = load_workbook(io.BytesIO(download(sz, merged.get_data(as_text=True))))
    sheet = book["证据"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["投诉编号", "缺少的证据", "附件（链接）"]
    by_ticket = {row[0]: row for row in rows[1:]}
    assert by_ticket[BILLING][1] == "通话记录" and by_ticket[BILLING][2] == "bill.pdf"
    assert by_ticket[BILLING][3] == "账单"
    assert sheet.cell(2, 3).hyperlink.target == f"https://desk.example/branch/evidence/{attachment}"
    assert by_ticket[NETWORK][1] == "测试结果" and by_ticket[NETWORK][2] is None
    assert "%PDF" not in str(rows)  # links, never the content


def test_a_misspelt_checklist_stops_the_start_naming_the_entry(tmp_path):
    with pytest.raises(EvidenceError, match="'bills'"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "EVIDENCE_CHECKLIST": {"billing_dispute": ["bills"]}})  # fmt: skip
