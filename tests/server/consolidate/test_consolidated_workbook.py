"""The consolidated workbook built from the database: sheets, figures, masking, formulas, splitting."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from flask import Flask
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from complaints.kpis import Kpis
from complaints.periods import Period
from server.services.analysis import analyse
from server.services.consolidated import ConsolidateOptions, Summary, build_consolidated
from server.storage.db import get_db
from server.storage.models import tickets_table
from server.storage.selections import selection_clause
from server.xlsx.cellformat import looks_like_formula
from server.xlsx.consolidate import KPI_COLUMNS, KPI_TITLE, TICKET_SHEETS, ticket_columns
from tests.server.consolidate.conftest import NOW, TRICKY

LAST = get_column_letter(len(ticket_columns("zh", show_phones=False)))
"""The last column of a ticket sheet (the Tickets sheet grows: never pin its letter)."""

NOVEMBER = Period.month(2026, 11)
PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?!\d)")  # not inside a serial number


def build(app: Flask, **options: object) -> tuple[bytes, Summary]:
    values: dict[str, object] = {"branches": None, "period": NOVEMBER, "generated_at": NOW, "workers": 0}
    values.update(options)
    target = io.BytesIO()
    with app.app_context():
        summary = build_consolidated(get_db(), target, ConsolidateOptions(**values))  # type: ignore[arg-type]
    return target.getvalue(), summary


def ticket_sheets(data: bytes, summary: Summary) -> dict[str, str]:
    """Sheet XML of the streamed ticket sheets, by title."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {
            title: z.read(f"xl/worksheets/sheet{n}.xml").decode()
            for n, title in enumerate(summary.titles, 1)
            if n > 2
        }


def test_kpi_sheet_shows_the_figures_of_the_analysis_the_dashboard_uses(loaded: Flask) -> None:
    data, summary = build(loaded, lang="en")
    with loaded.app_context(), get_db().read() as session:
        expected = analyse(session, None, NOVEMBER)
    ws = openpyxl.load_workbook(io.BytesIO(data))[KPI_TITLE["en"]]
    rows = {r[0].value: [c.value for c in r[1:]] for r in ws.iter_rows() if r[0].value}

    def check(name: str, kpis: Kpis) -> None:
        for figure, value in zip(KPI_COLUMNS, rows[name], strict=False):
            want = figure.value(kpis)
            assert value == (pytest.approx(want) if isinstance(want, float) else want), (name, figure.key)

    check("Overall", expected.kpis.overall)
    assert set(expected.kpis.by_branch) == {"SZ01", "GZ01", "FS01"}
    for code, kpis in expected.kpis.by_branch.items():
        check(code, kpis)
    for department, kpis in expected.kpis.by_department.items():
        check(department or "Unrouted", kpis)
    assert expected.kpis.overall.received + expected.kpis.overall.cancelled == summary.rows["all"] > 0


def test_workbook_has_every_sheet_with_frozen_header_filter_and_level_fills(loaded: Flask) -> None:
    data, summary = build(loaded, branches=("SZ01", "GZ01"))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [
        "KPI",
        "月度分析",
        "全部投诉",
        "超时投诉",
        "红黄预警",
        "待回访",
        "培训案例",
        "申诉登记",
        "人员考核",
    ]
    analysis_sheet = wb["月度分析"]
    assert len(analysis_sheet._charts) == 4  # types, root causes, fishbone, trends
    ws = wb["全部投诉"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["分支机构", "投诉编号", "受理时间"]
    assert "同步键" not in header and "版本" not in header and "预警依据" not in header
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref == f"A1:{LAST}{summary.rows['all'] + 1}"
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in rows} == {"SZ01", "GZ01"}
    level = header.index("预警等级")
    fills = {"红": "00FFC7CE", "黄": "00FFEB9C", "蓝": "00DDEBF7"}
    for row in ws.iter_rows(min_row=2):
        assert {c.fill.fgColor.rgb for c in row} == {fills[row[level].value]}
    warning = wb["红黄预警"]
    assert {r[level] for r in warning.iter_rows(min_row=2, values_only=True)} <= {"红", "黄"}


def test_dates_are_excel_dates_in_the_branch_time_zone(loaded: Flask) -> None:
    data, _ = build(loaded)
    ws = openpyxl.load_workbook(io.BytesIO(data))["全部投诉"]
    header = [c.value for c in ws[1]]
    received = ws.cell(2, header.index("受理时间") + 1)
    assert received.is_date and received.number_format == "yyyy-mm-dd hh:mm"
    with loaded.app_context(), get_db().read() as session:
        stored = session.execute(
            select(tickets_table.c.received_at).where(tickets_table.c.ticket_id == ws.cell(2, 2).value)
        ).scalar_one()
    assert received.value == stored.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)


def test_masked_export_holds_no_full_phone_number_and_admin_export_shows_them(loaded: Flask) -> None:
    masked, summary = build(loaded)
    assert not any(PHONE.search(xml) for xml in ticket_sheets(masked, summary).values())
    ws = openpyxl.load_workbook(io.BytesIO(masked))["全部投诉"]
    contact = [c.value for c in ws[1]].index("联系电话") + 1
    assert all(re.fullmatch(r"1\d\d\*{4}\d{4}", ws.cell(r, contact).value) for r in range(2, ws.max_row + 1))
    shown, summary = build(loaded, show_phones=True)
    assert (
        sum(len(PHONE.findall(xml)) for xml in ticket_sheets(shown, summary).values()) >= summary.rows["all"]
    )


def test_ticket_text_never_becomes_a_formula(loaded: Flask) -> None:
    data, summary = build(loaded)
    for title, xml in ticket_sheets(data, summary).items():
        assert "<f>" not in xml and "<f " not in xml, title
    wb = openpyxl.load_workbook(io.BytesIO(data))
    descriptions = [
        c.value for c in wb["全部投诉"]["L"] if isinstance(c.value, str) and looks_like_formula(c.value)
    ]
    assert TRICKY["SZ01"] in descriptions
    assert all(c.data_type == "s" for c in wb["全部投诉"]["L"])
    # calamine decodes the _xHHHH_ escapes as Excel does: the text comes back exactly
    values = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("全部投诉").to_python()
    texts = {row[11] for row in values[1:]}
    assert set(TRICKY.values()) <= texts


def test_sheets_split_before_the_row_limit_and_every_part_has_the_header(loaded: Flask) -> None:
    data, summary = build(loaded, row_limit=6, chunk_rows=2)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    parts = [t for t in wb.sheetnames if t.startswith("全部投诉")]
    assert parts[:3] == ["全部投诉", "全部投诉 (2)", "全部投诉 (3)"]
    rows = 0
    for title in parts:
        ws = wb[title]
        assert 2 <= ws.max_row <= 6
        assert ws.cell(1, 2).value == "投诉编号"
        assert ws.auto_filter.ref == f"A1:{LAST}{ws.max_row}"
        rows += ws.max_row - 1
    assert rows == summary.rows["all"]
    ids = [wb[t].cell(r, 2).value for t in parts for r in range(2, wb[t].max_row + 1)]
    assert ids == sorted(ids)  # by branch code, then ticket id


def test_worker_processes_write_the_same_sheets_as_one_process(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one database is enough to compare the two paths")
    loaded = request.getfixturevalue("loaded")
    alone, summary = build(loaded, workers=0, chunk_rows=7)
    pooled, _ = build(loaded, workers=2, chunk_rows=7)
    assert ticket_sheets(alone, summary) == ticket_sheets(pooled, summary)


@pytest.mark.libreoffice
def test_libreoffice_opens_the_workbook_without_repair(
    database_url: str,
    request: pytest.FixtureRequest,
    libreoffice,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the package does not depend on the database")
    loaded = request.getfixturevalue("loaded")
    data, summary = build(loaded, lang="en", row_limit=30, chunk_rows=10)
    path = tmp_path / "consolidated.xlsx"
    path.write_bytes(data)
    converted = libreoffice(path, "xlsx")
    wb = openpyxl.load_workbook(converted)
    assert wb.sheetnames == summary.titles
    assert wb["All tickets"].max_row == 30


def test_each_ticket_sheet_holds_exactly_the_tickets_its_sql_condition_selects(loaded: Flask) -> None:
    # the other sheets are taken from the All sheet's rows as they are read: they must match the SQL filter
    data, summary = build(loaded, lang="en", workers=0)
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    t = tickets_table.c
    with loaded.app_context(), get_db().read() as session:
        for spec in TICKET_SHEETS:
            start, end = NOVEMBER.bounds("Asia/Shanghai")
            stmt = select(t.ticket_id).where(t.received_at >= start, t.received_at < end)
            stmt = stmt.where(selection_clause(spec.selection))
            expected = sorted(session.scalars(stmt))
            shown = [r[1] for r in wb[spec.en].iter_rows(min_row=2, values_only=True)]
            assert sorted(shown) == expected, spec.key
            assert summary.rows[spec.key] == len(expected)
    assert all(summary.rows.values())  # the demo data has tickets in every sheet
    wb.close()
