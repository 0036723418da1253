"""Writing tickets into a branch workbook and reading them back: nothing changes, nothing is lost."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill

from complaints.sla import PENDING
from server.xlsx.cellformat import REPLACEMENT
from server.xlsx.errors import WorkbookError
from server.xlsx.reader import read_workbook
from server.xlsx.template import build_workbook
from server.xlsx.writer import write_workbook
from tests.factories import local
from tests.server.workbook_factories import (
    NOW,
    TRICKY_TEXTS,
    column_of,
    edit_cells,
    full_ticket,
    log_for,
    many_tickets,
    save_filled,
    save_template,
    sheet_part,
    some_deadlines,
    tasks_for,
)


def test_five_thousand_tickets_with_tasks_log_and_deadlines_read_back_equal(tmp_path: Path) -> None:
    tickets = many_tickets(5000)
    tasks, log, deadlines = tasks_for(tickets), log_for(tickets), some_deadlines(tickets)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, tasks=tasks, log=log, deadlines=deadlines)

    book = read_workbook(path, now=NOW)

    assert book.tickets == tickets
    assert book.tasks == tasks
    assert book.log == log
    assert book.deadlines == deadlines
    assert book.new_keys == set()
    assert book.settings.branch == "SZ01"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_both_engines_read_the_same_tickets_in_either_language(tmp_path: Path, lang: str) -> None:
    tickets = many_tickets(300)
    deadlines = some_deadlines(tickets)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, lang, tasks=tasks_for(tickets), deadlines=deadlines)

    fast = read_workbook(path, now=NOW, engine="calamine")
    reference = read_workbook(path, now=NOW, engine="openpyxl")

    assert fast.tickets == reference.tickets == tickets
    assert fast.tasks == reference.tasks
    assert fast.deadlines == reference.deadlines == deadlines
    assert fast.settings == reference.settings
    assert fast.settings.language == lang


texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40) | st.sampled_from(TRICKY_TEXTS)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(texts, min_size=1, max_size=25))
@example(["\n", " ", "\t", "  \r\n"])  # white space only: read back empty unless written with care
def test_any_text_round_trips_exactly(tmp_path_factory: pytest.TempPathFactory, values: list[str]) -> None:
    tickets = [
        full_ticket(n, description=f"#{value}", expectation=value, customer_name=value.strip() or "x")
        for n, value in enumerate(values, 1)
    ]
    path = save_filled(tmp_path_factory.mktemp("text") / "SZ01.xlsx", tickets)

    for engine in ("calamine", "openpyxl"):
        assert read_workbook(path, now=NOW, engine=engine).tickets == tickets


def test_text_that_looks_like_a_formula_is_stored_as_text_never_a_live_formula(tmp_path: Path) -> None:
    tickets = [full_ticket(n, description=text) for n, text in enumerate(TRICKY_TEXTS, 1)]
    path = save_filled(tmp_path / "SZ01.xlsx", tickets)

    with zipfile.ZipFile(path) as archive:
        sheet = archive.read(sheet_part(path, "投诉单")).decode()
    assert not re.search(r"<f[ >]", sheet)
    ws = load_workbook(path)["投诉单"]
    column = column_of(path, "投诉单", "问题描述")
    formula_like = [ws[f"{column}{row}"] for row in range(2, len(TRICKY_TEXTS) + 2)][:5]
    assert [c.value for c in formula_like] == ["=1+1", '=A2&"x"', "+86 138 0013 8000", "-5", "@SUM(A1)"]
    assert all(c.data_type == "s" and c.quotePrefix for c in formula_like)
    assert read_workbook(path, now=NOW).tickets == tickets


def test_control_characters_are_escaped_and_characters_no_spreadsheet_holds_become_replacement(
    tmp_path: Path,
) -> None:
    ticket = full_ticket(1, description="nul\x00 bell\x07 cr\r vt\x0b", expectation="lone \ud800 and \uffff")
    path = save_filled(tmp_path / "SZ01.xlsx", [ticket])

    back = read_workbook(path, now=NOW).tickets[0]

    assert back.description == "nul\x00 bell\x07 cr\r vt\x0b"
    assert back.expectation == f"lone {REPLACEMENT} and {REPLACEMENT}"


def test_times_are_written_as_local_times_of_the_branch_zone(tmp_path: Path) -> None:
    ticket = full_ticket(1, received_at=datetime(2026, 3, 2, 1, 10, tzinfo=UTC))
    shanghai = save_filled(tmp_path / "SZ01.xlsx", [ticket])
    tokyo = save_filled(tmp_path / "TK01.xlsx", [ticket], timezone="Asia/Tokyo")

    received = column_of(shanghai, "投诉单", "受理时间")
    assert load_workbook(shanghai)["投诉单"][f"{received}2"].value == datetime(2026, 3, 2, 9, 10)
    assert load_workbook(tokyo)["投诉单"][f"{received}2"].value == datetime(2026, 3, 2, 10, 10)
    back = read_workbook(tokyo, now=NOW)
    assert back.settings.timezone == "Asia/Tokyo"
    assert back.tickets[0].received_at == ticket.received_at
    assert back.tickets[0].received_at.tzinfo == ZoneInfo("Asia/Tokyo")


def test_a_pending_calendar_deadline_reads_back_as_pending(tmp_path: Path) -> None:
    ticket = full_ticket(1)
    path = save_filled(
        tmp_path / "SZ01.xlsx", [ticket], deadlines={ticket.sync_key: {"resolve_due": PENDING}}
    )

    cell = load_workbook(path)["投诉单"][f"{column_of(path, '投诉单', '处理时限')}2"].value
    assert cell == "待发布节假日"
    assert read_workbook(path, now=NOW).deadlines == {ticket.sync_key: {"resolve_due": PENDING}}


def test_writer_updates_rows_by_sync_key_appends_new_ones_and_keeps_the_others(tmp_path: Path) -> None:
    tickets = many_tickets(6)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets[:4])
    changed = dataclasses.replace(tickets[1], description="客户补充：白天也断线")

    report = write_workbook(path, path, tickets=[changed, *tickets[4:]])

    assert report.updated == {"tickets": 1} and report.appended == {"tickets": 2}
    assert read_workbook(path, now=NOW).tickets == [tickets[0], changed, tickets[2], tickets[3], *tickets[4:]]
    assert load_workbook(path)["投诉单"].tables["TicketsTable"].ref.endswith("7")


def test_a_ticket_without_deadlines_keeps_the_deadline_cells_it_has(tmp_path: Path) -> None:
    tickets = many_tickets(2)
    deadlines = {t.sync_key: {"ack_due": local(2026, 3, 3, 23, 59, 59)} for t in tickets}
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, deadlines=deadlines)

    write_workbook(path, path, tickets=[dataclasses.replace(tickets[0], place="新地点")])

    assert read_workbook(path, now=NOW).deadlines == deadlines


def test_a_row_typed_without_a_sync_key_gets_one_that_the_writer_writes_back(tmp_path: Path) -> None:
    path = save_template(tmp_path / "SZ01.xlsx")
    edit_cells(
        path,
        "投诉单",
        {"A2": "SZ01-20260302-0001", "B2": datetime(2026, 3, 2, 9, 10), "C2": "客服热线", "D2": "张先生"}
        | {"E2": "13800138000", "G2": "网络故障", "K2": "宽带每晚断线"},
    )

    first = read_workbook(path, now=NOW)
    (key,) = first.new_keys
    assert first.tickets[0].sync_key == key and first.rows == {key: 2}
    write_workbook(path, path, tickets=first.tickets, rows=first.rows)
    second = read_workbook(path, now=NOW)

    assert second.new_keys == set()
    assert second.tickets == first.tickets


def test_writer_keeps_the_users_own_columns_sheets_filters_and_formatting(tmp_path: Path) -> None:
    tickets = many_tickets(3)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets)
    book = load_workbook(path)
    ws = book["投诉单"]
    own = ws.max_column + 2  # a user column right of the table, after a gap
    ws.cell(1, own, "我的备注")
    ws.cell(2, own, "回头再打给他")
    ws.cell(3, own, "=LEN(K3)")
    ws["K2"].font = Font(bold=True, color="FF0000")
    ws.conditional_formatting.add(
        "A2:A100", CellIsRule(operator="equal", formula=['"X"'], fill=PatternFill())
    )
    ws.tables["TicketsTable"].autoFilter.add_filter_column(2, ["客服热线"])
    mine = book.create_sheet("我的统计")
    mine["A1"] = "=COUNTA(投诉单!A:A)-1"
    book.save(path)

    changed = dataclasses.replace(tickets[0], description="改过的描述")
    write_workbook(path, path, tickets=[changed, *many_tickets(1, start=50)])

    book = load_workbook(path)
    ws = book["投诉单"]
    assert ws.cell(2, own).value == "回头再打给他"
    assert ws.cell(3, own).value == "=LEN(K3)"
    assert ws["K2"].value == "改过的描述" and ws["K2"].font.bold and ws["K2"].font.color.rgb == "00FF0000"
    assert any(str(cf.sqref) == "A2:A100" for cf in ws.conditional_formatting)
    assert ws.tables["TicketsTable"].autoFilter.filterColumn[0].colId == 2
    assert ws.tables["TicketsTable"].ref.endswith("5")
    assert book["我的统计"]["A1"].value == "=COUNTA(投诉单!A:A)-1"
    assert read_workbook(path, now=NOW).tickets == [changed, *tickets[1:], *many_tickets(1, start=50)]


def test_writer_adds_back_an_optional_column_the_user_deleted(tmp_path: Path) -> None:
    path = save_filled(tmp_path / "SZ01.xlsx", many_tickets(2))
    book = load_workbook(path)
    ws = book["投诉单"]
    del ws.tables["TicketsTable"]
    ws.delete_cols(ws.max_column - 4, 5)  # … reopened_at, version, sync key; the user deleted them
    book.save(path)
    tickets = read_workbook(path, now=NOW).tickets

    write_workbook(path, path, tickets=tickets)

    assert read_workbook(path, now=NOW).tickets == tickets
    headers = [c.value for c in load_workbook(path)["投诉单"][1]]
    assert headers[-1] in ("同步键", "版本", "重新处理时间", "预警依据", "群体事件编号")


def test_writer_refuses_a_workbook_with_a_broken_header_and_writes_nothing(tmp_path: Path) -> None:
    path = save_template(tmp_path / "SZ01.xlsx")
    edit_cells(path, "投诉单", {"B1": "受理时问"})
    target = tmp_path / "out.xlsx"

    with pytest.raises(WorkbookError) as caught:
        write_workbook(path, target, tickets=many_tickets(1))

    assert "受理时间" in caught.value.problems[0].zh
    assert not target.exists()


def test_writing_a_naive_datetime_is_a_programming_error(tmp_path: Path) -> None:
    path = save_template(tmp_path / "SZ01.xlsx")
    ticket = dataclasses.replace(full_ticket(1), received_at=datetime(2026, 3, 2, 9, 10))
    with pytest.raises(ValueError, match="naive"):
        write_workbook(path, path, tickets=[ticket])


def test_bytes_and_file_objects_are_read_like_paths(tmp_path: Path) -> None:
    tickets = many_tickets(3)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets)
    with path.open("rb") as handle:
        assert read_workbook(handle, now=NOW).tickets == tickets
    assert read_workbook(path.read_bytes(), now=NOW).tickets == tickets


@pytest.mark.parametrize("write_only", [False, True])
def test_a_workbook_built_with_its_tickets_reads_back_equal(tmp_path: Path, write_only: bool) -> None:
    tickets = many_tickets(50)
    tasks, log, deadlines = tasks_for(tickets), log_for(tickets), some_deadlines(tickets)
    path = tmp_path / "SZ01.xlsx"
    build_workbook(
        "SZ01", tickets=tickets, tasks=tasks, log=log, deadlines=deadlines, write_only=write_only
    ).save(path)

    book = read_workbook(path, now=NOW)

    assert (book.tickets, book.tasks, book.log, book.deadlines) == (tickets, tasks, log, deadlines)
    assert load_workbook(path)["投诉单"].tables["TicketsTable"].ref.endswith("51")


def test_the_writer_keeps_the_sync_cursor_in_the_hidden_sheet(template_zh: Path) -> None:
    write_workbook(
        template_zh, template_zh, sync_state={"cursor": "1234", "last_sync": "2026-03-20T02:00:00Z"}
    )

    state = read_workbook(template_zh, now=NOW).sync_state

    assert state["cursor"] == "1234" and state["last_sync"] == "2026-03-20T02:00:00Z"
    assert state["schema_version"] == "1"
    assert load_workbook(template_zh)["_sync"].sheet_state == "hidden"


def test_the_writer_gives_back_a_drop_down_that_a_save_lost(tmp_path: Path) -> None:
    path = save_filled(tmp_path / "SZ01.xlsx", many_tickets(2))
    book = load_workbook(path)
    ws = book["投诉单"]
    department = column_of(path, "投诉单", "责任部门")
    ws.data_validations.dataValidation = [
        dv for dv in ws.data_validations.dataValidation if not str(dv.sqref).startswith(department)
    ]
    book.save(path)  # as openpyxl does with the department list when Excel saved it as an extension

    write_workbook(path, path, tickets=many_tickets(1))

    restored = [dv for dv in load_workbook(path)["投诉单"].data_validations.dataValidation]
    assert [dv.formula1 for dv in restored if str(dv.sqref).startswith(department)] == [
        "'分派规则'!$B$2:$B$201"
    ]


def test_the_writer_keeps_a_macro_enabled_workbooks_vba_project(tmp_path: Path) -> None:
    path = save_filled(tmp_path / "SZ01.xlsm", many_tickets(1))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 pretend VBA project")

    write_workbook(path, path, tickets=many_tickets(2))

    with zipfile.ZipFile(path) as archive:
        assert archive.read("xl/vbaProject.bin") == b"\xd0\xcf\x11\xe0 pretend VBA project"
    assert read_workbook(path, now=NOW).tickets == many_tickets(2)
