"""Build a branch workbook: the Tickets table and its companion sheets, from the schema.

The same code builds the empty template (``flask workbook new``) and, with
rows, a filled workbook; ``write_only=True`` streams rows for very large
workbooks (benchmarks, exports) in bounded memory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.cell.cell import WriteOnlyCell as _write_only_cell
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import ColumnDimension
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from complaints.enums import Category, Flag, Level
from complaints.model import LogEntry, Task, Ticket
from complaints.routing import RoutingRule, default_routing_table
from complaints.schema import (
    CONFLICTS,
    LOG,
    ROUTING,
    SETTING_KEYS,
    SETTINGS,
    SYNC,
    TASKS,
    TICKETS,
    ColType,
    Column,
    Sheet,
)
from complaints.sla import DEFAULT_TZ, Deadlines, Due
from complaints.wire import DEADLINE_COLUMNS
from server.xlsx import printing, styles
from server.xlsx.cellformat import cell_writer, looks_like_formula, number_format

SCHEMA_VERSION = "1"
HELP_TITLE = {"zh": "说明", "en": "Help"}
TABLE_NAMES = {"tickets": "TicketsTable", "tasks": "TasksTable", "log": "LogTable", "routing": "RoutingTable"}
TABLE_STYLE = "TableStyleLight15"
LANGUAGES = ("zh", "en")


def deadline_cells(deadlines: Deadlines) -> dict[str, Due]:
    """The Tickets sheet's deadline columns for one ticket's computed deadlines."""
    return {key: getattr(deadlines, attr) for key, attr in DEADLINE_COLUMNS.items()}


def model_value(record: object, key: str, extra: Mapping[str, object] | None = None) -> object:
    """The model value for column ``key``: an attribute of ``record`` or, for deadlines, from ``extra``."""
    if key in DEADLINE_COLUMNS:
        return (extra or {}).get(key)
    return getattr(record, key)


# --- cells -------------------------------------------------------------------------------


def column_style(ws: Any, column: Column) -> StyleArray:
    """The style of a data cell of ``column``, registered in ``ws``'s workbook."""
    scratch = Cell(ws)
    scratch.number_format = number_format(column)
    if column.computed:
        scratch.fill = styles.solid(styles.COMPUTED_FILL)
        scratch.font = styles.COMPUTED_FONT
    if column.type in (ColType.ENUM, ColType.BOOL, ColType.INT):
        scratch.alignment = Alignment(horizontal="center")
    return StyleArray(scratch._style)


def make_cell(ws: Any, value: object, style: StyleArray, text: str | None = None) -> Cell:
    """A cell holding ``value`` with ``style``; text never becomes a formula.

    ``text`` is the original text when ``value`` is its escaped form; a text
    that a spreadsheet would take for a formula gets the quote prefix too, so
    that editing the cell in Excel keeps it text.
    """
    cell = _write_only_cell(ws, value)
    cell._style = StyleArray(style)
    if isinstance(value, str):
        cell.data_type = "s"
        if looks_like_formula(text if text is not None else value):
            cell.quotePrefix = True
    return cell


def encode_row(
    ws: Any,
    record: object,
    columns: Sequence[Column],
    writers: Sequence[Any],
    protos: Sequence[StyleArray],
    extra: Mapping[str, object] | None = None,
) -> list[Cell | None]:
    """The cells of one data row for ``record``; None where empty (the column's own style shows there)."""
    cells: list[Cell | None] = []
    for column, write, proto in zip(columns, writers, protos, strict=True):
        raw = model_value(record, column.key, extra)
        value = write(raw)
        cells.append(
            None if value is None else make_cell(ws, value, proto, raw if isinstance(raw, str) else None)
        )
    return cells


# --- sheets ------------------------------------------------------------------------------


def _header_cells(ws: Any, columns: Sequence[Column], lang: str, note_computed: bool) -> list[Cell]:
    cells = []
    for column in columns:
        cell = _write_only_cell(ws, column.header(lang))
        cell.data_type = "s"
        cell.font = styles.HEADER_FONT
        cell.fill = styles.header_fill(column)
        cell.alignment = styles.HEADER_ALIGNMENT
        cell.border = styles.HEADER_BORDER
        if note_computed and column.computed:
            cell.comment = styles.computed_note(lang)
        cells.append(cell)
    return cells


def _set_columns(ws: Any, columns: Sequence[Column]) -> None:
    for index, column in enumerate(columns, 1):
        letter = get_column_letter(index)
        dimension = ColumnDimension(ws, index=letter, width=column.width, hidden=column.hidden)
        ws.column_dimensions[letter] = dimension
        dimension._style = StyleArray(column_style(ws, column))


def _add_table(ws: Any, name: str, columns: Sequence[Column], lang: str, last_row: int) -> None:
    ref = f"A1:{get_column_letter(len(columns))}{max(last_row, 2)}"
    table = Table(
        displayName=name,
        name=name,
        ref=ref,
        tableStyleInfo=TableStyleInfo(name=TABLE_STYLE, showRowStripes=False, showColumnStripes=False),
        autoFilter=AutoFilter(ref=ref),
    )
    for index, column in enumerate(columns, 1):
        table.tableColumns.append(TableColumn(id=index, name=column.header(lang)))
    with warnings.catch_warnings():
        # openpyxl warns in write-only mode whether or not the columns were added; they were, above
        warnings.filterwarnings(
            "ignore", "In write-only mode you must add table columns manually", UserWarning
        )
        ws.add_table(table)


def _data_sheet(
    wb: Workbook,
    sheet: Sheet,
    lang: str,
    zone: ZoneInfo,
    records: Iterable[object],
    extras: Mapping[str, Mapping[str, object]] | None = None,
    table: str | None = None,
    lookups: dict[str, str] | None = None,
    freeze: str = "A2",
    heading: printing.Heading | None = None,
) -> Any:
    """A sheet with the schema's header and one row per record; printed one page wide, header repeated."""
    ws = wb.create_sheet(sheet.title(lang))
    if heading is not None:
        printing.set_up(ws, heading)
    columns = sheet.columns
    _set_columns(ws, columns)
    ws.freeze_panes = freeze
    ws.append(_header_cells(ws, columns, lang, note_computed=sheet is TICKETS))
    writers = [cell_writer(c, lang, zone) for c in columns]
    protos = [column_style(ws, c) for c in columns]
    last = 1
    for record in records:
        extra = extras.get(getattr(record, "sync_key", ""), {}) if extras else None
        ws.append(encode_row(ws, record, columns, writers, protos, extra))
        last += 1
    if table:
        if last == 1:
            # an Excel table needs a data row; leave one empty, styled row for typing
            ws.append([make_cell(ws, None, p) for p in protos])
        _add_table(ws, table, columns, lang, last)
    styles.add_validations(ws, columns, lang, lookups or {})
    return ws


def _settings_sheet(wb: Workbook, lang: str, values: Mapping[str, str], heading: printing.Heading) -> None:
    ws = wb.create_sheet(SETTINGS.title(lang))
    printing.set_up(ws, heading)
    _set_columns(ws, SETTINGS.columns)
    ws.append(_header_cells(ws, SETTINGS.columns, lang, note_computed=False))
    protos = [column_style(ws, c) for c in SETTINGS.columns]
    for key, zh, en in SETTING_KEYS:
        label = zh if lang == "zh" else en
        ws.append(
            [make_cell(ws, v, p) for v, p in zip((label, values.get(key, ""), key), protos, strict=True)]
        )
    language = DataValidation(type="list", formula1='"zh,en"', allow_blank=False)
    language.add(f"B{2 + [k for k, _, _ in SETTING_KEYS].index('language')}")
    ws.data_validations.append(language)


def _sync_sheet(wb: Workbook, lang: str, branch: str) -> None:
    ws = wb.create_sheet(SYNC.title(lang))
    ws.sheet_state = "hidden"
    _set_columns(ws, SYNC.columns)
    ws.append(_header_cells(ws, SYNC.columns, lang, note_computed=False))
    protos = [column_style(ws, c) for c in SYNC.columns]
    for key, value in (
        ("schema_version", SCHEMA_VERSION),
        ("branch", branch),
        ("cursor", ""),
        ("last_sync", ""),
    ):
        ws.append([make_cell(ws, key, protos[0]), make_cell(ws, value or None, protos[1])])


_HELP: dict[str, list[str]] = {
    "zh": [
        "投诉单工作簿 — 使用说明",
        "",
        "1. 每行一张投诉单。新投诉请用“新建投诉”按钮，或在表格下方空行直接录入；"
        "投诉编号格式：分支编码-日期-序号（如 SZ01-20260302-0001）。",
        "2. 带下拉箭头的列请从列表中选择；日期时间请输入如 2026-03-02 09:10（本地时间，时区见“设置”表）。",
        "3. 按顺序填写各环节时间（首次响应 → 分派 → 方案沟通 → 处理完成 → 结果反馈 → 闭环 → 回访），"
        "状态会随之变化。",
        "4. 灰色列为自动计算列（状态、预警标记、各项时限等），由按钮填写，请勿手工修改；"
        "隐藏的“同步键”列请勿删除。",
        "5. 整行底色表示预警等级：红 / 黄 / 蓝。手工改“预警等级”会立即改变颜色；"
        "升级请用“升级”按钮并填写原因。",
        "6. 超时的时限单元格显示为红底白字；“预警标记”列含超时标记时显示为红色粗体。",
        "7. “同步”按钮与服务器交换数据；冲突会列在“冲突”表中，由您决定取舍。",
        "8. 可以在表格右侧添加自己的列、添加自己的工作表，同步和导入不会改动它们。",
        "",
        "预警等级",
    ],
    "en": [
        "Complaint workbook — how to",
        "",
        "1. One row per complaint. Use the New ticket button, or type in the empty row below the table; "
        "ticket IDs are branch-date-sequence (e.g. SZ01-20260302-0001).",
        "2. Columns with a drop-down arrow take a value from the list; type dates as 2026-03-02 09:10 "
        "(local time, zone on the Settings sheet).",
        "3. Fill the milestone times in order (acknowledged → routed → plan → resolved → feedback → "
        "closed → revisited); the status follows.",
        "4. Grey columns are computed (status, flags, deadlines) and filled by the buttons: "
        "do not type there; do not delete the hidden Sync key column.",
        "5. The row colour shows the warning level: red / yellow / blue. "
        "Typing a level recolours the row at once; escalate with the Escalate button and a reason.",
        "6. An overdue deadline cell is white on red; "
        "the Flags cell turns bold red when it holds an overdue flag.",
        "7. Sync exchanges tickets with the server; "
        "conflicts are listed on the Conflicts sheet for you to decide.",
        "8. You may add your own columns to the right of the table and your own sheets; "
        "sync and import leave them alone.",
        "",
        "Warning levels",
    ],
}


def _help_sheet(wb: Workbook, lang: str, heading: printing.Heading) -> None:
    ws = wb.create_sheet(HELP_TITLE[lang])
    printing.set_up(ws, heading, title_rows=None)
    ws.column_dimensions["A"] = ColumnDimension(ws, index="A", width=28)
    ws.column_dimensions["B"] = ColumnDimension(ws, index="B", width=30)
    ws.column_dimensions["C"] = ColumnDimension(ws, index="C", width=80)
    lines = _HELP[lang]
    for number, line in enumerate(lines):
        cell = _write_only_cell(ws, line)
        cell.data_type = "s"
        if number == 0:
            cell.font = Font(name=styles.FONT_NAME, bold=True, size=14)
        elif line in ("预警等级", "Warning levels"):
            cell.font = Font(name=styles.FONT_NAME, size=11, bold=True)
        ws.append([cell])
    for level in (Level.RED, Level.YELLOW, Level.BLUE):
        cell = _write_only_cell(ws, level.label(lang))
        cell.fill = styles.solid(styles.LEVEL_FILL[level])
        cell.font = Font(name=styles.FONT_NAME, size=11, color=styles.LEVEL_TEXT[level])
        ws.append([cell])
    ws.append([])
    title = _write_only_cell(
        ws, "预警标记（代码 / 中文 / English）" if lang == "zh" else "Flags (code / 中文 / English)"
    )
    title.font = Font(name=styles.FONT_NAME, size=11, bold=True)
    ws.append([title])
    for flag in Flag:
        code = _write_only_cell(ws, flag.value)
        if flag.is_overdue:
            code.font = Font(name=styles.FONT_NAME, size=11, bold=True, color=styles.OVERDUE_TEXT)
        ws.append([code, flag.zh, flag.en])


def build_workbook(
    branch: str,
    lang: str = "zh",
    *,
    server_url: str = "",
    timezone: str = DEFAULT_TZ,
    routes: Sequence[RoutingRule] | None = None,
    tickets: Iterable[Ticket] = (),
    tasks: Iterable[Task] = (),
    log: Iterable[LogEntry] = (),
    deadlines: Mapping[str, Mapping[str, Due]] | None = None,
    write_only: bool = False,
) -> Workbook:
    """A new branch workbook for ``branch`` with headers in ``lang`` ("zh" or "en").

    ``deadlines`` maps a ticket's sync key to its deadline cells (see `deadline_cells`).
    """
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {lang!r}")
    if not branch.strip():
        raise ValueError("a branch code is required")
    wb = Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    zone = ZoneInfo(timezone)
    wb.properties.creator = "Complaint Desk"
    wb.properties.title = f"{branch} — {TICKETS.title(lang)}"
    if routes is None:
        routes = [default_routing_table().rule_for(c) for c in Category]
    routing_title = ROUTING.title(lang)
    department = ROUTING.columns.index(ROUTING.column("department")) + 1
    lookups = {"department": styles.range_lookup(routing_title, department)}
    # each printed sheet: A4 landscape, one page wide, its header row on every page; the print area is
    # the used range, which follows the rows typed in Excel (a fixed area would leave them out)
    heading = printing.branch_heading(branch, lang)
    tickets_ws = _data_sheet(
        wb,
        TICKETS,
        lang,
        zone,
        tickets,
        deadlines,
        TABLE_NAMES["tickets"],
        lookups=lookups,
        freeze="B2",
        heading=heading,
    )
    styles.add_ticket_formats(tickets_ws, TICKETS.columns)
    _data_sheet(wb, TASKS, lang, zone, tasks, table=TABLE_NAMES["tasks"], heading=heading)
    _data_sheet(wb, LOG, lang, zone, log, table=TABLE_NAMES["log"], heading=heading)
    routes_rows = (_RouteRow(r) for r in routes)
    _data_sheet(wb, ROUTING, lang, zone, routes_rows, table=TABLE_NAMES["routing"], heading=heading)
    settings = {"branch": branch, "server_url": server_url, "language": lang, "timezone": timezone}
    _settings_sheet(wb, lang, settings, heading)
    _data_sheet(wb, CONFLICTS, lang, zone, (), heading=heading)
    _help_sheet(wb, lang, heading)
    _sync_sheet(wb, lang, branch)
    return wb


class _RouteRow:
    """A routing rule seen as a row: investigators joined by commas."""

    def __init__(self, route: RoutingRule) -> None:
        self.category = route.category
        self.department = route.department
        self.head = route.head
        self.head_email = route.head_email
        self.investigators = ", ".join(route.investigators)


def new_workbook(path: str | os.PathLike[str], branch: str, lang: str = "zh", **options: Any) -> None:
    """Build a branch workbook (see `build_workbook`) and save it to ``path``."""
    build_workbook(branch, lang, **options).save(path)
