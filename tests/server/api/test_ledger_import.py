"""A branch brings in the ledger it kept: from the command line and the portal, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from complaints.enums import Category, Channel, Flag, Satisfaction, Status
from server.services.changes import Actor, Change
from server.services.sync import Push, TicketEdit, push
from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, LedgerMappingRow, LogRow, OutboxRow, TicketRow
from server.storage.rows import clock_for, row_to_ticket
from server.xlsx import read_workbook
from tests.factories import SHANGHAI
from tests.server.api.conftest import NOW, add_branch
from tests.server.api.test_branch_portal import csrf


def ledger_xlsx() -> bytes:
    """A ledger as branches keep them: a merged title, two header rows with merged cells, a date merged over
    the day's complaints, text dates, ticks, a spacer row and a totals row."""
    wb = Workbook()
    ws = wb.active
    ws.title = "2026年"
    ws.append(["深圳01分公司2026年投诉台账"])
    ws.merge_cells("A1:J1")
    ws.append(
        ["序号", "日期", "客户信息", None, "投诉内容", "处理结果", "处理人", "是否满意", "类别", "渠道"]
    )
    ws.append([None, None, "姓名", "联系电话"])
    for column in "ABEFGHIJ":
        ws.merge_cells(f"{column}2:{column}3")
    ws.merge_cells("C2:D2")
    ws.append(
        [
            1,
            "2026.10.8",
            "张三",
            13800138000,
            "宽带每晚断网",
            "10月10日更换光猫",
            "李工",
            "√",
            "宽带故障",
            "10000号",
        ]
    )
    ws.append([2, None, "李四", "13900139000", "套餐外多扣费", "", "", "", "资费", "营业厅"])
    ws.merge_cells("B4:B5")
    ws.append([])
    ws.append([3, datetime(2026, 10, 12, 15, 30), "王五", "13700137000", "营业员态度差",
               "2026年10月13日已道歉", "", "×", "服务态度", "信函"])  # fmt: skip
    ws.append([4, 46315, "赵六", "13600136000", "号码被停机", "", "", "", "号码被盗", ""])
    ws.append(["合计", None, None, None, "=COUNTA(E4:E8)"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def ledger_csv_gbk() -> bytes:
    text = (
        "XX分公司投诉台账\n"
        "序号,受理时间,客户姓名,联系电话,投诉内容,处理结果,处理时间,是否满意\n"
        "1,2026/10/20 09:15,陈七,13500135000,信号差打不通电话,已优化基站,2026/10/22,是\n"
        "2,2026/10/21,周八,13400134000,账单看不懂,,,\n"
        ",,,,,,,\n"
        "总计,2,,,,,,\n"
    )
    return text.encode("gbk")


@pytest.fixture
def sz01(app):
    add_branch(app, "SZ01")
    return app


def invoke(app, path, *args):
    return app.test_cli_runner().invoke(args=["ledger", "import", str(path), "--branch", "SZ01", *args])


def stored(app):
    with app.app_context(), get_db().read() as session:
        rows = session.scalars(select(TicketRow).order_by(TicketRow.ticket_id)).all()
        history = session.scalar(select(func.count()).select_from(HistoryRow))
        notes = session.scalar(select(func.count()).select_from(LogRow))
        seq = session.scalar(select(BranchRow.change_seq))
        return [row_to_ticket(r, "SZ01") for r in rows], [r.version for r in rows], history, notes, seq


def test_the_preview_shows_the_mapping_and_rows_and_writes_nothing(sz01, tmp_path):
    path = tmp_path / "SZ01台账.xlsx"
    path.write_bytes(ledger_xlsx())
    result = invoke(sz01, path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "header row(s) 2–3" in out
    assert "D  客户信息 / 联系电话" in out and "→ 联系电话 (header)" in out
    assert "13800138000" in out  # the command line is the administrator's: numbers in full
    assert "4 ticket(s): 4 new" in out
    assert "工作表「2026年」第 9 行：合计行，未导入" in out
    assert "类别“号码被盗”不在类别表中" in out
    assert "Nothing written" in out
    assert stored(sz01)[0] == []


def test_a_ledger_imports_its_tickets_through_the_one_door_and_again_changes_nothing(sz01, tmp_path):
    path = tmp_path / "SZ01台账.xlsx"
    path.write_bytes(ledger_xlsx())
    result = invoke(sz01, path, "--push")
    assert result.exit_code == 0, result.output
    assert "Imported: 4 created, 0 updated" in result.output
    tickets, versions, history, notes, seq = stored(sz01)
    by_name = {t.customer_name: t for t in tickets}
    assert set(by_name) == {"张三", "李四", "王五", "赵六"}
    zhang, li, wang, zhao = (by_name[n] for n in ("张三", "李四", "王五", "赵六"))
    assert zhang.ticket_id == "SZ01-20261008-0001"
    assert (zhang.status, zhang.satisfaction, zhang.channel) == (Status.REVISITED, Satisfaction.SATISFIED,
                                                                 Channel.HOTLINE)  # fmt: skip
    assert li.received_at == zhang.received_at  # the date merged over both rows
    assert (li.status, li.category, li.channel) == (Status.NEW, Category.BILLING_DISPUTE, Channel.HALL)
    # a dissatisfied revisit the ledger recorded stays as it was: no reopening, no escalation
    assert (wang.status, wang.reopened_at, wang.satisfaction) == (
        Status.REVISITED,
        None,
        Satisfaction.DISSATISFIED,
    )
    assert zhao.received_at.astimezone(SHANGHAI).date().isoformat() == "2026-10-20"  # an Excel serial
    assert all(t.imported_at == NOW for t in tickets)
    # old open tickets are history: nothing on the overdue lists
    assert all(not (t.flags & {f for f in Flag if f.is_overdue}) for t in tickets)
    assert notes == 4 and versions == [1, 1, 1, 1]

    again = invoke(sz01, path, "--push")
    assert again.exit_code == 0, again.output
    assert "0 new, 0 changed in the ledger, 4 unchanged" in again.output
    assert stored(sz01) == (tickets, versions, history, notes, seq)


def test_an_edited_ledger_updates_its_tickets_but_not_what_the_branch_changed_since(sz01, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_bytes(ledger_csv_gbk())
    assert invoke(sz01, path, "--push", "--year", "2026").exit_code == 0
    with sz01.app_context():  # the branch changes the place through the one door
        key = next(t.sync_key for t in stored(sz01)[0] if t.customer_name == "周八")
        with get_db().write() as session:
            branch = session.scalar(select(BranchRow))
            change = Change(
                session, branch, Actor("SZ01", "branch", "api"), NOW, clock_for("Asia/Shanghai", None)
            )
            _ = change.seq
            push(change, Push(tickets=[TicketEdit(key, 1, {"description": "看不懂10月账单，要求解释"})]))
    before = "2,2026/10/21,周八,13400134000,账单看不懂,,,"
    after = "2,2026/10/21,周八,13400134000,账单看不懂,已解释账单,2026/10/23,否"
    edited = ledger_csv_gbk().decode("gbk").replace(before, after)
    path.write_bytes(edited.encode("gbk"))
    result = invoke(sz01, path, "--push")
    assert "1 changed in the ledger" in result.output
    assert "Imported: 0 created, 1 updated" in result.output, result.output
    tickets = {t.customer_name: t for t in stored(sz01)[0]}
    zhou = tickets["周八"]
    assert zhou.solution == "已解释账单" and zhou.status is Status.REVISITED
    assert zhou.description == "看不懂10月账单，要求解释"  # the branch's edit, not the old ledger's text
    assert zhou.version == 3


def test_a_gbk_csv_imports_and_its_mapping_is_kept_for_the_next_import(sz01, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_bytes(ledger_csv_gbk())
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"channel": "hotline", "columns": {"处理时间": "resolved_at"}}), "utf-8")
    result = invoke(sz01, path, "--push", "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    assert "Imported: 2 created" in result.output
    tickets = {t.customer_name: t for t in stored(sz01)[0]}
    assert tickets["陈七"].resolved_at.astimezone(SHANGHAI).date().isoformat() == "2026-10-22"
    assert tickets["陈七"].channel is Channel.HOTLINE
    with sz01.app_context(), get_db().read() as session:
        saved = json.loads(session.scalar(select(LedgerMappingRow.mapping)))
    assert saved["channel"] == "hotline" and saved["columns"]["联系电话"] == "contact"
    again = invoke(sz01, path)
    assert (
        "no channel column: every ticket gets Hotline" in again.output or "全部记为“客服热线”" in again.output
    )


def test_a_ledger_with_errors_is_refused_whole_naming_every_place(sz01, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "日期,客户姓名,联系电话,投诉内容\n2026-10-08,张三,13800138000,断网\n2026-13-01,李四,13900139000,扣费\n"
        "2026-10-09,,13700137000,态度\n",
        encoding="utf-8",
    )
    result = invoke(sz01, path, "--push")
    assert result.exit_code != 0
    assert "第 3 行 A 列（日期）" in result.output
    assert "第 4 行 B 列（客户姓名）：客户姓名为空" in result.output
    assert "nothing imported" in result.output
    assert stored(sz01)[0] == []


def test_the_ledger_can_become_a_branch_workbook_instead(sz01, tmp_path):
    path = tmp_path / "SZ01.xlsx"
    path.write_bytes(ledger_xlsx())
    out = tmp_path / "SZ01-workbook.xlsx"
    result = invoke(sz01, path, "-o", str(out))
    assert result.exit_code == 0, result.output
    book = read_workbook(out, now=NOW)
    assert len(book.tickets) == 4 and len(book.log) == 4
    assert all(t.imported_at == NOW for t in book.tickets)
    assert not any(f.is_overdue for t in book.tickets for f in t.flags)
    assert stored(sz01)[0] == []


# --- the portal ---------------------------------------------------------------------------------------------


@pytest.fixture
def portal(sz01, tmp_path):
    sz01.config["BRANCH_DOWNLOADS"] = str(tmp_path / "downloads")
    from tests.server.api.conftest import add_branch as _unused  # noqa: F401

    with sz01.app_context(), get_db().write() as session:
        from server.auth import BRANCH, issue_token

        branch = session.scalar(select(BranchRow))
        token = issue_token(session, BRANCH, NOW, branch=branch)[1]
    client = sz01.test_client()
    page = client.get("/branch/").get_data(as_text=True)
    client.post("/branch/signin", data={"branch": "SZ01", "token": token, "csrf_token": csrf(page)})
    return client


def test_the_portal_previews_with_phones_masked_then_imports_on_confirmation(portal, sz01):
    page = portal.get("/branch/ledger").get_data(as_text=True)
    response = portal.post(
        "/branch/ledger/preview",
        data={"csrf_token": csrf(page), "ledger": (io.BytesIO(ledger_xlsx()), "SZ01台账.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    preview = response.get_data(as_text=True)
    assert "138****8000" in preview and "13800138000" not in preview
    assert 'name="col:客户信息 / 联系电话"' in preview
    assert "共 4 条：新建 4" in preview
    assert stored(sz01)[0] == []
    response = portal.post(
        "/branch/ledger/import",
        data={
            "csrf_token": csrf(preview),
            "col:序号": "",
            "col:日期": "received_at",
            "col:处理人": "handler",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "导入完成：新建 4" in response.get_data(as_text=True)
    with sz01.app_context(), get_db().read() as session:
        doors = set(session.scalars(select(HistoryRow.source)))
    assert doors == {"ledger"}


def test_the_portal_refuses_a_form_without_csrf_and_a_ledger_with_errors(portal, sz01):
    response = portal.post("/branch/ledger/preview", data={})
    assert response.status_code == 400
    page = portal.get("/branch/ledger").get_data(as_text=True)
    bad = "日期,客户姓名,联系电话,投诉内容\n2026-10-08,,13800138000,断网\n".encode()
    response = portal.post(
        "/branch/ledger/preview",
        data={"csrf_token": csrf(page), "ledger": (io.BytesIO(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "第 2 行 B 列（客户姓名）" in text and "确认导入" not in text


def test_checking_a_ledger_as_a_branch_workbook_points_to_the_ledger_import(sz01, tmp_path):
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx())
    result = sz01.test_cli_runner().invoke(args=["workbook", "check", str(path)])
    assert result.exit_code != 0
    assert "flask --app server ledger import" in result.output


def test_old_repeat_and_group_complaints_of_the_ledger_raise_no_level_and_tell_no_one(sz01, tmp_path):
    lines = ["日期,客户姓名,联系电话,投诉内容,类别,地址"]
    for n, day in enumerate(("2026/10/19", "2026/10/20", "2026/10/20", "2026/10/21")):
        phone = "13800138000" if n < 2 else f"1390013900{n}"  # one customer twice, unresolved
        lines.append(f"{day},客户{n},{phone},晚上断网第{n}次,网络故障,阳光花园3栋")
    path = tmp_path / "ledger.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert invoke(sz01, path, "--push").exit_code == 0
    tickets = stored(sz01)[0]
    assert len(tickets) == 4 and {t.level.value for t in tickets} == {"blue"}
    with sz01.app_context(), get_db().read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 0
    # a complaint received since, from the customer the ledger holds unresolved, is a repeat complaint
    fields = {
        "ticket_id": "SZ01-20261125-0001", "received_at": NOW, "channel": Channel.HOTLINE,
        "customer_name": "客户0", "contact": "13800138000", "category": Category.NETWORK_FAULT,
        "description": "又断网了", "place": "阳光花园3栋",
    }  # fmt: skip
    with sz01.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow))
        change = Change(
            session, branch, Actor("SZ01", "branch", "api"), NOW, clock_for("Asia/Shanghai", None)
        )
        _ = change.seq
        push(change, Push(tickets=[TicketEdit("f" * 32, None, fields)]))
    levels = {t.ticket_id: t.level.value for t in stored(sz01)[0]}
    assert levels["SZ01-20261125-0001"] == "yellow"
    assert sorted(levels.values()).count("blue") == 4


def test_the_portal_previews_again_with_a_changed_mapping_in_english(portal):
    page = portal.get("/branch/ledger?lang=en").get_data(as_text=True)
    assert "Import the ledger" in page
    first = portal.post(
        "/branch/ledger/preview",
        data={"csrf_token": csrf(page), "ledger": (io.BytesIO(ledger_xlsx()), "SZ01.xlsx")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "is not one of ours" in first and 'value="category" selected' in first
    again = portal.post("/branch/ledger/preview", data={"csrf_token": csrf(first), "col:类别": ""})
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    assert text.count("is not one of ours") == first.count("is not one of ours") - 1  # the channel's stays
    assert 'value="category" selected' not in text


def test_the_portal_names_a_file_it_cannot_read(portal):
    page = portal.get("/branch/ledger").get_data(as_text=True)
    response = portal.post(
        "/branch/ledger/preview",
        data={"csrf_token": csrf(page), "ledger": (io.BytesIO(b"PK\x03\x04 not a zip"), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "工作簿" in response.get_data(as_text=True)


def test_an_old_xls_ledger_reads_like_the_xlsx(sz01, tmp_path, libreoffice):
    path = tmp_path / "SZ01台账.xlsx"
    path.write_bytes(ledger_xlsx())
    xls = libreoffice(path, "xls")
    result = invoke(sz01, xls)
    assert result.exit_code == 0, result.output
    assert "4 ticket(s): 4 new" in result.output
    assert "D  客户信息 / 联系电话" in result.output


def test_no_door_moves_the_import_moment_of_a_stored_ticket(sz01, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_bytes(ledger_csv_gbk())
    assert invoke(sz01, path, "--push", "--year", "2026").exit_code == 0
    key = stored(sz01)[0][0].sync_key
    with sz01.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow))
        change = Change(
            session, branch, Actor("SZ01", "branch", "api"), NOW, clock_for("Asia/Shanghai", None)
        )
        _ = change.seq
        answer = push(change, Push(tickets=[TicketEdit(key, 1, {"imported_at": None})]))
    assert answer["rejected"]["tickets"][0]["errors"][0]["field"] == "imported_at"
    assert stored(sz01)[0][0].imported_at == NOW
