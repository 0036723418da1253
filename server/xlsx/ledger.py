"""A branch's own ledger file (.xlsx, .xls or .csv) as sheets of rows for `complaints.ledger.read_ledger`.

An .xlsx passes the zip guard first; it and an old .xls are read with calamine, which gives the
values a person sees (a formula's last result, dates as dates). Merged cells
are filled with their value: in the first rows whole (a group header over its
columns, a header merged down two rows), below them down the column only (a
date merged over the complaints of one day), so a cell merged across columns
never copies one field's text into another. A .csv may be UTF-8 (with or
without a byte-order mark) or GBK/GB18030, as Excel saves it on a Chinese PC.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from python_calamine import CalamineWorkbook

from complaints.cells import EXCEL_1900
from complaints.ledger import HEADER_SEARCH_ROWS, LedgerSheet
from complaints.problems import Problem
from server.xlsx.errors import WorkbookError
from server.xlsx.grid import WorkbookParts
from server.xlsx.zipguard import ZipLimits, check_zip

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first bytes of an Excel 97–2003 workbook (.xls), which many ledgers still are: no zip to guard,
read by calamine (memory-safe), its size bounded by the upload's."""
ENCODINGS = ("utf-8-sig", "gb18030")
"""Tried in this order: GB18030 reads every GBK file, and a UTF-8 file is almost never valid GBK too."""


@dataclass(frozen=True, slots=True)
class LedgerFile:
    """The sheets of a ledger file, their rows in memory, and its date system."""

    sheets: list[LedgerSheet]
    epoch: datetime = EXCEL_1900


def read_ledger_file(data: bytes, name: str = "", limits: ZipLimits | None = None) -> LedgerFile:
    """The sheets of an .xlsx, .xls or .csv ledger; `WorkbookError` when the file cannot be read."""
    if data[:2] == b"PK":
        return _workbook(data, limits)
    if data.startswith(OLE2):
        return _calamine(data, EXCEL_1900)
    if name.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise WorkbookError(
            [Problem("the file is not an .xlsx workbook (save it again as .xlsx or .csv)",
                     "此文件不是 .xlsx 工作簿（请另存为 .xlsx 或 .csv）")]
        )  # fmt: skip
    return LedgerFile([LedgerSheet(_csv_title(name), _csv_rows(data))])


def _csv_title(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] or "CSV"


def _csv_rows(data: bytes) -> list[list[object]]:
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise WorkbookError(
            [Problem("the CSV file is neither UTF-8 nor GBK; save it again as CSV UTF-8",
                     "CSV 文件既不是 UTF-8 也不是 GBK 编码，请另存为“CSV UTF-8”")]
        )  # fmt: skip
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), dialect)]


def _workbook(data: bytes, limits: ZipLimits | None) -> LedgerFile:
    check_zip(data, limits)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            epoch = WorkbookParts(archive).epoch
    except Exception as exc:  # a part the guard let through but cannot be parsed: the file is at fault
        raise _unreadable(exc) from exc
    return _calamine(data, epoch)


def _calamine(data: bytes, epoch: datetime) -> LedgerFile:
    try:
        book = CalamineWorkbook.from_object(io.BytesIO(data))
        sheets = []
        for title in book.sheet_names:
            sheet = book.get_sheet_by_name(title)
            sheets.append(LedgerSheet(title, _filled(sheet.to_python(), sheet.merged_cell_ranges or [])))
        book.close()
    except Exception as exc:  # calamine raises its own errors for a malformed part: the file is at fault
        raise _unreadable(exc) from exc
    return LedgerFile(sheets, epoch)


def _unreadable(exc: Exception) -> WorkbookError:
    return WorkbookError(
        [Problem(f"the workbook cannot be read ({type(exc).__name__}); open it in Excel and save it "
                 "again", f"无法读取此工作簿（{type(exc).__name__}），请在 Excel 中打开并重新保存")]
    )  # fmt: skip


def _filled(rows: list[list[Any]], merged: list[tuple[tuple[int, int], tuple[int, int]]]) -> list[list[Any]]:
    """``rows`` with each merged range holding its top-left value (see the module's note)."""
    for (top, left), (bottom, right) in merged:
        if top >= len(rows) or left >= len(rows[top]):
            continue
        value = rows[top][left]
        across = right if top < HEADER_SEARCH_ROWS else left
        for r in range(top, min(bottom, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= across:
                row.extend([""] * (across + 1 - len(row)))
            for c in range(left, across + 1):
                row[c] = value
    return rows
