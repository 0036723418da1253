"""Printing the branch workbook: one page wide, its header on every page; the one-page complaint form."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaints.periods import Period
from complaints.schema import TICKETS
from tests.server.conftest import Convert
from tests.server.workbook_factories import many_tickets, save_filled, save_template, some_deadlines

LAST_PRINTED = TICKETS.column("reopened_at").header("zh")
"""The Tickets sheet's last column that is not hidden."""


def pages(pdf: Path) -> list[str]:
    """The text of each page of ``pdf``."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    return text.stdout.split("\f")[:-1]


def test_every_sheet_of_a_new_workbook_prints_a4_landscape_one_page_wide(tmp_path: Path) -> None:
    book = load_workbook(save_template(tmp_path / "SZ01.xlsx"))
    for title in ("投诉单", "任务", "日志", "分派规则", "冲突"):
        ws = book[title]
        setup = ws.page_setup
        page = (setup.paperSize, setup.orientation, setup.fitToWidth, setup.fitToHeight)
        assert page == (9, "landscape", 1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
        assert ws.oddHeader.left.text == "SZ01 · &A" and ws.oddFooter.center.text == "第 &P 页，共 &N 页"


def test_the_writer_keeps_the_print_setup(tmp_path: Path) -> None:
    book = load_workbook(save_filled(tmp_path / "SZ01.xlsx", many_tickets(3)))
    ws = book["投诉单"]
    assert (ws.page_setup.fitToWidth, ws.print_title_rows, ws.oddHeader.left.text) == (
        1,
        "$1:$1",
        "SZ01 · &A",
    )


@pytest.mark.libreoffice
def test_a_branch_workbook_of_1000_tickets_prints_its_tickets_on_few_pages_none_cut(
    tmp_path: Path, libreoffice: Convert
) -> None:
    tickets = many_tickets(1000)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, deadlines=some_deadlines(tickets))

    printed = [p for p in pages(libreoffice(path, "pdf")) if "SZ01 · 投诉单" in p]

    assert 1 < len(printed) <= 5
    for number, page in enumerate(printed, 1):
        # one page wide: every page holds the first and the last column, under the repeated header row
        assert "投诉编号" in page and LAST_PRINTED in page
        assert re.search(rf"第 {number} 页，共 \d+ 页", page)  # of the whole workbook, its first sheet
    assert tickets[0].ticket_id in printed[0]


def page_counts(pdf: Path) -> Counter[str]:
    """Pages per sheet of an exported workbook, by the page header's left part."""
    return Counter(page.strip().splitlines()[0].split("  ")[0].strip() for page in pages(pdf))


def convert(path: Path, work: Path) -> Path:
    soffice = shutil.which("soffice") or "soffice"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{work}/profile", "--headless", "--convert-to", "pdf"]
        + ["--outdir", str(work), str(path)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return path.with_suffix(".pdf")


def picture(pdf: Path, page: int, png: Path) -> None:
    """Page ``page`` of ``pdf`` as ``png`` at 60 dpi (pdftoppm)."""
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", str(page), "-l", str(page), "-singlefile", str(pdf)]
        + [str(png.with_suffix(""))],
        check=True,
    )


def main(docs: Path) -> None:
    """Print the page counts of a 1,000-ticket branch workbook and of a consolidated one; draw pages."""
    from server import create_app
    from server.services import demo
    from server.services.consolidated import ConsolidateOptions, build_consolidated
    from server.storage.db import get_db
    from tests.server.api.conftest import NOW

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tickets = many_tickets(1000)
        branch = save_filled(work / "SZ01.xlsx", tickets, deadlines=some_deadlines(tickets))
        pdf = convert(branch, work)
        print("branch workbook, 1,000 tickets:", dict(page_counts(pdf)))
        picture(pdf, 1, docs / "print-tickets.png")

        app = create_app({"DATABASE_URL": f"sqlite:///{work / 'demo.db'}", "CLOCK": lambda: NOW})
        with app.app_context():
            get_db().upgrade()
            demo.load(120)
            options = ConsolidateOptions(None, Period.month(2026, 11), generated_at=NOW, workers=0)
            with (work / "hq.xlsx").open("wb") as target:
                build_consolidated(get_db(), target, options)
            get_db().dispose()
        pdf = convert(work / "hq.xlsx", work)
        print("consolidated workbook, demo data (3 branches × 120):", dict(page_counts(pdf)))
        picture(pdf, 1, docs / "print-kpi.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "docs")
