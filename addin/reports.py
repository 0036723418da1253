"""Report sheets the macros fill: the revisit list, the monthly summary, the sheets of a consolidated pull.

A report sheet belongs to the macro: it is found by its zh or en title (added
at the end of the workbook if missing), its old contents are cleared, and it is
written as one block with one number format per run of columns (or rows) and
the header filled in the template's header colour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from addin.blocks import Prepare, runs
from complaints.cells import write_cell
from complaints.colours import HEADER_FILL
from complaints.enums import Flag
from complaints.kpis import Kpis
from complaints.model import Ticket
from complaints.schema import TICKETS
from complaints.textcheck import ReplyIssue

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_FORMAT = "@"
RATE_FORMAT = "0.0%"
DECIMAL_FORMAT = "0.0"
GENERAL_FORMAT = "General"

REVISIT_TITLE = {"zh": "回访清单", "en": "Revisit list"}
SUMMARY_TITLE = {"zh": "月度分析", "en": "Monthly summary"}
WORDING_TITLE = {"zh": "措辞检查", "en": "Wording check"}
DOSSIER_TITLE = {"zh": "投诉档案", "en": "Dossier"}
REPORT_TITLES = (REVISIT_TITLE, SUMMARY_TITLE, WORDING_TITLE, DOSSIER_TITLE)


@dataclass(frozen=True)
class Format:
    """A number format over a rectangle of the block (0-based, inclusive)."""

    r1: int
    r2: int
    c1: int
    c2: int
    code: str


def column_formats(codes: Sequence[str], first_row: int, last_row: int) -> list[Format]:
    """One format per run of adjacent columns with the same code."""
    formats: list[Format] = []
    for c, code in enumerate(codes):
        if formats and formats[-1].code == code and formats[-1].c2 == c - 1:
            formats[-1] = dataclasses.replace(formats[-1], c2=c)
        else:
            formats.append(Format(first_row, last_row, c, c, code))
    return [f for f in formats if f.code != GENERAL_FORMAT]


def find_sheet(book: Any, titles: dict[str, str]) -> Any | None:
    wanted = {t.casefold() for t in titles.values()}
    for sheet in book.sheets:
        if sheet.name.casefold() in wanted:
            return sheet
    return None


def write_report(
    book: Any,
    prepare: Prepare,
    titles: dict[str, str],
    lang: str,
    rows: list[list[object]],
    formats: list[Format],
    header_row: int = 0,
) -> str:
    """Replace the report sheet's contents with ``rows`` (from A1); return its title."""
    sheet = find_sheet(book, titles)
    if sheet is None:
        sheet = book.sheets.add(titles[lang], after=book.sheets[len(book.sheets) - 1])
    else:
        last = sheet.used_range.last_cell
        sheet.range((1, 1), (last.row, last.column)).clear_contents()
    width = max((len(row) for row in rows), default=1)
    for f in formats:
        sheet.range((f.r1 + 1, f.c1 + 1), (f.r2 + 1, f.c2 + 1)).number_format = f.code
    block = [[prepare(v, {}) for v in row + [None] * (width - len(row))] for row in rows]
    sheet.range((1, 1), (len(rows), width)).raw_value = block
    sheet.range((header_row + 1, 1), (header_row + 1, width)).color = f"#{HEADER_FILL}"
    sheet.activate()
    return sheet.name


# --- the revisit list -----------------------------------------------------------------------------

REVISIT_KEYS = ("ticket_id", "customer_name", "contact", "preferred_channel", "department")
REVISIT_STATE = {"zh": "回访状态", "en": "Revisit"}
REVISIT_DATES = ("closed_at", "revisit_from", "revisit_until")


@dataclass(frozen=True)
class RevisitRow:
    ticket: Ticket
    overdue: bool
    revisit_from: datetime
    revisit_until: datetime


def revisit_block(items: list[RevisitRow], lang: str, zone: Any) -> tuple[list[list[object]], list[Format]]:
    """The revisit list: overdue first, then by the end of the window."""
    header: list[object] = [TICKETS.column(k).header(lang) for k in REVISIT_KEYS]
    header += [REVISIT_STATE[lang], TICKETS.column("closed_at").header(lang)]
    header += [TICKETS.column(k).header(lang) for k in ("revisit_from", "revisit_until")]
    rows: list[list[object]] = [header]
    for item in sorted(items, key=lambda i: (not i.overdue, i.revisit_until, i.ticket.ticket_id)):
        t = item.ticket
        state = Flag.REVISIT_OVERDUE if item.overdue else Flag.REVISIT_DUE
        row = [write_cell(TICKETS.column(k), getattr(t, k), lang, zone) for k in REVISIT_KEYS]
        row.append(state.label(lang))
        dt = TICKETS.column("closed_at")
        row += [
            write_cell(dt, value, lang, zone)
            for value in (t.closed_at, item.revisit_from, item.revisit_until)
        ]
        rows.append(row)
    last = max(len(rows) - 1, 1)
    codes = [TEXT_FORMAT] * (len(REVISIT_KEYS) + 1) + [DATETIME_FORMAT] * 3
    return rows, column_formats(codes, 1, last)


# --- wording check --------------------------------------------------------------------------------

WORDING_HEADERS = {
    "zh": ["投诉编号/位置", "列/行", "原文", "问题措辞", "问题类型", "建议改写"],
    "en": ["Ticket / cell", "Column / row", "Text", "Phrase", "Kind", "Suggested rewrite"],
}
WORDING_KINDS = {
    "negative": {"zh": "否定表述", "en": "Negative phrasing"},
    "unquantified": {"zh": "未量化的承诺", "en": "Unquantified promise"},
}


def wording_block(
    found: Sequence[tuple[str, str, str, ReplyIssue]], lang: str
) -> tuple[list[list[object]], list[Format]]:
    """One row per phrase to rewrite: where, the text, the phrase and the suggested rewrite beside it."""
    rows: list[list[object]] = [list(WORDING_HEADERS[lang])]
    for where, column, text, issue in found:
        rows.append([where, column, text, issue.phrase, WORDING_KINDS[issue.kind][lang], issue.suggestion])
    return rows, column_formats([TEXT_FORMAT] * 6, 1, max(len(rows) - 1, 1))


# --- KPIs -------------------------------------------------------------------------------------------

_MEDIAN = object()


def kpi_rows(kpis: Kpis, lang: str) -> list[tuple[str, object, str]]:
    """(label, value, number format) of each KPI row: rates as percentages, the median with a decimal."""
    marked = dataclasses.replace(kpis, median_workdays_to_close=_MEDIAN)  # type: ignore[arg-type]
    out = []
    for label, value in marked.as_rows(lang):
        if value is _MEDIAN:
            out.append((label, kpis.median_workdays_to_close, DECIMAL_FORMAT))
        elif value is None or isinstance(value, float):
            out.append((label, value, RATE_FORMAT))
        else:
            out.append((label, value, GENERAL_FORMAT))
    return out


def row_formats(codes: Sequence[str], column: int, first_row: int) -> list[Format]:
    """One format per run of rows with the same code in one column."""
    formats: list[Format] = []
    for code in set(codes) - {GENERAL_FORMAT}:
        for r1, r2 in runs(i for i, c in enumerate(codes) if c == code):
            formats.append(Format(first_row + r1, first_row + r2, column, column, code))
    return formats


def summary_block(title: str, kpis: Kpis, lang: str) -> tuple[list[list[object]], list[Format]]:
    """The monthly summary: a title line, then item / value rows."""
    items = kpi_rows(kpis, lang)
    header = ["项目", "值"] if lang == "zh" else ["Item", "Value"]
    rows: list[list[object]] = [[title, None], [None, None], header]
    rows += [[label, value] for label, value, _code in items]
    formats = [Format(3, len(rows) - 1, 0, 0, TEXT_FORMAT)]
    formats += row_formats([code for _l, _v, code in items], 1, 3)
    return rows, formats


# --- a downloaded workbook's sheets ---------------------------------------------------------------


def export_sheets(content: bytes) -> list[tuple[str, list[list[object]]]]:
    """(title, values) of every sheet of a downloaded .xlsx, in tab order."""
    import io

    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return [(name, book.get_sheet_by_name(name).to_python()) for name in book.sheet_names]


def export_formats(rows: list[list[object]]) -> list[Format]:
    """Below the first row: text columns as text (a phone number stays one), date columns as dates."""
    width = max((len(row) for row in rows), default=0)
    codes = []
    for c in range(width):
        cells = [row[c] for row in rows[1:] if c < len(row) and row[c] not in (None, "")]
        if cells and all(isinstance(v, str) for v in cells):
            codes.append(TEXT_FORMAT)
        elif cells and all(isinstance(v, datetime | date) for v in cells):
            codes.append(DATETIME_FORMAT)
        else:
            codes.append(GENERAL_FORMAT)
    return column_formats(codes, 1, max(len(rows) - 1, 1))
