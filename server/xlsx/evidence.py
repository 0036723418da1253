"""The branch workbook's Evidence sheet: each attachment as a link to the server, and what is missing.

The sheet is the server's to write (like Conflicts): its rows are replaced on
every merge. A file's content never enters the workbook, only its name as a
hyperlink to the authenticated download.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openpyxl.utils import get_column_letter

from complaints.evidence import EVIDENCE
from server.xlsx.cellformat import DATETIME_FORMAT, escape_text, looks_like_formula

URL = "url"
"""The key of a row's download address (the link of its ``name`` cell)."""


def write_evidence(book: Any, lang: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the Evidence sheet's rows (made if missing, found by its zh or en title)."""
    title = next((ws.title for ws in book.worksheets if ws.title in (EVIDENCE.zh, EVIDENCE.en)), None)
    if title is None:
        ws = book.create_sheet(EVIDENCE.title(lang))
        for index, column in enumerate(EVIDENCE.columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.append(EVIDENCE.headers(lang))
        ws.freeze_panes = "A2"
    else:
        ws = book[title]
    if ws.max_row > 1:
        ws.delete_rows(2, ws.max_row - 1)
    for row in rows:
        shown = [row.get(column.key) for column in EVIDENCE.columns]
        ws.append([escape_text(v) if isinstance(v, str) else v for v in shown])
        for cell, value in zip(ws[ws.max_row], shown, strict=False):
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever a file name starts with
                cell.quotePrefix = looks_like_formula(value)
            elif isinstance(value, datetime):
                cell.number_format = DATETIME_FORMAT
        if row.get(URL) and row.get("name"):
            link = ws.cell(ws.max_row, EVIDENCE.columns.index(EVIDENCE.column("name")) + 1)
            link.hyperlink = str(row[URL])
            link.style = "Hyperlink"
