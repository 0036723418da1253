"""Printing the consolidated workbook: the KPI sheet on one page, ticket sheets one page wide."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from flask import Flask

from tests.server.consolidate.test_consolidated_workbook import build
from tests.server.test_workbook_printing import pages


def test_every_sheet_prints_a4_landscape_with_branches_period_and_page_numbers(loaded: Flask) -> None:
    data, summary = build(loaded, branches=("SZ01", "GZ01"))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    kpi = wb["KPI"]
    assert (kpi.page_setup.fitToWidth, kpi.page_setup.fitToHeight, kpi.page_setup.orientation) == (
        1,
        1,
        "landscape",
    )
    header = (kpi.oddHeader.left.text, kpi.oddHeader.right.text)
    assert header == ("SZ01, GZ01 · &A", "2026-11-01 – 2026-11-30")
    assert kpi.oddFooter.center.text == "第 &P 页，共 &N 页"
    for title in summary.titles[2:]:  # the ticket sheets, the appeal register, the staff sheet: tables
        ws = wb[title]
        assert ws.print_title_rows == "$1:$1"
        last_column = re.match(r"[A-Z]+", ws.auto_filter.ref.split(":")[1])[0]  # type: ignore[index]
        assert ws.print_area == f"'{title}'!$A$1:${last_column}${ws.max_row}"
        setup = ws.page_setup
        assert (setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (9, 1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage


@pytest.mark.libreoffice
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_kpi_sheet_prints_on_one_page(loaded: Flask, libreoffice, tmp_path: Path) -> None:  # noqa: ANN001
    data, _ = build(loaded)
    path = tmp_path / "consolidated.xlsx"
    path.write_bytes(data)

    printed = pages(libreoffice(path, "pdf"))

    kpi = [p for p in printed if "全部分公司 · KPI" in p]
    assert len(kpi) == 1 and "2026-11-01 – 2026-11-30" in kpi[0]
    assert "按分支机构" in kpi[0] or "SZ01" in kpi[0]
