"""A real spreadsheet application opens, colours and saves our workbooks (headless LibreOffice).

Skipped when soffice is missing, unless REQUIRE_LIBREOFFICE is set (CI), see conftest.py.

Run as a script to refresh the README picture of the Tickets sheet:
``python -m tests.server.test_workbook_libreoffice docs/tickets-sheet.png``
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from complaints.enums import Category, Channel, Flag, Grade, Level, Status
from complaints.model import Ticket
from complaints.schema import TICKETS
from server.xlsx.reader import read_workbook
from server.xlsx.styles import LEVEL_FILL, OVERDUE_CELL_FILL
from server.xlsx.writer import write_workbook
from tests.factories import local
from tests.server.conftest import Convert
from tests.server.workbook_factories import (
    NOW,
    edit_cells,
    log_for,
    many_tickets,
    save_filled,
    save_template,
    some_deadlines,
    tasks_for,
)

pytestmark = pytest.mark.libreoffice
REPO = Path(__file__).resolve().parents[2]
SHOWN = (
    "ticket_id",
    "received_at",
    "channel",
    "customer_name",
    "category",
    "description",
    "grade",
    "level",
    "department",
    "status",
    "flags",
    "ack_due",
    "plan_due",
)
"""Columns shown in the README picture; the others are hidden in the picture's copy only."""


def col(key: str) -> str:
    return get_column_letter([c.key for c in TICKETS.columns].index(key) + 1)


def first_page_pixels(pdf: Path, dpi: int = 40) -> Counter[str]:
    """Colour counts ("RRGGBB") of the PDF's first page, rendered by pdftoppm as a binary PPM."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", str(pdf), f"{out}/page"],
            check=True,
            timeout=120,
        )
        data = next(Path(out).glob("page*.ppm")).read_bytes()
    magic, width, height, _maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P6"
    size = int(width) * int(height) * 3
    raw = pixels[:size]
    return Counter(raw[i : i + 3].hex().upper() for i in range(0, size, 3))


def as_libreoffice_saves_it(ticket: Ticket) -> Ticket:
    """LibreOffice turns a Windows line break (CR LF) in a cell into a line feed; nothing else changes."""
    changes = {
        f.name: value.replace("\r\n", "\n")
        for f in dataclasses.fields(ticket)
        if isinstance(value := getattr(ticket, f.name), str) and "\r\n" in value
    }
    return dataclasses.replace(ticket, **changes)


def test_libreoffice_turns_windows_line_breaks_into_line_feeds_and_keeps_other_text(
    tmp_path: Path, libreoffice: Convert
) -> None:
    texts = ["line one\r\nline two", "lone\rcarriage return", "=1+1", "nul\x00", "_x000D_ literal"]
    tickets = [dataclasses.replace(t, description=d) for t, d in zip(many_tickets(5), texts, strict=True)]

    saved = libreoffice(save_filled(tmp_path / "SZ01.xlsx", tickets), "xlsx")

    back = [t.description for t in read_workbook(saved, now=NOW).tickets]
    assert back == ["line one\nline two", *texts[1:]]


def test_libreoffice_saves_a_workbook_that_reads_back_equal(tmp_path: Path, libreoffice: Convert) -> None:
    tickets = many_tickets(200)
    tasks, log, deadlines = tasks_for(tickets), log_for(tickets), some_deadlines(tickets)
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, tasks=tasks, log=log, deadlines=deadlines)

    saved = libreoffice(path, "xlsx")

    for engine in ("calamine", "openpyxl"):
        book = read_workbook(saved, now=NOW, engine=engine)
        assert book.tickets == [as_libreoffice_saves_it(t) for t in tickets]
        assert (book.tasks, book.log, book.deadlines) == (tasks, log, deadlines)
        assert book.settings.branch == "SZ01"


def test_an_english_workbook_survives_libreoffice_too(tmp_path: Path, libreoffice: Convert) -> None:
    tickets = many_tickets(20, start=500)
    path = save_filled(tmp_path / "SZ01-en.xlsx", tickets, "en")

    book = read_workbook(libreoffice(path, "xlsx"), now=NOW)

    assert book.tickets == [as_libreoffice_saves_it(t) for t in tickets]
    assert book.settings.language == "en"


def test_the_writer_updates_a_workbook_saved_by_libreoffice(tmp_path: Path, libreoffice: Convert) -> None:
    tickets = many_tickets(30)
    saved = libreoffice(save_filled(tmp_path / "SZ01.xlsx", tickets), "xlsx")
    changed = [dataclasses.replace(as_libreoffice_saves_it(t), place="已核实") for t in tickets[:5]]

    report = write_workbook(saved, saved, tickets=[*changed, *many_tickets(2, start=900)])

    assert report.updated == {"tickets": 5} and report.appended == {"tickets": 2}
    expected = [as_libreoffice_saves_it(t) for t in tickets]
    expected[:5] = changed
    expected += many_tickets(2, start=900)
    assert read_workbook(saved, now=NOW).tickets == expected
    assert read_workbook(libreoffice(saved, "xlsx"), now=NOW).tickets == expected


def test_a_formula_typed_by_a_person_is_read_as_its_text_after_libreoffice_calculates_it(
    tmp_path: Path, libreoffice: Convert
) -> None:
    path = save_filled(tmp_path / "SZ01.xlsx", many_tickets(2))
    edit_cells(path, "投诉单", {f"{col('description')}2": '=A2&"x"'})

    saved = libreoffice(path, "xlsx")

    cached = load_workbook(saved, data_only=True)["投诉单"][f"{col('description')}2"].value
    assert cached.endswith("x") and cached.startswith("SZ01-")  # LibreOffice stored the computed value
    for engine in ("calamine", "openpyxl"):
        assert read_workbook(saved, now=NOW, engine=engine).tickets[0].description == '=A2&"x"'


def test_a_hand_typed_warning_level_recolours_its_row(tmp_path: Path, libreoffice: Convert) -> None:
    path = save_template(tmp_path / "SZ01.xlsx")
    level = col("level")
    edit_cells(
        path,
        "投诉单",
        {"A2": "typed red", f"{level}2": "红", "A3": "typed yellow", f"{level}3": "yellow"}
        | {"A4": "typed blue", f"{level}4": "Blue", f"{col('flags')}4": "ACK_OVERDUE, NO_PROGRESS"},
    )

    # the sheet prints one page wide, so its rows are small: look closely
    colours = first_page_pixels(libreoffice(path, "pdf"), dpi=200)

    for lv in (Level.RED, Level.YELLOW, Level.BLUE):
        assert colours[LEVEL_FILL[lv]] > 100, f"no {lv.en} fill on the rendered page"


# --- the README picture -------------------------------------------------------------------


def demo_tickets() -> tuple[list[Ticket], dict[str, dict[str, object]]]:
    """Realistic tickets from data/sample_complaints.csv, in every level, some overdue."""
    with (REPO / "data" / "sample_complaints.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [
        "张先生",
        "李女士",
        "王先生",
        "赵女士",
        "陈先生",
        "刘女士",
        "周先生",
        "吴女士",
        "郑先生",
        "孙女士",
    ]
    levels = [
        Level.RED,
        Level.YELLOW,
        Level.YELLOW,
        Level.BLUE,
        Level.BLUE,
        Level.BLUE,
        Level.BLUE,
        Level.RED,
    ]
    flags = [
        {Flag.PLAN_OVERDUE, Flag.APPEAL_RISK_SOON},
        {Flag.ACK_OVERDUE},
        set(),
        {Flag.ACK_DUE_SOON},
        set(),
        {Flag.INFO_INCOMPLETE},
        {Flag.REVISIT_DUE},
        {Flag.PLAN_OVERDUE},
    ]
    statuses = [Status.INVESTIGATING, Status.NEW, Status.EXECUTING, Status.NEW, Status.RESOLVED]
    statuses += [Status.ACKNOWLEDGED, Status.CLOSED, Status.INVESTIGATING]
    tickets, deadlines = [], {}
    for n, (row, level) in enumerate(zip(rows[::3], levels, strict=False)):
        received = local(2026, 3, 2, 9, 10) + timedelta(hours=5 * n)
        ticket = Ticket(
            ticket_id=f"SZ01-{received:%Y%m%d}-{n + 1:04d}",
            received_at=received,
            channel=Channel.parse({"website": "app"}.get(row["channel"], row["channel"])),
            customer_name=names[n],
            contact="138" + f"{n:08d}",
            category=Category.parse(
                {"service_attitude": "staff_attitude"}.get(row["category"], row["category"])
            ),
            place=row["place"],
            description=row["description"],
            expectation=row["expectation"],
            grade=[Grade.MAJOR, Grade.MODERATE, Grade.MINOR][n % 3],
            level=level,
            department={"network_fault": "网络部", "billing_dispute": "市场部"}.get(
                row["category"], "服务管理部"
            ),
            status=statuses[n],
            flags=frozenset(flags[n]),
        )
        tickets.append(ticket)
        end = received.replace(hour=23, minute=59, second=59)
        deadlines[ticket.sync_key] = {"ack_due": end + timedelta(days=1), "plan_due": end + timedelta(days=3)}
    return tickets, deadlines


def show_key_columns(path: Path, rows: int) -> None:
    """Hide all but the SHOWN columns and fit them on one landscape page (a copy for pictures only)."""
    book = load_workbook(path)
    ws = book["投诉单"]
    for column in TICKETS.columns:
        ws.column_dimensions[col(column.key)].hidden = column.key not in SHOWN
    ws.column_dimensions[col("description")].width = 46
    ws.column_dimensions[col("flags")].width = 38
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_area = f"A1:{col('sync_key')}{rows + 1}"
    for other in book.worksheets[1:]:
        other.sheet_state = "hidden"
    book.save(path)


def content_box(pdf: Path, dpi: int) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the non-white area of the PDF's first page at ``dpi``."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", str(pdf), f"{out}/p"], check=True)
        data = next(Path(out).glob("p*.ppm")).read_bytes()
    _magic, width, height, _maxval, pixels = data.split(maxsplit=4)
    w, h = int(width), int(height)
    lines = [pixels[y * w * 3 : (y + 1) * w * 3] for y in range(h)]
    rows = [y for y, line in enumerate(lines) if line.strip(b"\xff")]
    left = min((len(lines[y]) - len(lines[y].lstrip(b"\xff"))) // 3 for y in rows)
    right = max(len(lines[y].rstrip(b"\xff")) // 3 for y in rows)
    margin = dpi // 10
    x0, y0 = max(left - margin, 0), max(rows[0] - margin, 0)
    return x0, y0, min(right + margin, w) - x0, min(rows[-1] + margin, h) - y0


def render_tickets_sheet(png: Path, dpi: int = 150) -> None:
    """Render the demo workbook's Tickets sheet, key columns only, cropped, to ``png`` (soffice, pdftoppm)."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "SZ01.xlsx"
        tickets, deadlines = demo_tickets()
        save_filled(path, tickets, deadlines=deadlines)  # type: ignore[arg-type]
        show_key_columns(path, len(tickets))
        soffice = shutil.which("soffice") or "soffice"
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{work}/profile", "--headless", "--convert-to", "pdf"]
            + ["--outdir", work, str(path)],
            check=True,
            capture_output=True,
            timeout=180,
        )
        pdf = Path(work) / "SZ01.pdf"
        x, y, w, h = content_box(pdf, dpi)
        crop = ["-x", str(x), "-y", str(y), "-W", str(w), "-H", str(h)]
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                str(dpi),
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                *crop,
                str(pdf),
                f"{work}/page",
            ],
            check=True,
            timeout=120,
        )
        shutil.copyfile(f"{work}/page.png", png)


def test_the_demo_sheet_shows_level_colours_and_overdue_marks(tmp_path: Path, libreoffice: Convert) -> None:
    tickets, deadlines = demo_tickets()
    path = save_filled(tmp_path / "SZ01.xlsx", tickets, deadlines=deadlines)  # type: ignore[arg-type]
    show_key_columns(path, len(tickets))

    colours = first_page_pixels(libreoffice(path, "pdf"), dpi=60)

    assert colours[LEVEL_FILL[Level.RED]] > 100 and colours[LEVEL_FILL[Level.YELLOW]] > 100
    assert colours[OVERDUE_CELL_FILL] > 20, "an overdue plan deadline is not marked"


if __name__ == "__main__":
    render_tickets_sheet(Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "docs" / "tickets-sheet.png"))
