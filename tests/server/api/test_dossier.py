"""The regulator dossier of a ticket that went through every step, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from complaints.periods import Period
from server import create_app
from server.auth import ADMIN, HEAD_OFFICE
from server.services import dossier as dossiers
from server.services.consolidated import ConsolidateOptions, build_consolidated
from server.storage.models import TicketRow
from tests.server.api.conftest import add_branch, get_db_of
from tests.server.dashboard.conftest import add_user, branch_token, csrf_of, sign_in

PHONE = "13800138000"


class Clock:
    """The app's "now", moved on as the story of the ticket goes."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 16, 1, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def story(database_url: str) -> Iterator[tuple[Flask, Clock]]:
    clock = Clock()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CLOCK": clock})
    get_db_of(app).upgrade()
    yield app, clock
    get_db_of(app).dispose()


def _sync(app: Flask, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """Push ``body`` as a branch's device would; every row must be accepted."""
    response = app.test_client().post(
        "/api/sync",
        json=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": uuid.uuid4().hex,
            "X-Device": "前台电脑",
        },
    )
    assert response.status_code == 200, response.json
    assert not any(response.json["pushed"].get("rejected", {}).values()), response.json["pushed"]
    return response.json


def _push(app: Flask, token: str, key: str, base: int, **fields: Any) -> dict[str, Any]:
    out = _sync(app, token, {"tickets": [{"sync_key": key, "base_version": base, "fields": fields}]})
    return next(t for t in out["pulled"]["tickets"] if t["sync_key"] == key)


def every_step(app: Flask, clock: Clock) -> str:
    """A ticket received, acknowledged, routed, extended, resolved late, objected to, settled, revisited.

    Times are Shanghai local (UTC+8) in the comments. Returns the ticket's sync key.
    """
    token = add_branch(app, "SZ01")
    key = uuid.uuid4().hex
    first = {
        "ticket_id": "SZ01-20261116-0001",
        "received_at": "2026-11-16T01:00:00+00:00",  # Mon 09:00
        "channel": "hotline",
        "customer_name": "张先生",
        "contact": PHONE,
        "category": "network_fault",
        "place": "阳光花园3栋",
        "service": "宽带",
        "description": f"每晚八点宽带断线，回电 {PHONE}",
        "expectation": "一周内修好",
        "grade": "moderate",
    }
    row = _sync(app, token, {"tickets": [{"sync_key": key, "fields": first}]})["pulled"]["tickets"][0]
    clock.now = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    row = _push(
        app, token, key, row["version"],
        acknowledged_at="2026-11-16T02:00:00+00:00",  # Mon 10:00, due Tue: on time
        routed_at="2026-11-16T02:30:00+00:00",
        department="网络部",
        investigator="李工",
        promised_at="2026-11-20T09:00:00+00:00",
        extension_requested_at="2026-11-18T03:00:00+00:00",  # Wed, before the plan deadline (Thu)
        extension_reason="需要更换室外光缆",
        extension_customer_informed=True,
        extension_until="2026-11-24T00:00:00+00:00",
    )  # fmt: skip
    task = {"sync_key": uuid.uuid4().hex, "ticket_key": key}
    _sync(
        app,
        token,
        {
            "tasks": [
                {**task, "fields": {"task_no": 1, "title": "更换光猫", "owner": "赵工", "due": "2026-11-20"}}
            ]
        },
    )
    _sync(
        app,
        token,
        {
            "log": [
                {
                    "sync_key": uuid.uuid4().hex,
                    "ticket_key": key,
                    "at": "2026-11-18T03:05:00+00:00",
                    "kind": "progress",
                    "text": f"已电话告知客户延期（{PHONE}）",
                    "channel": "电话",
                }
            ]
        },
    )
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    row = _push(
        app, token, key, row["version"],
        plan_at="2026-11-23T02:00:00+00:00",  # Mon 23rd: after the 19th, before the extension's 24th
        resolved_at="2026-11-24T02:00:00+00:00",  # promised the 20th: late
        feedback_at="2026-11-24T07:00:00+00:00",  # within 24 hours
        feedback_channel="电话",
        cause="室外光缆老化",
        solution="更换光缆",
    )  # fmt: skip
    # two copies of the workbook change the cause: a conflict, settled for the branch's value
    stale = row["version"]
    row = _push(app, token, key, stale, safeguards="每月巡检")
    conflict = _sync(
        app,
        token,
        {"tickets": [{"sync_key": key, "base_version": stale - 1, "fields": {"cause": "光猫故障"}}]},
    )
    (found,) = conflict["pushed"]["tickets"][0]["conflicts"]
    settled = app.test_client().post(
        f"/api/conflicts/{found['id']}/resolve",
        json={"keep": "branch"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert settled.status_code == 200, settled.json
    row = (
        app.test_client()
        .get(f"/api/tickets/{key}", headers={"Authorization": f"Bearer {token}"})
        .json["ticket"]
    )
    clock.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wed 10:00: the customer objects
    row = _push(app, token, key, row["version"], objection_demand="要求赔偿一个月月租")
    clock.now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    row = _push(
        app, token, key, row["version"],
        plan_at="2026-11-25T06:00:00+00:00",  # Wed 14:00, second round: due Mon 30th
        resolved_at="2026-11-26T02:00:00+00:00",
        feedback_at="2026-11-26T03:00:00+00:00",
        closed_at="2026-11-26T04:00:00+00:00",
        revisited_at="2026-12-01T02:00:00+00:00",
        satisfaction="satisfied",
    )  # fmt: skip
    return key


@pytest.fixture
def sqlite_story(tmp_path: Path) -> Iterator[tuple[Flask, Clock]]:
    """The story on SQLite only: for the one PDF render of the test set."""
    clock = Clock()
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "CLOCK": clock})
    get_db_of(app).upgrade()
    yield app, clock
    get_db_of(app).dispose()


def _build(app: Flask, key: str, mask: bool = False) -> dossiers.Dossier:
    with app.app_context(), get_db_of(app).read() as session:
        return dossiers.build(session, key, mask)


MILESTONE_LINES = [
    # (done at, due, verdict): each on one printed line of the milestone table, in this order
    ("2026-11-16 10:00", "2026-11-17 23:59", "按时 On time"),  # round 1 acknowledged
    ("2026-11-23 10:00", "2026-11-24 23:59", "按时 On time（已有效延期 extended）"),  # plan, extended
    ("2026-11-24 10:00", "2026-11-20 17:00", "逾期 Late"),  # resolved after the promised date
    ("2026-11-24 15:00", "2026-11-25 10:00", "按时 On time"),  # feedback within 24 hours
    ("", "", "未到达 Not reached"),  # round 1 never revisited: reopened by the objection
    ("2026-11-16 10:00", "2026-11-17 23:59", "按时 On time"),  # round 2 acknowledged (unchanged)
    ("2026-11-25 14:00", "2026-11-30 23:59", "按时 On time"),  # plan again, from the reopening
    ("2026-11-26 10:00", "2026-12-04 23:59", "按时 On time"),
    ("2026-11-26 11:00", "2026-11-27 10:00", "按时 On time"),
    ("2026-12-01 10:00", "2026-12-01 00:00 – 2026-12-07 23:59", "按时 On time"),  # revisit window
]


def _text(pdf: Path, *how: str) -> str:
    return subprocess.run(
        ["pdftotext", *how, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_pdf_dossier_shows_every_verdict_and_history_line_and_verifies(sqlite_story, tmp_path):
    app, clock = sqlite_story
    key = every_step(app, clock)
    pdf = tmp_path / "dossier.pdf"
    runner = app.test_cli_runner()
    made = runner.invoke(args=["dossier", "SZ01-20261116-0001", "-o", str(pdf)])
    assert made.exit_code == 0, made.output
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts and all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # embedded
    text = _text(pdf, "-layout")
    assert "投诉处理卷宗 Complaint handling dossier" in text and "张先生" in text
    assert PHONE in text  # the command line is the administrator's: numbers in full
    judged = [
        line for line in text.splitlines() if any(v in line for v in ("Not reached", "On time", "Late"))
    ]
    assert len(judged) == len(MILESTONE_LINES)
    for (done, due, verdict), line in zip(MILESTONE_LINES, judged, strict=True):
        assert done in line and due in line and verdict in line, line
    flat = "".join(_text(pdf, "-raw").split())  # LibreOffice draws a wrapped cell apart from its row
    history = _build(app, key).history
    assert len(history) > 40
    for row in history:  # every line of the history: when, version, what, old → new, who, which door
        assert all("".join(cell.split()) in flat for cell in row), row
    for cells in (
        ("光猫故障", "室外光缆老化", "采用分公司值 Branch value kept"),  # the conflict and how it was settled
        ("客户异议 Objection", "要求赔偿一个月月租"),
        ("更换光猫", "赵工", "2026-11-20"),
        ("进度通报 Progress update", f"已电话告知客户延期（{PHONE}）"),
        ("附件及哈希 Attachments and their hashes",),
        (f"SHA-256: {_build(app, key).digest()}",),
    ):
        assert all("".join(cell.split()) in flat for cell in cells), cells
    ok = runner.invoke(args=["dossier", "verify", str(pdf)])
    assert ok.exit_code == 0 and "OK" in ok.output, ok.output


def _sheet_text(content: bytes) -> str:
    wb = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )


def test_the_digest_leaves_out_when_it_was_made_and_verify_catches_any_later_change(story, tmp_path):
    app, clock = story
    key = every_step(app, clock)
    runner = app.test_cli_runner()
    sheet = tmp_path / "dossier.xlsx"
    assert runner.invoke(args=["dossier", key, "-o", str(sheet)]).exit_code == 0
    first = _sheet_text(sheet.read_bytes())
    digest = re.search(r"SHA-256: ([0-9a-f]{64})", first)[1]  # type: ignore[index]
    assert "判定 Verdict" in first and "生成时间 Made at: 2026-12-07 10:00" in first
    clock.now = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)  # made again two days later: the same digest
    again = tmp_path / "again.xlsx"
    assert runner.invoke(args=["dossier", "SZ01-20261116-0001", "-o", str(again)]).exit_code == 0
    assert f"SHA-256: {digest}" in _sheet_text(again.read_bytes())
    assert "OK" in runner.invoke(args=["dossier", "verify", str(sheet)]).output
    by_digest = runner.invoke(
        args=["dossier", "verify", "--digest", digest, "--ticket", "SZ01-20261116-0001"]
    )
    assert by_digest.exit_code == 0, by_digest.output
    masked = runner.invoke(args=["dossier", "verify", "--digest", digest, "--ticket", key, "--masked"])
    assert masked.exit_code == 1 and "MISMATCH" in masked.output  # a masked copy has its own digest
    token = add_branch(app, "GZ01")  # another branch's change leaves this record (and its digest) alone
    assert token and "OK" in runner.invoke(args=["dossier", "verify", str(sheet)]).output
    with app.app_context(), get_db_of(app).read() as session:
        version = session.get(TicketRow, key).version  # type: ignore[union-attr]
        code_token = branch_token(app, "SZ01")
    _push(app, code_token, key, version, suggestions="希望以后提前通知")
    changed = runner.invoke(args=["dossier", "verify", str(sheet)])
    assert changed.exit_code == 1 and "MISMATCH" in changed.output and digest in changed.output
    unknown = runner.invoke(args=["dossier", "SZ01-29991231-9999", "-o", str(tmp_path / "x.pdf")])
    assert unknown.exit_code == 1 and "no ticket SZ01-29991231-9999" in unknown.output
    wrong = runner.invoke(args=["dossier", key, "-o", str(tmp_path / "x.docx")])
    assert wrong.exit_code == 1 and "must end in .pdf or .xlsx" in wrong.output


def test_the_dashboard_dossier_masks_phone_numbers_for_everyone_but_admin(story):
    app, clock = story
    key = every_step(app, clock)
    add_user(app, "analyst", HEAD_OFFICE)
    add_user(app, "root", ADMIN)
    seen = {}
    for user in ("analyst", "root"):
        client = app.test_client()
        sign_in(client, user)
        page = client.get(f"/dashboard/tickets/{key}").text
        assert f"/dashboard/tickets/{key}/dossier.pdf" in page
        response = client.get(f"/dashboard/tickets/{key}/dossier.xlsx")
        assert response.status_code == 200
        assert "dossier-SZ01-20261116-0001.xlsx" in response.headers["Content-Disposition"]
        seen[user] = _sheet_text(response.data)
    assert PHONE not in seen["analyst"] and "138****8000" in seen["analyst"]
    assert "号码遮蔽 Phones masked: yes" in seen["analyst"]
    assert PHONE in seen["root"] and "号码遮蔽 Phones masked: no" in seen["root"]
    assert app.test_client().get(f"/dashboard/tickets/{key}/dossier.pdf").status_code in (302, 401)


def test_the_appeal_register_lists_regulator_tickets_on_the_dashboard_and_in_the_consolidated_workbook(story):
    app, clock = story
    key = every_step(app, clock)  # an ordinary hotline ticket: no appeal
    token = branch_token(app, "SZ01")
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    by_channel = {
        "ticket_id": "SZ01-20261119-0002",
        "received_at": "2026-11-19T01:00:00+00:00",
        "channel": "regulator",
        "customer_name": f"王女士 {PHONE}",
        "contact": "13900139000",
        "category": "billing_dispute",
        "description": "12300 转来：多扣费",
        "grade": "moderate",
    }
    pushed = _sync(app, token, {"tickets": [{"sync_key": uuid.uuid4().hex, "fields": by_channel}]})
    assert not pushed["pushed"]["rejected"]["tickets"], pushed["pushed"]
    clock.now = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # the regulator forwards the first ticket: Tue 10:00
    with app.app_context(), get_db_of(app).read() as session:
        version = session.get(TicketRow, key).version  # type: ignore[union-attr]
    _push(app, token, key, version, regulator_involved=True)
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    page = client.get("/dashboard/appeals").text
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    cells = [re.sub(r"<[^>]+>", "", r).split() for r in rows]
    assert [c[1] for c in cells] == ["SZ01-20261116-0001", "SZ01-20261119-0002"]  # newest appeal first
    assert " ".join(cells[0]).startswith("SZ01 SZ01-20261116-0001 张先生 监管介入标记 2026-12-08 10:00")
    assert "工信部/12300 渠道 2026-11-19 09:00" in " ".join(cells[1]) and "138****8000" in page
    assert PHONE not in page and f"/dashboard/tickets/{key}/dossier.pdf" in page
    target = io.BytesIO()
    with app.app_context():
        options = ConsolidateOptions(branches=None, period=Period.month(2026, 11), workers=0)
        build_consolidated(get_db_of(app), target, options)
    sheet = load_workbook(io.BytesIO(target.getvalue()))["申诉登记"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:6] == ["分公司", "投诉编号", "客户", "申诉来源", "申诉日期", "答复时限"]
    assert [v[1] for v in values[1:]] == ["SZ01-20261116-0001", "SZ01-20261119-0002"]
    assert values[2][2] == "王女士 138****8000" and sheet.print_title_rows == "$1:$1"


def test_an_attachment_is_listed_with_its_hash_and_in_the_history(story):
    app, clock = story
    key = every_step(app, clock)
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    agreement = b"%PDF-1.7\n" + "补偿协议 客户 13812348000".encode() + b"0" * 300
    sent = {
        "csrf_token": csrf_of(client.get(f"/dashboard/tickets/{key}").text),
        "kind": "agreement",
        "file": (io.BytesIO(agreement), "协议13812348000.pdf"),
    }
    posted = client.post(f"/dashboard/tickets/{key}/evidence", data=sent, content_type="multipart/form-data")
    assert posted.status_code == 302
    text = _sheet_text(client.get(f"/dashboard/tickets/{key}/dossier.xlsx").data)
    digest = hashlib.sha256(agreement).hexdigest()
    assert text.count(digest) == 2  # the attachments table and the history line
    assert "附件 Attachment" in text and "协议138****8000.pdf" in text and "13812348000" not in text
    assert f"{len(agreement):,}" in text


def test_the_complaint_form_prints_the_ticket_on_one_page_with_its_verdicts_and_signatures(
    sqlite_story, tmp_path
):
    app, clock = sqlite_story
    key = every_step(app, clock)
    pdf = tmp_path / "form.pdf"
    made = app.test_cli_runner().invoke(args=["dossier", "SZ01-20261116-0001", "--form", "-o", str(pdf)])
    assert made.exit_code == 0, made.output
    assert "complaint form of SZ01-20261116-0001" in made.output
    text = _text(pdf, "-layout")
    assert text.count("\f") == 1  # one page
    assert "投诉处理单 Complaint form · SZ01-20261116-0001" in text
    assert all(
        signer in text for signer in ("调查人 Investigator", "部门负责人 Department head", "投诉管理员")
    )
    assert "逾期 Late" in text and "修改记录" not in text  # the verdicts, not the whole history
    assert f"卷宗摘要 Dossier SHA-256: {_build(app, key).digest()}" in text
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    assert f"/dashboard/tickets/{key}/form.pdf" in client.get(f"/dashboard/tickets/{key}").text
    sheet = client.get(f"/dashboard/tickets/{key}/form.xlsx")
    assert sheet.status_code == 200 and PHONE not in _sheet_text(sheet.data)
    assert load_workbook(io.BytesIO(sheet.data)).active.page_setup.fitToHeight == 1
