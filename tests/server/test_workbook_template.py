"""The branch workbook template: what a coordinator sees when opening a new workbook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from complaints.enums import Category, Channel, Level
from complaints.schema import SETTING_KEYS, TICKETS
from server import create_app
from server.xlsx import styles
from server.xlsx.cellformat import DATETIME_FORMAT, TEXT_FORMAT
from server.xlsx.template import build_workbook

REPO = Path(__file__).resolve().parents[2]


def letter(key: str) -> str:
    return get_column_letter([c.key for c in TICKETS.columns].index(key) + 1)


def validation_for(ws, ref: str):  # type: ignore[no-untyped-def]
    for dv in ws.data_validations.dataValidation:
        if ref in dv.sqref:
            return dv
    return None


def test_new_chinese_workbook_has_the_sheets_in_order_with_sync_bookkeeping_hidden(template_zh: Path) -> None:
    book = load_workbook(template_zh)
    sheets = ["投诉单", "任务", "日志", "分派规则", "设置", "冲突", "说明", "_sync"]
    assert book.sheetnames == sheets
    assert book.active.title == "投诉单"
    assert book["_sync"].sheet_state == "hidden"
    assert all(book[t].sheet_state == "visible" for t in book.sheetnames[:-1])


def test_new_english_workbook_has_english_titles_and_headers(template_en: Path) -> None:
    book = load_workbook(template_en)
    assert book.sheetnames[:7] == ["Tickets", "Tasks", "Log", "Routing", "Settings", "Conflicts", "Help"]
    headers = [c.value for c in book["Tickets"][1]]
    assert headers == TICKETS.headers("en")


def test_tickets_sheet_is_an_excel_table_over_every_schema_column(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    table = ws.tables["TicketsTable"]
    assert table.ref == f"A1:{get_column_letter(len(TICKETS.columns))}2"
    assert [c.name for c in table.tableColumns] == TICKETS.headers("zh")
    assert [c.value for c in ws[1]] == TICKETS.headers("zh")


def test_header_is_frozen_and_columns_have_the_schema_widths_and_hidden_flags(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions[letter("description")].width == 40
    assert ws.column_dimensions[letter("sync_key")].hidden
    assert ws.column_dimensions[letter("version")].hidden
    assert not ws.column_dimensions[letter("ticket_id")].hidden


def test_date_columns_show_dates_and_text_columns_keep_typed_digits_as_text(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    assert ws.column_dimensions[letter("received_at")].number_format == DATETIME_FORMAT
    assert ws.column_dimensions[letter("contact")].number_format == TEXT_FORMAT
    assert ws[f"{letter('received_at')}2"].number_format == DATETIME_FORMAT


def test_enum_columns_offer_their_labels_in_a_drop_down(template_zh: Path, template_en: Path) -> None:
    zh = load_workbook(template_zh)["投诉单"]
    channel = validation_for(zh, f"{letter('channel')}2")
    assert channel.type == "list"
    assert channel.formula1 == '"' + ",".join(c.zh for c in Channel) + '"'
    level = validation_for(zh, f"{letter('level')}2")
    assert level.formula1 == '"蓝,黄,红"'
    media = validation_for(zh, f"{letter('media_exposure')}2")
    assert media.formula1 == '"是,否"'
    en = load_workbook(template_en)["Tickets"]
    category = validation_for(en, f"{letter('category')}2")
    assert category.formula1 == '"' + ",".join(c.en for c in Category) + '"'
    assert validation_for(en, f"{letter('media_exposure')}2").formula1 == '"Y,N"'


def test_department_drop_down_lists_the_routing_sheet(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    department = validation_for(ws, f"{letter('department')}2")
    assert department.formula1 == "'分派规则'!$B$2:$B$201"


def test_drop_downs_reach_rows_typed_below_the_table(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    assert validation_for(ws, f"{letter('channel')}5000") is not None


def test_computed_columns_have_no_drop_down(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    assert validation_for(ws, f"{letter('status')}2") is None


def test_level_conditional_formats_colour_the_typed_columns_red_yellow_and_blue(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    level = f"${letter('level')}2"
    found = {}
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            for lv in Level:
                if rule.formula == [f'OR({level}="{lv.zh}",{level}="{lv.value}")']:
                    found[lv] = (str(cf.sqref), rule.dxf.fill.fgColor.rgb)
    typed_end = letter([c.key for c in TICKETS.columns if not c.computed][-1])
    assert found == {
        Level.RED: (f"A2:{typed_end}1048576", "00FFC7CE"),
        Level.YELLOW: (f"A2:{typed_end}1048576", "00FFEB9C"),
        Level.BLUE: (f"A2:{typed_end}1048576", "00DDEBF7"),
    }


def test_each_overdue_flag_marks_its_deadline_cell_and_the_flags_cell(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    rules = {str(cf.sqref): [r.formula[0] for r in cf.rules] for cf in ws.conditional_formatting}
    plan = f"{letter('plan_due')}2:{letter('plan_due')}1048576"
    assert any(",PLAN_OVERDUE," in f for f in rules[plan])
    flags = rules[f"{letter('flags')}2:{letter('flags')}1048576"]
    assert len(flags) == 1 and ",APPEAL_RISK," in flags[0] and ",ACK_OVERDUE," in flags[0]
    assert ",APPEAL_RISK_SOON," not in flags[0]
    for key in styles.OVERDUE_DEADLINE.values():
        assert f"{letter(key)}2:{letter(key)}1048576" in rules


def test_computed_columns_are_grey_with_a_header_note_and_the_sheet_is_not_protected(
    template_zh: Path,
) -> None:
    ws = load_workbook(template_zh)["投诉单"]
    status = ws[f"{letter('status')}1"]
    assert status.fill.fgColor.rgb == "00" + styles.COMPUTED_HEADER_FILL
    assert "自动计算" in status.comment.text
    assert ws.column_dimensions[letter("status")].fill.fgColor.rgb == "00" + styles.COMPUTED_FILL
    assert ws[f"{letter('description')}1"].comment is None
    assert not ws.protection.sheet


def test_routing_sheet_is_prefilled_with_the_default_routing_table(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["分派规则"]
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["网络故障"] == "网络部"
    assert rows["资费争议"] == "市场部"
    assert rows["服务态度"] == "服务管理部"
    assert rows["其他"] == "投诉管理岗"


def test_settings_sheet_holds_branch_server_language_and_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "HK01.xlsx"
    build_workbook("HK01", "en", server_url="https://desk.example", timezone="Asia/Hong_Kong").save(path)
    ws = load_workbook(path)["Settings"]
    values = {r[2]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert values == {
        "branch": "HK01",
        "server_url": "https://desk.example",
        "language": "en",
        "timezone": "Asia/Hong_Kong",
    }
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == [en for _, _, en in SETTING_KEYS]


def test_help_sheet_explains_the_colours_and_lists_every_flag(template_zh: Path) -> None:
    ws = load_workbook(template_zh)["说明"]
    text = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("灰色列" in t for t in text)
    assert "ACK_OVERDUE" in text and "APPEAL_RISK" in text


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        build_workbook("SZ01", "fr")


def test_cli_makes_a_workbook(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    out = tmp_path / "SZ02.xlsx"
    result = app.test_cli_runner().invoke(
        args=["workbook", "new", "--branch", "SZ02", "--lang", "en", "-o", out]
    )
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames[0] == "Tickets"
    again = app.test_cli_runner().invoke(args=["workbook", "new", "--branch", "SZ02", "-o", out])
    assert again.exit_code != 0 and "--force" in again.output


def test_the_documented_flask_command_works(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "flask", "--app", "server", "workbook", "new"]
    done = subprocess.run(
        [*command, "--branch", "SZ01", "--lang", "zh", "-o", str(tmp_path / "SZ01.xlsx")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert load_workbook(tmp_path / "SZ01.xlsx").sheetnames[0] == "投诉单"


def test_cli_checks_a_workbook_and_lists_its_problems(tmp_path: Path, template_zh: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    good = app.test_cli_runner().invoke(args=["workbook", "check", str(template_zh)])
    assert good.exit_code == 0 and "no problems" in good.output

    book = load_workbook(template_zh)
    book["投诉单"]["B1"] = "受理时问"
    book.save(template_zh)
    bad = app.test_cli_runner().invoke(args=["workbook", "check", str(template_zh)])
    assert bad.exit_code != 0 and "受理时问" in bad.output
