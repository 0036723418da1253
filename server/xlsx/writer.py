"""Write tickets, tasks and log entries back into an existing branch workbook.

Only our columns of our rows are touched: rows are matched by sync key (or,
for rows typed without one, by the row they were read from or by ticket
number), other rows are kept, new records are appended below the last row and
the Excel tables grow to cover them. The user's own columns, sheets, filters,
conditional formats and cell formatting stay as they are; a cell we write
keeps its formatting, a new cell takes its column's.

openpyxl cannot keep everything a workbook may hold (shapes, slicers,
sparklines, list validations Excel stored as extensions); what it reports
dropping is logged and returned as notes, and our own drop-downs are put back.
Formatting inside an inline rich-text cell (Excel never writes those) is
flattened, see `grid.ExactReader`.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, BinaryIO

from openpyxl.cell.cell import Cell
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.table import TableColumn

from complaints.conflicts import conflict_cells
from complaints.layout import HEADER_SEARCH_ROWS, find_layout
from complaints.model import LogEntry, Task, Ticket
from complaints.rows import read_settings
from complaints.schema import CONFLICTS, LOG, ROUTING, SYNC, TASKS, TICKETS, Column, Sheet
from complaints.sla import Due
from complaints.wire import DEADLINE_COLUMNS
from server.files import private_open
from server.xlsx import styles
from server.xlsx.cellformat import DATETIME_FORMAT, cell_writer, escape_text, looks_like_formula
from server.xlsx.errors import Problem, WorkbookError
from server.xlsx.evidence import write_evidence
from server.xlsx.grid import LoadedGrid, load_exact
from server.xlsx.template import column_style, model_value
from server.xlsx.zipguard import Source, ZipLimits, check_zip

logger = logging.getLogger(__name__)

Target = str | os.PathLike[str] | BinaryIO
Record = Ticket | Task | LogEntry


@dataclass(slots=True)
class WriteReport:
    """What a write did: rows updated and appended per sheet, and what openpyxl said it dropped."""

    updated: dict[str, int] = field(default_factory=dict)
    appended: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def write_workbook(
    source: Source,
    target: Target,
    *,
    tickets: Iterable[Ticket] = (),
    tasks: Iterable[Task] = (),
    log: Iterable[LogEntry] = (),
    deadlines: Mapping[str, Mapping[str, Due]] | None = None,
    rows: Mapping[str, int] | None = None,
    sync_state: Mapping[str, str] | None = None,
    conflicts: Sequence[Mapping[str, Any]] | None = None,
    evidence: Sequence[Mapping[str, Any]] | None = None,
    limits: ZipLimits | None = None,
) -> WriteReport:
    """Write records into the branch workbook ``source`` and save the result to ``target``.

    ``deadlines`` maps a ticket's sync key to its computed deadline cells; a
    ticket without an entry keeps the deadline cells it has. ``rows`` (sync
    key -> row, as returned by the reader) finds rows that had no sync key.
    ``sync_state`` sets keys of the hidden sync bookkeeping sheet (e.g. the
    pull cursor). ``conflicts`` (the server's open conflicts, as the sync API
    returns them) replace the rows of the Conflicts sheet, ``evidence``
    (`server.xlsx.evidence`) the rows of the Evidence sheet. ``source`` and
    ``target`` may be the same path.
    """
    inventory = check_zip(source, limits)
    report = WriteReport()
    # a macro-enabled workbook (.xlsm) keeps its VBA project
    book = _load(source, report, keep_vba="xl/vbaProject.bin" in inventory.sizes)
    grid = LoadedGrid(book)
    settings, titles, problems = read_settings(grid.titles, grid.rows)
    if problems:
        raise WorkbookError(problems, settings.language)
    lang, zone = settings.language, settings.zone
    jobs: list[tuple[Sheet, Sequence[Record], Mapping[str, Mapping[str, Due]] | None]] = [
        (TICKETS, list(tickets), deadlines or {}),
        (TASKS, list(tasks), None),
        (LOG, list(log), None),
    ]
    plans = []
    for sheet, records, extras in jobs:
        if not records:
            continue
        title = titles.get(sheet.key)
        if title is None:
            raise WorkbookError(
                [Problem(f"the workbook has no '{sheet.en}' sheet", f"工作簿中没有“{sheet.zh}”工作表")], lang
            )
        lookups = {}
        if sheet is TICKETS and ROUTING.key in titles:
            department = ROUTING.columns.index(ROUTING.column("department")) + 1
            lookups["department"] = styles.range_lookup(titles[ROUTING.key], department)
        plans.append((_SheetWriter(book[title], sheet, lang, zone, rows or {}, lookups), records, extras))
    problems = [p for writer, _, _ in plans for p in writer.problems]
    if problems:
        raise WorkbookError(problems, lang)
    for writer, records, extras in plans:
        updated, appended = writer.write(records, extras)
        report.updated[writer.sheet.key] = updated
        report.appended[writer.sheet.key] = appended
    if sync_state:
        _write_sync_state(book, titles.get(SYNC.key), lang, sync_state)
    if conflicts is not None:
        _write_conflicts(book, titles.get(CONFLICTS.key), lang, zone, conflicts)
    if evidence is not None:
        write_evidence(book, lang, evidence)
    _escape_carriage_returns(book)
    _save(book, target)
    logger.info("wrote %s (updated %s, appended %s)", target, report.updated, report.appended)
    return report


def _write_sync_state(book: Any, title: str | None, lang: str, state: Mapping[str, str]) -> None:
    """Set keys of the hidden sync sheet (made if missing), keeping the others."""
    if title is None:
        ws = book.create_sheet(SYNC.title(lang))
        ws.sheet_state = "hidden"
        ws.append(SYNC.headers(lang))
    else:
        ws = book[title]
    found = {str(ws.cell(r, 1).value): r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value is not None}
    for key, value in state.items():
        row = found.get(key) or ws.max_row + 1
        ws.cell(row, 1).value = key
        cell = ws.cell(row, 2)
        cell.value = escape_text(value) if value else None
        if value:
            cell.data_type = "s"


def _write_conflicts(
    book: Any, title: str | None, lang: str, zone: Any, conflicts: Sequence[Mapping[str, Any]]
) -> None:
    """Replace the Conflicts sheet's rows with ``conflicts`` (made if missing): both values side by side."""
    if title is None:
        ws = book.create_sheet(CONFLICTS.title(lang))
        for index, column in enumerate(CONFLICTS.columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
            ws.column_dimensions[get_column_letter(index)].hidden = column.hidden
        ws.append(CONFLICTS.headers(lang))
        ws.freeze_panes = "A2"
    else:
        ws = book[title]
    if ws.max_row > 1:
        ws.delete_rows(2, ws.max_row - 1)
    for conflict in conflicts:
        cells = conflict_cells(conflict, lang, zone)
        shown = [cells[column.key] for column in CONFLICTS.columns]
        ws.append([escape_text(v) if isinstance(v, str) else v for v in shown])
        for cell, value in zip(ws[ws.max_row], shown, strict=False):
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
                cell.quotePrefix = looks_like_formula(value)
            elif isinstance(value, datetime):
                cell.number_format = DATETIME_FORMAT


def _load(source: Source, report: WriteReport, keep_vba: bool) -> Any:
    handle: Any = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    if not isinstance(handle, str | os.PathLike):
        handle.seek(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        book = load_exact(handle, read_only=False, keep_vba=keep_vba)
    for warning in caught:
        message = f"openpyxl: {warning.message}"
        logger.warning("%s", message)
        report.notes.append(message)
    return book


def _escape_carriage_returns(book: Any) -> None:
    """Keep carriage returns in cells we did not write (openpyxl would write them raw, read back as LF).

    Loaded by `load_exact`, every string is kept as stored, its ``_xHHHH_``
    escapes undecoded, and openpyxl writes it back the same way; only a carriage
    return (stored as ``&#13;``) arrives decoded and must be escaped again.
    """
    for ws in book.worksheets:
        for cell in ws._cells.values():
            value = cell._value
            if isinstance(value, str) and "\r" in value:
                cell._value = value.replace("\r", "_x000D_")
            elif isinstance(value, CellRichText):
                for block in value:
                    if isinstance(block, TextBlock) and "\r" in block.text:
                        block.text = block.text.replace("\r", "_x000D_")
                if any(isinstance(b, str) and "\r" in b for b in value):
                    cell._value = CellRichText(
                        *(b.replace("\r", "_x000D_") if isinstance(b, str) else b for b in value)
                    )


def _save(book: Any, target: Target) -> None:
    if isinstance(target, str | os.PathLike):
        # write next to the target and replace it, so a failed save never leaves half a workbook
        temporary = f"{os.fspath(target)}.partial"
        try:
            with private_open(temporary) as stream:  # tickets hold customer data: owner-only (0600)
                book.save(stream)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    else:
        book.save(target)


class _SheetWriter:
    """Writes one kind of record into one worksheet."""

    def __init__(
        self, ws: Any, sheet: Sheet, lang: str, zone: Any, hints: Mapping[str, int], lookups: dict[str, str]
    ) -> None:
        self.ws = ws
        self.sheet = sheet
        self.lang = lang
        self.hints = hints
        self.problems: list[Problem] = []
        head = list(islice(LoadedGrid(ws.parent).rows(ws.title), HEADER_SEARCH_ROWS))
        layout, self.problems = find_layout(sheet, ws.title, head)
        if layout is None:
            return
        self.layout = layout
        self._add_missing_columns(layout.header_row, len(head[layout.header_row - 1]))
        columns = [sheet.column(k) for k in self.layout.index]
        self.columns: list[tuple[Column, int, Any]] = [
            (c, self.layout.index[c.key] + 1, cell_writer(c, lang, zone)) for c in columns
        ]
        self.protos = {c.key: self._proto(c, self.layout.index[c.key] + 1) for c in columns}
        self._restore_validations(lookups)

    # --- layout --------------------------------------------------------------------------

    def _add_missing_columns(self, header_row: int, width: int) -> None:
        """Append schema columns the sheet lacks after its last header, and grow an adjacent table."""
        missing = [c for c in self.sheet.columns if c.key not in self.layout.index]
        if not missing:
            return
        ws = self.ws
        while width > 0 and ws.cell(header_row, width).value in (None, ""):
            width -= 1
        for column in missing:
            width += 1
            cell = ws.cell(header_row, width, column.header(self.lang))
            cell.data_type = "s"
            cell.font = styles.HEADER_FONT
            cell.fill = styles.header_fill(column)
            cell.alignment = styles.HEADER_ALIGNMENT
            dimension = ws.column_dimensions[get_column_letter(width)]
            dimension.width = column.width
            dimension.hidden = column.hidden
            self.layout.index[column.key] = width - 1
            self.layout.headers[column.key] = column.header(self.lang)
            for table in ws.tables.values():
                min_col, min_row, max_col, max_row = range_boundaries(table.ref)
                if min_row == header_row and max_col == width - 1:
                    table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(width)}{max_row}"
                    if table.autoFilter is not None:
                        table.autoFilter.ref = table.ref
                    table.tableColumns.append(TableColumn(id=width, name=column.header(self.lang)))

    def _restore_validations(self, lookups: dict[str, str]) -> None:
        """Give our columns back their drop-downs if they have none.

        Excel saves a list validation that refers to another sheet (the
        department list) as an extension, which openpyxl drops on load.
        """
        covered: set[int] = set()
        for validation in self.ws.data_validations.dataValidation:
            for area in validation.sqref.ranges:
                covered.update(range(area.min_col, area.max_col + 1))
        for key, position in self.layout.index.items():
            if position + 1 in covered:
                continue
            validation = styles.validation_for(self.sheet.column(key), self.lang, lookups)
            if validation is not None:
                letter = get_column_letter(position + 1)
                validation.add(f"{letter}{self.layout.header_row + 1}:{letter}{styles.MAX_ROW}")
                self.ws.data_validations.append(validation)

    def _proto(self, column: Column, index: int) -> StyleArray:
        """The style for a new cell of ``column``: the column's own style, or the schema's."""
        letter = get_column_letter(index)
        for dimension in self.ws.column_dimensions.values():
            low, high = dimension.min or 0, dimension.max or 0
            if dimension.index == letter or low <= index <= high:
                if dimension.has_style:
                    proto = StyleArray(dimension._style)
                    proto.quotePrefix = 0
                    return proto
                break
        return column_style(self.ws, column)

    # --- rows ----------------------------------------------------------------------------

    def _index_rows(self) -> tuple[dict[str, int], dict[int, object], int]:
        """Rows by sync key, key-less rows with their natural key, and the last row holding our data."""
        header = self.layout.header_row
        wanted = {position + 1: key for key, position in self.layout.index.items()}
        found: dict[int, dict[str, object]] = {}
        # walk the cells that exist; ws.iter_rows would create every empty cell of the grid
        for (row, col), cell in self.ws._cells.items():
            key = wanted.get(col)
            value = cell._value
            if key is None or row <= header or value is None or value == "":
                continue
            found.setdefault(row, {})[key] = value
        by_key: dict[str, int] = {}
        keyless: dict[int, object] = {}
        for row in sorted(found):
            values = found[row]
            sync_key = values.get("sync_key")
            if isinstance(sync_key, str) and sync_key.strip():
                by_key.setdefault(sync_key.strip(), row)
            else:
                keyless[row] = self._natural(values)
        return by_key, keyless, max(found, default=header)

    def _natural(self, values: Mapping[str, object]) -> object:
        def at(key: str) -> str:
            value = values.get(key)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return "" if value is None else str(value).strip()

        if self.sheet is TASKS:
            return (at("ticket_id"), at("task_no"))
        if self.sheet is TICKETS:
            return at("ticket_id")
        return None

    def write(
        self, records: Sequence[Record], extras: Mapping[str, Mapping[str, Due]] | None
    ) -> tuple[int, int]:
        by_key, keyless, last = self._index_rows()
        by_natural: dict[object, int] = {}
        for number, natural in keyless.items():
            if natural is not None:
                by_natural.setdefault(natural, number)
        updated = appended = 0
        for record in records:
            sync_key = record.sync_key
            row = by_key.get(sync_key) or self._keyless_row(record, keyless, by_natural)
            if row is None:
                last += 1
                row = last
                appended += 1
            else:
                updated += 1
            by_key[sync_key] = row
            extra = extras.get(sync_key) if extras is not None else None
            self._write_row(row, record, extra)
        self._grow_tables(last)
        return updated, appended

    def _keyless_row(
        self, record: Record, keyless: dict[int, object], by_natural: dict[object, int]
    ) -> int | None:
        """The row of a record whose row had no sync key: the row it was read from, or its natural key."""
        natural = self._record_natural(record)
        row = self.hints.get(record.sync_key)
        if row is None or row not in keyless or (natural is not None and keyless[row] != natural):
            row = by_natural.get(natural) if natural is not None else None
        if row is None or row not in keyless:
            return None
        found = keyless.pop(row)
        if by_natural.get(found) == row:
            del by_natural[found]
        return row

    def _record_natural(self, record: Record) -> object:
        if self.sheet is TASKS:
            return (str(record.ticket_id), str(record.task_no))
        if self.sheet is TICKETS:
            return str(record.ticket_id)
        return None

    def _write_row(self, row: int, record: Record, extra: Mapping[str, Due] | None) -> None:
        ws = self.ws
        cells = ws._cells
        for column, index, write in self.columns:
            if column.key in DEADLINE_COLUMNS and extra is None:
                continue
            raw = model_value(record, column.key, extra)
            value = write(raw)
            if value is None and (row, index) not in cells:
                continue  # an empty cell needs no cell: the column's style shows
            cell: Cell = ws.cell(row, index)
            if not cell.has_style:
                cell._style = StyleArray(self.protos[column.key])
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"
                cell.quotePrefix = looks_like_formula(raw if isinstance(raw, str) else value)

    def _grow_tables(self, last: int) -> None:
        header = self.layout.header_row
        for table in self.ws.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            if min_row != header or max_row >= last:
                continue
            table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last}"
            if table.autoFilter is not None:
                table.autoFilter.ref = table.ref
        auto = self.ws.auto_filter
        if auto.ref:
            min_col, min_row, max_col, max_row = range_boundaries(auto.ref)
            if min_row == header and max_row < last:
                auto.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last}"
