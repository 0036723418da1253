"""Branch workbooks for the macro tests, and reading back what the coordinator sees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from complaints.cells import write_cell
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import SETTINGS, TICKETS, Sheet
from server.xlsx.reader import BranchWorkbook, read_workbook
from tests.factories import SHANGHAI, local, make_ticket
from tests.server.workbook_factories import save_filled, save_template

NOW = local(2026, 3, 2, 11, 0)
"""Monday 2 March 2026, 11:00 in Shanghai: the morning of DESIGN §10's story."""


def numbered(n: int, **fields: object) -> Ticket:
    """Ticket n of 2 March 2026, received 09:0n, from customer n (so no two are a repeat complaint)."""
    values: dict[str, object] = {
        "ticket_id": f"SZ01-20260302-{n:04d}",
        "received_at": local(2026, 3, 2, 9, n % 60),
        "contact": f"1380013{n:04d}",
        "place": f"阳光花园{n}期",
    }
    values.update(fields)
    return make_ticket(**values)


def branch_book(
    path: Path,
    tickets: Sequence[Ticket] = (),
    lang: str = "zh",
    *,
    tasks: Sequence[Task] = (),
    log: Sequence[LogEntry] = (),
    **options: Any,
) -> Path:
    """A branch workbook of SZ01 at ``path``: the template, filled with ``tickets`` if any."""
    if tickets or tasks or log:
        return save_filled(path, list(tickets), lang, tasks=list(tasks), log=list(log), **options)
    return save_template(path, lang, **options)


def read(path: Path, now: datetime = NOW) -> BranchWorkbook:
    """The workbook as the server's reader sees it (every problem raised)."""
    return read_workbook(path, now=now)


def rows(path: Path, sheet: Sheet, lang: str) -> list[dict[str, object]]:
    """The data rows of a schema sheet by column key, as openpyxl holds the cells."""
    ws = load_workbook(path)[sheet.title(lang)]
    header = [c.value for c in ws[1]]
    keys = [
        sheet.match_header(h).key if isinstance(h, str) and sheet.match_header(h) else None for h in header
    ]
    out = []
    for values in ws.iter_rows(min_row=2, values_only=True):
        if all(v is None for v in values):
            continue
        out.append({k: v for k, v in zip(keys, values, strict=False) if k})
    return out


def fill(path: Path, lang: str, excel_row: int, column: int = 1) -> str:
    """The fill colour (RRGGBB) of a Tickets cell, "" without one."""
    cell = load_workbook(path)[TICKETS.title(lang)].cell(excel_row, column)
    if cell.fill is None or cell.fill.fill_type != "solid":
        return ""
    return str(cell.fill.fgColor.rgb)[-6:]


def set_cells(path: Path, sheet: Sheet, lang: str, excel_row: int, values: dict[str, object]) -> None:
    """Type values into one row by column key, as a coordinator would."""
    book = load_workbook(path)
    ws = book[sheet.title(lang)]
    header = [c.value for c in ws[1]]
    for key, value in values.items():
        ws.cell(excel_row, header.index(sheet.column(key).header(lang)) + 1, value)
    book.save(path)


def type_ticket(path: Path, lang: str, excel_row: int, ticket: Ticket) -> None:
    """Type a ticket's typed cells into a row by hand (no sync key, no computed cells)."""
    values = {
        c.key: write_cell(c, getattr(ticket, c.key), lang, SHANGHAI)
        for c in TICKETS.columns
        if not c.computed
    }
    set_cells(path, TICKETS, lang, excel_row, values)


def setting(path: Path, lang: str, key: str, value: str) -> None:
    book = load_workbook(path)
    ws = book[SETTINGS.title(lang)]
    for row in ws.iter_rows(min_row=2):
        if row[2].value == key:
            row[1].value = value
    book.save(path)


def rename_sheet(path: Path, old: str, new: str) -> None:
    book = load_workbook(path)
    book[old].title = new
    book.save(path)
