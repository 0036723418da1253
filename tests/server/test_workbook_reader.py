"""Reading hand-edited branch workbooks: each problem named by sheet, row and column; no half import."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from complaints.enums import Channel, Level
from complaints.schema import TICKETS
from server.xlsx.errors import Problem, WorkbookError
from server.xlsx.grid import scan_formulas
from server.xlsx.reader import read_workbook
from tests.factories import local
from tests.server.workbook_factories import (
    NOW,
    edit_cells,
    full_ticket,
    many_tickets,
    rewrite_part,
    save_filled,
    save_template,
    sheet_part,
    tasks_for,
)

ENGINES = pytest.mark.parametrize("engine", ["calamine", "openpyxl"])


def col(key: str) -> str:
    return get_column_letter([c.key for c in TICKETS.columns].index(key) + 1)


def problems_of(path: Path, engine: str = "calamine") -> list[Problem]:
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, now=NOW, engine=engine)
    return caught.value.problems


def where(problem: Problem) -> tuple[str | None, int | None, str | None, str | None]:
    return problem.sheet, problem.row, problem.column, problem.header


def filled(tmp_path: Path, count: int = 5, lang: str = "zh") -> Path:
    return save_filled(tmp_path / "SZ01.xlsx", many_tickets(count), lang)


# --- columns ----------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "name"), [("zh", "受理渠道"), ("en", "Channel")])
def test_a_missing_required_column_is_named(tmp_path: Path, lang: str, name: str) -> None:
    path = filled(tmp_path, lang=lang)
    edit_cells(path, "投诉单" if lang == "zh" else "Tickets", {f"{col('channel')}1": None})

    (problem,) = problems_of(path)

    assert problem.header == name and problem.row == 1
    assert name in problem.text(lang)


def test_a_misspelt_column_is_reported_with_the_column_it_should_be(tmp_path: Path) -> None:
    path = filled(tmp_path)
    edit_cells(path, "投诉单", {"B1": "受理时问"})

    (problem,) = problems_of(path)

    assert where(problem) == ("投诉单", 1, "B", "受理时问")
    assert "受理时间" in problem.zh and "Received at" in problem.en


def test_a_column_given_twice_is_reported(tmp_path: Path) -> None:
    path = filled(tmp_path)
    edit_cells(path, "投诉单", {f"{col('place')}1": "客户姓名"})

    (problem,) = problems_of(path)

    assert where(problem) == ("投诉单", 1, col("place"), "客户姓名")
    assert "D" in problem.en


def test_the_users_own_columns_are_ignored(tmp_path: Path) -> None:
    tickets = many_tickets(3)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets)
    # two columns of the user's own, past the schema's (which grows: never pin their letters)
    mine, note = (get_column_letter(len(TICKETS.columns) + n) for n in (3, 4))
    edit_cells(
        path,
        "投诉单",
        {f"{mine}1": "我的备注", f"{mine}2": "=1/0", f"{note}1": "Status note", f"{note}3": 42},
    )

    assert read_workbook(path, now=NOW).tickets == tickets


@ENGINES
def test_columns_may_be_in_any_order_with_headers_in_either_language(tmp_path: Path, engine: str) -> None:
    book = Workbook()
    ws = book.active
    ws.title = "Tickets"
    ws.append(
        ["问题描述", "Customer name", "contact", "Category", "受理渠道", "Received at", "投诉编号", "Level"]
    )
    ws.append(
        [
            "宽带断线",
            "张先生",
            "13800138000",
            "网络故障",
            "hotline",
            datetime(2026, 3, 2, 9, 10),
            "X-1",
            "Red",
        ]
    )
    path = tmp_path / "hand-made.xlsx"
    book.save(path)

    (ticket,) = read_workbook(path, now=NOW, engine=engine).tickets

    assert ticket.ticket_id == "X-1" and ticket.channel is Channel.HOTLINE and ticket.level is Level.RED
    assert ticket.received_at == local(2026, 3, 2, 9, 10)


def test_a_workbook_without_a_tickets_sheet_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    book.active.title = "Sheet1"
    book.save(tmp_path / "other.xlsx")

    (problem,) = problems_of(tmp_path / "other.xlsx")

    assert "Sheet1" in problem.en and "投诉单" in problem.zh


# --- cells ------------------------------------------------------------------------------


@ENGINES
def test_wrong_types_are_reported_row_by_row_with_sheet_row_column_and_header(
    tmp_path: Path, engine: str
) -> None:
    path = filled(tmp_path)
    edit_cells(
        path,
        "投诉单",
        {
            f"{col('received_at')}3": "昨天上午",
            f"{col('level')}4": "紫",
            f"{col('media_exposure')}5": "也许",
            f"{col('objection_count')}6": "两次",
        },
    )

    problems = problems_of(path, engine)

    assert [where(p) for p in problems] == [
        ("投诉单", 3, col("received_at"), "受理时间"),
        ("投诉单", 4, col("level"), "预警等级"),
        ("投诉单", 5, col("media_exposure"), "媒体曝光"),
        ("投诉单", 6, col("objection_count"), "异议次数"),
    ]
    assert "不是日期时间" in problems[0].zh and "not a date and time" in problems[0].en
    assert "蓝、黄、红" in problems[1].zh and "Blue, Yellow, Red" in problems[1].en
    assert (
        problems[0].text("en").startswith(f"Sheet '投诉单', row 3, column {col('received_at')} (受理时间): ")
    )


def test_an_empty_required_cell_is_reported(tmp_path: Path) -> None:
    path = filled(tmp_path)
    edit_cells(path, "投诉单", {f"{col('description')}4": "   "})

    (problem,) = problems_of(path)

    assert where(problem) == ("投诉单", 4, col("description"), "问题描述")
    assert "empty" in problem.en


def test_duplicate_ticket_ids_are_reported_naming_the_first_row(tmp_path: Path) -> None:
    path = filled(tmp_path)
    first = load_workbook(path)["投诉单"]["A2"].value
    edit_cells(path, "投诉单", {"A5": first})

    (problem,) = problems_of(path)

    assert where(problem) == ("投诉单", 5, "A", "投诉编号")
    assert "row 2" in problem.en and first in problem.en


def test_a_copied_row_with_the_same_sync_key_is_reported(tmp_path: Path) -> None:
    path = filled(tmp_path)
    key = load_workbook(path)["投诉单"][f"{col('sync_key')}2"].value
    edit_cells(path, "投诉单", {f"{col('sync_key')}4": key})

    (problem,) = problems_of(path)

    assert where(problem)[:3] == ("投诉单", 4, col("sync_key"))


def test_events_in_the_future_are_reported_but_promises_may_lie_ahead(tmp_path: Path) -> None:
    path = filled(tmp_path)
    edit_cells(
        path,
        "投诉单",
        {
            f"{col('received_at')}3": datetime(2026, 3, 21, 8, 0),
            f"{col('promised_at')}3": datetime(2026, 4, 1),
        },
    )

    (problem,) = problems_of(path)

    assert where(problem) == ("投诉单", 3, col("received_at"), "受理时间")
    assert "2026-03-21 08:00" in problem.en and "future" in problem.en


def test_out_of_order_milestones_are_reported_by_the_lifecycle_rules(tmp_path: Path) -> None:
    ticket = full_ticket(
        1,
        received_at=local(2026, 3, 2, 9, 10),
        acknowledged_at=local(2026, 3, 2, 9, 30),
        plan_at=None,
        resolved_at=local(2026, 3, 5, 10, 0),
        feedback_at=local(2026, 3, 4, 10, 0),
        closed_at=None,
        revisited_at=None,
    )
    path = save_filled(tmp_path / "SZ01.xlsx", [ticket])

    (problem,) = problems_of(path)

    assert where(problem) == ("投诉单", 2, col("feedback_at"), "结果反馈时间")
    assert "feedback_at" in problem.en and "resolved_at" in problem.en


def test_every_problem_is_reported_at_once_and_nothing_is_half_imported(tmp_path: Path) -> None:
    path = filled(tmp_path, count=20)
    edit_cells(path, "投诉单", {f"{col('channel')}3": "信鸽", f"{col('channel')}19": "烽火台", "A21": None})

    problems = problems_of(path)

    assert [(p.row, p.column) for p in problems] == [(3, "C"), (19, "C"), (21, "A")]


@ENGINES
def test_a_formula_typed_into_a_text_cell_is_kept_as_its_text(tmp_path: Path, engine: str) -> None:
    path = filled(tmp_path, count=3)
    edit_cells(path, "投诉单", {f"{col('description')}2": '=A2&"x"', f"{col('description')}3": '=A3&"x"'})
    part = sheet_part(path, "投诉单")
    # fill down in Excel makes a shared formula: the second cell holds no text of its own
    rewrite_part(
        path,
        part,
        lambda xml: xml.replace(
            b'<f>A2&amp;"x"</f>', b'<f t="shared" ref="K2:K3" si="0">A2&amp;"x"</f>'
        ).replace(b'<f>A3&amp;"x"</f>', b'<f t="shared" si="0"/>'),
    )

    tickets = read_workbook(path, now=NOW, engine=engine).tickets

    assert [t.description for t in tickets[:2]] == ['=A2&"x"', '=A3&"x"']


def test_a_formula_in_a_date_column_is_reported_as_a_formula(tmp_path: Path) -> None:
    path = filled(tmp_path, count=2)
    edit_cells(path, "投诉单", {f"{col('received_at')}2": "=NOW()"})

    (problem,) = problems_of(path)

    assert where(problem)[:3] == ("投诉单", 2, col("received_at")) and "=NOW()" in problem.en


@pytest.mark.parametrize("typed", ["红", "Red", "red", " RED "])
def test_a_level_is_understood_as_a_label_in_either_language_or_the_code(tmp_path: Path, typed: str) -> None:
    path = filled(tmp_path, count=1)
    edit_cells(path, "投诉单", {f"{col('level')}2": typed})

    assert read_workbook(path, now=NOW).tickets[0].level is Level.RED


@pytest.mark.parametrize(
    ("typed", "meaning"),
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
        (True, True),
        ("FALSE", False),
        (1, True),
        (0, False),
    ],
)
def test_yes_no_cells_accept_the_usual_spellings(tmp_path: Path, typed: object, meaning: bool) -> None:
    path = filled(tmp_path, count=1)
    edit_cells(path, "投诉单", {f"{col('media_exposure')}2": typed})

    assert read_workbook(path, now=NOW).tickets[0].media_exposure is meaning


def test_numbers_and_dates_typed_into_text_cells_read_as_text(tmp_path: Path) -> None:
    path = filled(tmp_path, count=1)
    edit_cells(
        path,
        "投诉单",
        {f"{col('contact')}2": 13800138000, f"{col('problem_time')}2": datetime(2026, 3, 1, 20, 0)},
    )

    ticket = read_workbook(path, now=NOW).tickets[0]

    assert (ticket.contact, ticket.problem_time) == ("13800138000", "2026-03-01 20:00")


def test_dates_typed_as_text_are_understood(tmp_path: Path) -> None:
    path = filled(tmp_path, count=1)
    edit_cells(
        path, "投诉单", {f"{col('received_at')}2": "2026-03-02 09:10", f"{col('acknowledged_at')}2": None}
    )
    edit_cells(path, "投诉单", {f"{col('plan_at')}2": None, f"{col('resolved_at')}2": None})
    edit_cells(path, "投诉单", {f"{col('feedback_at')}2": None, f"{col('closed_at')}2": None})
    edit_cells(path, "投诉单", {f"{col('revisited_at')}2": None, f"{col('routed_at')}2": None})

    assert read_workbook(path, now=NOW).tickets[0].received_at == local(2026, 3, 2, 9, 10)


# --- other sheets -----------------------------------------------------------------------


def test_a_task_for_an_unknown_ticket_is_reported(tmp_path: Path) -> None:
    tickets = many_tickets(2)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, tasks=tasks_for(tickets))
    edit_cells(path, "任务", {"A3": "SZ01-20990101-0001"})

    (problem,) = problems_of(path)

    assert where(problem) == ("任务", 3, "A", "投诉编号") and "SZ01-20990101-0001" in problem.en


def test_an_unknown_time_zone_in_settings_is_reported(tmp_path: Path) -> None:
    path = save_template(tmp_path / "SZ01.xlsx")
    edit_cells(path, "设置", {"B5": "Mars/Olympus"})

    (problem,) = problems_of(path)

    assert where(problem) == ("设置", 5, "B", "值") and "Mars/Olympus" in problem.en


def test_an_empty_template_reads_as_no_tickets_with_the_default_routing(template_en: Path) -> None:
    book = read_workbook(template_en, now=NOW)

    assert book.tickets == [] and book.settings.language == "en"
    assert {r.department for r in book.routes} == {"网络部", "市场部", "服务管理部", "投诉管理岗"}
    assert book.sync_state["schema_version"] == "1"


# --- openpyxl's stale dimension trap ----------------------------------------------------


def test_a_stale_dimension_tag_does_not_hide_rows(tmp_path: Path) -> None:
    tickets = many_tickets(10)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets)
    rewrite_part(
        path,
        sheet_part(path, "投诉单"),
        lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', xml),
    )

    naive = load_workbook(path, read_only=True)
    assert len(list(naive["投诉单"].iter_rows(values_only=True))) == 1  # the trap this test guards against
    naive.close()
    for engine in ("calamine", "openpyxl"):
        assert read_workbook(path, now=NOW, engine=engine).tickets == tickets


# --- messages and formulas -------------------------------------------------------------------


def test_a_problem_reads_naturally_in_chinese_and_english() -> None:
    problem = Problem("not a date", "不是日期", sheet="投诉单", row=12, column="B", header="受理时间")

    assert problem.text("zh") == "工作表「投诉单」第 12 行 B 列（受理时间）：不是日期"
    assert problem.text("en") == "Sheet '投诉单', row 12, column B (受理时间): not a date"
    assert str(WorkbookError([problem] * 25)).count("\n") == 20


def test_formula_cells_are_found_with_or_without_cell_references(tmp_path: Path) -> None:
    sheet = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row><c t="inlineStr"><is><t>a</t></is></c><c><f>A1&amp;"x"</f><v>ax</v></c></row>'
        b'<row><c/><c><f t="shared" ref="B2:C5" si="0">A2+1</f><v>1</v></c></row>'
        b'<row r="5"><c r="C5"><f t="shared" si="0"/><v>1</v></c></row>'
        b"</sheetData></worksheet>"
    )
    with zipfile.ZipFile(tmp_path / "part.zip", "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    with zipfile.ZipFile(tmp_path / "part.zip") as archive:
        found = scan_formulas(archive, "xl/worksheets/sheet1.xml")

    assert found == {(1, 1): '=A1&"x"', (2, 1): "=A2+1", (5, 2): "=B5+1"}
