"""GET /api/tickets/<key>/dossier.xlsx|.pdf: a ticket's dossier for a token, own branch only, masked."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook

from server.auth import ADMIN, hash_password, issue_token
from server.services import dossier as dossiers
from server.storage.db import get_db
from server.storage.models import UserRow
from tests.server.api.conftest import NOW, add_branch, add_head_office
from tests.server.api.test_sync_api import new_fields, sync

OWN, OTHER = "a" * 32, "b" * 32
PHONE, SHOWN = "13800130001", "138****0001"
FORMULA = '=HYPERLINK("http://x.example","一周内修好")'
"""A customer's text that a spreadsheet would take for a formula."""


def add_admin(app: Flask) -> str:
    with app.app_context(), get_db().write() as session:
        user = UserRow(username="root", password_hash=hash_password("pw"), role=ADMIN, created_at=NOW)
        session.add(user)
        session.flush()
        return issue_token(session, ADMIN, NOW, user=user)[1]


def two_branches(app: Flask) -> tuple[str, str]:
    """SZ01 and GZ01 with a ticket each; the SZ01 customer gave the number in the description too."""
    own, other = add_branch(app, "SZ01"), add_branch(app, "GZ01")
    client = app.test_client()
    fields = new_fields(description=f"每晚八点宽带断线，回电 {PHONE}", expectation=FORMULA)
    sync(client, own, {"tickets": [{"sync_key": OWN, "fields": fields}]})
    sync(client, other, {"tickets": [{"sync_key": OTHER, "fields": new_fields("GZ01-20261125-0001")}]})
    return own, other


def get(app: Flask, key: str, token: str | None, fmt: str = "xlsx"):  # noqa: ANN201
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get(f"/api/tickets/{key}/dossier.{fmt}", headers=headers)


def sheet_text(content: bytes) -> str:
    wb = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )


def test_a_branch_gets_its_own_tickets_dossier_with_phone_numbers_masked(app):
    own, _ = two_branches(app)
    response = get(app, OWN, own)
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "dossier-SZ01-20261125-0001.xlsx" in response.headers["Content-Disposition"]
    text = sheet_text(response.data)
    assert "投诉处理卷宗 Complaint handling dossier · SZ01-20261125-0001" in text
    assert PHONE not in text and f"回电 {SHOWN}" in text and "号码遮蔽 Phones masked: yes" in text
    digest = response.headers["X-Dossier-SHA256"]
    assert f"SHA-256: {digest}" in text
    with app.app_context(), get_db().read() as session:
        assert digest == dossiers.build(session, OWN, mask=True).digest()  # what `dossier verify` checks
    cells = [c for row in load_workbook(io.BytesIO(response.data)).active.iter_rows() for c in row]
    [typed] = [c for c in cells if c.value == FORMULA]
    assert typed.data_type == "s" and typed.quotePrefix  # shown as typed, never run


def test_another_branchs_ticket_is_refused_like_an_unknown_one_naming_the_ticket(app):
    own, other = two_branches(app)
    refused, unknown = get(app, OTHER, own), get(app, "c" * 32, own)
    assert refused.status_code == unknown.status_code == 404
    assert refused.json["error"] == unknown.json["error"] == "ticket_not_found"
    assert refused.json["message"] == (
        f"服务器上没有工单 {OTHER}（或不属于本分支机构）/ "
        f"no ticket {OTHER} on the server (or not your branch's)"
    )
    assert get(app, OTHER, other).status_code == 200  # its own branch gets it


def test_a_token_is_needed_and_admin_alone_sees_numbers_in_full(app):
    two_branches(app)
    assert get(app, OWN, None).json["error"] == "unauthorized"
    assert get(app, OWN, "cdt_not-a-token").status_code == 401
    head_office = sheet_text(get(app, OWN, add_head_office(app)).data)
    assert PHONE not in head_office and SHOWN in head_office
    admin = sheet_text(get(app, OWN, add_admin(app)).data)
    assert PHONE in admin and "号码遮蔽 Phones masked: no" in admin


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one LibreOffice render is enough
def test_the_pdf_carries_the_masked_record_and_its_digest_verifies(app, tmp_path: Path):
    own, _ = two_branches(app)
    response = get(app, OWN, own, "pdf")
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    pdf = tmp_path / "dossier.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert SHOWN in text and PHONE not in text
    assert re.search(rf"SHA-256:\s*{response.headers['X-Dossier-SHA256']}", text)
    checked = app.test_cli_runner().invoke(args=["dossier", "verify", str(pdf)])
    assert checked.exit_code == 0 and "OK" in checked.output, checked.output


def test_the_openapi_document_describes_both_files_for_a_bearer_token(app):
    paths = app.test_client().get("/api/openapi.json").json["paths"]
    for fmt, mimetype in (("pdf", "application/pdf"), ("xlsx", "spreadsheetml")):
        operation = paths[f"/api/tickets/{{sync_key}}/dossier.{fmt}"]["get"]
        assert operation["security"] == [{"bearer": []}]
        assert any(mimetype in kind for kind in operation["responses"]["200"]["content"])
        assert "X-Dossier-SHA256" in operation["responses"]["200"]["headers"]
        assert "masked" in operation["description"]
