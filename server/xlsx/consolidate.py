"""The head-office consolidated workbook as a file: ticket sheets, KPIs and the monthly analysis.

Sheets, in tab order: KPIs (by branch and by department), Monthly analysis
(type distribution, root causes and improvement status, monthly trends, with
native charts), then the ticket sheets — All tickets, Overdue, Red & yellow,
Revisit due, Training cases — each row filled by warning level, with an
autoFilter and a frozen header, split into "(2)", "(3)" … parts before
Excel's row limit; then the appeal register and the per-staff KPIs (Staff).

Two writers, each where it is best: the ticket sheets are encoded by
`server.xlsx.bulk` (raw sheet XML, deflated in chunks) and written to the
package first, so a download starts at once; the small rich sheets are built
with openpyxl afterwards, and the rest of the package (workbook, styles,
content types, charts) is taken from openpyxl's file, whose placeholder ticket
sheets the streamed parts replace.

This module knows the file only. `server.services.consolidated` reads the
tickets (`server.storage.consolidated`), hands runs of rows to a `RowEncoder` —
in worker processes for large exports — and the figures of
`server.services.analysis` to `ConsolidatedWorkbook.finish`. The tickets are
read and encoded once, for the All sheet: the other ticket sheets are subsets
of it in the same order, so each run of rows is also deflated into them
(`row_selectors`) and kept in temporary files until the All sheet is written.

Each ticket sheet lists the tickets of a `complaints.selections.Selection` —
the same that the dashboard's lists and figures use; the All sheet lists every
ticket received, cancelled ones too, the others only live ones. The KPI
sheet's columns are the figures of `complaints.figures`.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from complaints import figures, selections
from complaints.contacts import mask_phones
from complaints.enums import Category, Fishbone, Level, MeasureStatus, Status
from complaints.figures import Figure, Kind
from complaints.kpis import KpiBreakdown, Kpis, Rate
from complaints.periods import Period
from complaints.schema import TICKETS, ColType
from complaints.selections import Selection
from complaints.sla import DEFAULT_TZ
from complaints.staff import STAFF_FIGURES, StaffKpis
from server.xlsx import printing
from server.xlsx import styles as look
from server.xlsx.bulk import (
    EXCEL_ROWS,
    BulkColumn,
    CellStyles,
    EncodedRows,
    LocalTime,
    Selector,
    SheetParts,
    SheetXml,
    encode_sheets,
)
from server.xlsx.cellformat import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    INT_FORMAT,
    TEXT_FORMAT,
    escape_text,
    looks_like_formula,
)
from server.xlsx.zipstream import LIMIT, Chunk, ZipStream

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TicketSheet:
    key: str
    zh: str
    en: str
    selection: Selection
    """The tickets received in the period that the sheet lists."""

    def title(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


TICKET_SHEETS: tuple[TicketSheet, ...] = (
    TicketSheet("all", "全部投诉", "All tickets", selections.EVERY),
    TicketSheet("overdue", "超时投诉", "Overdue", selections.OVERDUE),
    TicketSheet("warning", "红黄预警", "Red & yellow", selections.RED_OR_YELLOW),
    TicketSheet("revisit", "待回访", "Revisit due", selections.REVISIT_DUE),
    TicketSheet("training", "培训案例", "Training cases", selections.TRAINING),
)
"""The first, All tickets, holds every ticket received (`selections.EVERY`): the rows the caller passes in."""
KPI_TITLE = {"zh": "KPI", "en": "KPIs"}
ANALYSIS_TITLE = {"zh": "月度分析", "en": "Monthly analysis"}
APPEAL_TITLE = {"zh": "申诉登记", "en": "Appeals"}
STAFF_TITLE = {"zh": "人员考核", "en": "Staff"}
RICH_SHEETS = 2
"""Sheets built with openpyxl before the ticket sheets (so these are sheet3.xml, sheet4.xml, …)."""
BRANCH_HEADER = {"zh": "分支机构", "en": "Branch"}
FREEZE_COLUMNS = 2
"""Branch and ticket id stay in view when scrolling right."""


# --- what the rich sheets show ------------------------------------------------------------------------


class CauseFigures(Protocol):
    @property
    def cause(self) -> str: ...
    @property
    def tickets(self) -> int: ...
    @property
    def improvement(self) -> Rate: ...
    @property
    def measures(self) -> Sequence[tuple[str, int]]: ...


class TrendFigures(Protocol):
    @property
    def month(self) -> str: ...
    @property
    def kpis(self) -> Kpis: ...


class Figures(Protocol):
    """What the KPI and analysis sheets show: `server.services.analysis.Analysis`, the dashboard's figures."""

    @property
    def branches(self) -> Sequence[str]: ...
    @property
    def zones(self) -> Mapping[str, str]: ...
    @property
    def period(self) -> Period: ...
    @property
    def kpis(self) -> KpiBreakdown: ...
    @property
    def types(self) -> Mapping[Category, int]: ...
    @property
    def types_by_branch(self) -> Mapping[str, Mapping[Category, int]]: ...
    @property
    def root_causes(self) -> Sequence[CauseFigures]: ...
    @property
    def trends(self) -> Sequence[TrendFigures]: ...


# --- columns and styles ------------------------------------------------------------------------------


IDENTIFIERS = frozenset({"ticket_id", "group_id"})
"""Text columns that hold our own numbers, never a customer's phone number."""


def ticket_columns(lang: str, show_phones: bool) -> list[BulkColumn]:
    """Branch, then every visible column of the Tickets sheet (no sync bookkeeping)."""
    columns = [BulkColumn("branch", BRANCH_HEADER[lang], 10, TICKETS.column("ticket_id").type)]
    for c in TICKETS.columns:
        if c.hidden:
            continue
        phone = c.key == "contact" and not show_phones
        inside = c.type is ColType.TEXT and c.key not in IDENTIFIERS and not show_phones
        columns.append(BulkColumn(c.key, c.header(lang), c.width, c.type, c.enum, c.computed, phone, inside))
    return columns


def register_styles(wb: Workbook) -> CellStyles:
    """Add the ticket sheets' cell styles to ``wb`` (so its styles.xml holds them) and return their ids."""
    scratch = wb.create_sheet("styles")
    rows = iter(range(1, 100))

    def style(fill: str, font: Font, number_format: str, quote: bool = False) -> int:
        cell = scratch.cell(next(rows), 1)  # a cell of its own: openpyxl keeps the style object it registers
        cell.fill = look.solid(fill)
        cell.font = font
        cell.number_format = number_format
        cell.quotePrefix = quote
        cell.alignment = Alignment(vertical="top")
        return cell.style_id

    header = style(look.HEADER_FILL, look.HEADER_FONT, TEXT_FORMAT)
    header_computed = style(look.COMPUTED_HEADER_FILL, look.HEADER_FONT, TEXT_FORMAT)
    kinds: dict[str, dict[str, int]] = {k: {} for k in ("text", "quoted", "datetime", "date", "integer")}
    for level in Level:
        fill, font = look.LEVEL_FILL[level], Font(name=look.FONT_NAME, size=11, color=look.LEVEL_TEXT[level])
        kinds["text"][level.value] = style(fill, font, TEXT_FORMAT)
        kinds["quoted"][level.value] = style(fill, font, TEXT_FORMAT, quote=True)
        kinds["datetime"][level.value] = style(fill, font, DATETIME_FORMAT)
        kinds["date"][level.value] = style(fill, font, DATE_FORMAT)
        kinds["integer"][level.value] = style(fill, font, INT_FORMAT)
    wb.remove(scratch)
    return CellStyles(header, header_computed, **kinds)


# --- ticket rows ---------------------------------------------------------------------------------------


def row_selectors(keys: Sequence[str]) -> dict[str, Selector | None]:
    """Per ticket sheet, whether a row of the All sheet belongs in it: its `Selection` in Python.

    ``keys`` are the columns after the branch code (a row's values are the
    code, then these, as stored). A test compares them with the SQL of
    `server.storage.selections.selection_clause`.
    """
    return {spec.key: row_test(spec.selection, keys) for spec in TICKET_SHEETS}


def row_test(selection: Selection, keys: Sequence[str]) -> Selector | None:
    """``selection`` over stored row values, as `server.storage.selections.selection_clause` reads them.

    Only the criteria of ticket sheets are known here (cancellation, levels,
    overdue and revisit flags, training); flags are whole codes of the stored
    comma-separated list. None when every row passes.
    """
    at = {k: keys.index(k) + 1 for k in ("status", "cancelled_at", "level", "flags", "training_case")}
    status_at, cancelled_at, level_at, flags_at, training_at = at.values()
    cancelled = Status.CANCELLED.value

    def flagged(codes: frozenset[str]) -> Selector:
        return lambda v: bool(v[flags_at]) and not codes.isdisjoint(v[flags_at].split(","))

    tests: list[Selector] = []
    s = selection
    if s.cancelled is not None:
        live = not s.cancelled
        tests.append(lambda v: (v[status_at] != cancelled and v[cancelled_at] is None) is live)
    if s.levels:
        levels = frozenset(lv.value for lv in s.levels)
        tests.append(lambda v: (v[level_at] or Level.BLUE.value) in levels)
    if s.overdue:
        tests.append(flagged(frozenset(f.value for f in selections.OVERDUE_FLAGS)))
    if s.revisit_due:
        tests.append(flagged(frozenset(f.value for f in selections.REVISIT_FLAGS)))
    if s.training:
        tests.append(lambda v: bool(v[training_at]))
    unknown = (s.status, s.category, s.uncategorised, s.unfinished, s.grouped, s.repeat, s.major)
    if any(unknown) or s.department is not None:
        raise ValueError(f"a ticket sheet cannot select by {s}")
    if len(tests) <= 1:
        return tests[0] if tests else None
    first, second, *more = tests
    if not more:
        return lambda v: first(v) and second(v)
    return lambda v: all(test(v) for test in tests)


class _Spool:
    """Encoded rows of a sheet kept in an anonymous temporary file until the sheet's turn comes."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by chunks()
        self.runs: list[tuple[int, int, int, int]] = []  # (compressed bytes, CRC, size, rows)

    def put(self, encoded: EncodedRows) -> None:
        if encoded.rows:
            self.file.write(encoded.chunk.data)
            self.runs.append((len(encoded.chunk.data), encoded.chunk.crc, encoded.chunk.size, encoded.rows))

    def chunks(self) -> Iterator[EncodedRows]:
        with self.file:
            self.file.seek(0)
            for length, crc, size, rows in self.runs:
                yield EncodedRows(Chunk(self.file.read(length), crc, size), rows)


class RowEncoder:
    """Encodes runs of the All sheet's rows (made from picklable arguments: a worker process holds one)."""

    def __init__(self, columns: Sequence[BulkColumn], styles: CellStyles, lang: str) -> None:
        self.sheet = SheetXml(columns, styles, lang, freeze_columns=FREEZE_COLUMNS)
        self.keys = [c.key for c in columns[1:]]
        """The stored columns a row holds, in order (the branch code comes first, from the run)."""
        self.selectors = row_selectors(self.keys)
        self._level_at = self.keys.index("level") + 1
        self._times: dict[str, LocalTime] = {}

    def encode(self, code: str, zone: str, rows: Iterable[Sequence[Any]]) -> dict[str, EncodedRows]:
        """Rows of `keys` of branch ``code`` (time zone ``zone``), encoded for every ticket sheet.

        Each row is encoded once and deflated into the All sheet and each other
        ticket sheet that holds it (`row_selectors`).
        """
        local = self._times.get(zone)
        if local is None:
            local = self._times[zone] = LocalTime(ZoneInfo(zone))
        return encode_sheets(self.sheet, self._lines(code, local, rows), self.selectors)

    def _lines(
        self, code: str, local: LocalTime, rows: Iterable[Sequence[Any]]
    ) -> Iterator[tuple[list[Any], str | None, LocalTime]]:
        at = self._level_at
        for row in rows:
            values = [code, *row]
            yield values, values[at], local


def _spooled(sheets: dict[str, EncodedRows], spools: dict[str, _Spool]) -> EncodedRows:
    """Keep the other sheets' rows of a run of the All sheet; the All sheet's rows."""
    for key, spool in spools.items():
        spool.put(sheets[key])
    return sheets["all"]


# --- the rich sheets (openpyxl) -------------------------------------------------------------------------

PERCENT = "0.0%"


NUMBER_FORMATS = {Kind.RATE: PERCENT, Kind.DAYS: "0.0"}
KPI_COLUMNS: tuple[Figure, ...] = figures.TABLE
"""The KPI sheet's columns: the dashboard's KPI tables show the same figures (`complaints.figures`)."""


def number_format(figure: Figure) -> str:
    return NUMBER_FORMATS.get(figure.kind, "0")


WORDS = {
    "zh": {
        "title": "投诉汇总分析",
        "period": "期间",
        "branches": "分支机构",
        "generated": "生成时间",
        "phones": "联系电话已脱敏",
        "overall": "合计",
        "by_branch": "按分支机构",
        "by_department": "按责任部门",
        "unrouted": "未分派",
        "types": "投诉类型分布",
        "category": "投诉类别",
        "causes": "根本原因与改进落实",
        "cause": "根本原因",
        "tickets": "投诉单数",
        "done": "改进已落实",
        "rate": "改进落实率",
        "measures": "改进措施",
        "trends": "月度趋势",
        "fishbone": "根因类别（鱼骨图）",
        "fishbone_branch": "根因类别",
        "measure_state": "改进措施状态",
        "state": "状态",
        "overdue": "超时未完成",
        "watched": "已完成·观察期",
        "effective": "已完成·已见效",
        "not_effective": "未见效（未完成或原因复发）",
        "month": "月份",
        "notes": "说明",
        "local_days": "所选分支机构分处不同时区：每张投诉单按其分支机构的当地日期计入期间。",
        "cancelled": "已撤销的投诉单只计入“已撤销”，不计入受理量及其他指标；“全部投诉”表也列出它们。",
    },
    "en": {
        "title": "Consolidated complaint analysis",
        "period": "Period",
        "branches": "Branches",
        "generated": "Generated at",
        "phones": "Contact numbers are masked",
        "overall": "Overall",
        "by_branch": "By branch",
        "by_department": "By department",
        "unrouted": "Unrouted",
        "types": "Type distribution",
        "category": "Category",
        "causes": "Root causes and improvement status",
        "cause": "Root cause",
        "tickets": "Tickets",
        "done": "Improvement done",
        "rate": "Improvement rate",
        "measures": "Improvement measures",
        "trends": "Monthly trends",
        "fishbone": "Root-cause categories (fishbone)",
        "fishbone_branch": "Root-cause category",
        "measure_state": "Improvement measures",
        "state": "State",
        "overdue": "Overdue",
        "watched": "Done, watched",
        "effective": "Done, effective",
        "not_effective": "Not effective (not done or cause recurred)",
        "month": "Month",
        "notes": "Notes",
        "local_days": "Branches in several time zones: each ticket counts by its branch's local days.",
        "cancelled": "Cancelled tickets count only as cancelled, in no other figure; All tickets lists them.",
    },
}


def _header(ws: Any, row: int, values: Sequence[str]) -> None:
    for i, text in enumerate(values, 1):
        cell = ws.cell(row, i, text)
        cell.font = look.HEADER_FONT
        cell.fill = look.solid(look.HEADER_FILL)
        cell.alignment = look.HEADER_ALIGNMENT


def _title(ws: Any, row: int, text: str) -> None:
    ws.cell(row, 1, text).font = Font(name=look.FONT_NAME, size=12, bold=True)


def _put_text(ws: Any, row: int, column: int, text: str) -> None:
    """Free text (branch names, departments, causes, measures) as a string cell, never a formula."""
    cell = ws.cell(row, column)
    cell.value = escape_text(text)
    cell.data_type = "s"
    cell.quotePrefix = looks_like_formula(text)


def _phones_shown(show_phones: bool) -> Callable[[str], str]:
    """How free text typed at a branch appears: as typed, or with every phone number in it masked."""
    return (lambda text: text) if show_phones else mask_phones


def _kpi_table(ws: Any, row: int, heading: str, groups: Sequence[tuple[str, Kpis]], lang: str) -> int:
    _title(ws, row, heading)
    _header(ws, row + 1, ["", *(figure.label(lang) for figure in KPI_COLUMNS)])
    for r, (name, kpis) in enumerate(groups, row + 2):
        _put_text(ws, r, 1, name)
        for c, figure in enumerate(KPI_COLUMNS, 2):
            ws.cell(r, c, figure.value(kpis)).number_format = number_format(figure)
    return row + 2 + len(groups) + 1


def appeal_sheet(
    wb: Workbook, headers: Sequence[str], rows: Sequence[Sequence[str]], lang: str, heading: printing.Heading
) -> None:
    """The appeal register (`server.services.appeals`): a header row, one row per appeal, filtered, A4."""
    ws = wb.create_sheet(APPEAL_TITLE[lang])
    _header(ws, 1, headers)
    for r, cells in enumerate(rows, start=2):
        for c, text in enumerate(cells, start=1):
            _put_text(ws, r, c, text)
    for c, width in enumerate((10, 22, 14, 18, 17, 17, 12, 10), start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    last = f"{get_column_letter(max(1, len(headers)))}{len(rows) + 1}"
    ws.auto_filter.ref = f"A1:{last}"
    ws.freeze_panes = "A2"
    printing.set_up(ws, heading, title_rows="1:1", area=f"A1:{last}")


STAFF_WORDS = {"zh": ("角色", "分支机构", "姓名"), "en": ("Role", "Branch", "Name")}


def staff_sheet(
    wb: Workbook, people: Sequence[StaffKpis], lang: str, show_phones: bool, heading: printing.Heading
) -> None:
    """Per-staff KPIs (`complaints.staff`): one row per coordinator and investigator, the dashboard's figures.

    Rates are fractions shown as percentages (empty when there was nothing to count).
    """
    ws = wb.create_sheet(STAFF_TITLE[lang])
    _header(ws, 1, [*STAFF_WORDS[lang], *(f.label(lang) for f in STAFF_FIGURES)])
    shown = _phones_shown(show_phones)
    for r, person in enumerate(people, start=2):
        ws.cell(r, 1, person.key.role.label(lang))
        _put_text(ws, r, 2, person.key.branch)
        _put_text(ws, r, 3, shown(person.key.name))
        for c, figure in enumerate(STAFF_FIGURES, start=4):
            value = figure.value(person)
            if figure.rate:
                ws.cell(r, c, value.rate).number_format = PERCENT
            else:
                ws.cell(r, c, value).number_format = "0"
    for c, width in enumerate((12, 10, 20, *(12 for _ in STAFF_FIGURES)), start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    last = f"{get_column_letter(3 + len(STAFF_FIGURES))}{len(people) + 1}"
    ws.auto_filter.ref = f"A1:{last}"
    ws.freeze_panes = "D2"
    printing.set_up(ws, heading, title_rows="1:1", area=f"A1:{last}")


def kpi_sheet(
    wb: Workbook,
    analysis: Figures,
    lang: str,
    show_phones: bool,
    generated_at: datetime | None,
    timezone: str = DEFAULT_TZ,
    heading: printing.Heading | None = None,
) -> None:
    """KPIs overall, by branch and by department (values equal to `analysis`), and what they leave out.

    The period is shown with its last day included; ``generated_at`` in ``timezone``. It prints on one
    A4 landscape page.
    """
    w = WORDS[lang]
    ws = wb.create_sheet(KPI_TITLE[lang])
    ws.cell(1, 1, w["title"]).font = Font(name=look.FONT_NAME, size=14, bold=True)
    ws.cell(2, 1, w["period"])
    ws.cell(2, 2, analysis.period.label())
    ws.cell(3, 1, w["branches"])
    _put_text(ws, 3, 2, ", ".join(analysis.branches))
    if generated_at is not None:
        ws.cell(4, 1, w["generated"])
        ws.cell(4, 2, f"{generated_at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M}")
    if not show_phones:
        ws.cell(5, 1, w["phones"])
    k = analysis.kpis
    row = _kpi_table(ws, 7, w["by_branch"], [(w["overall"], k.overall), *k.by_branch.items()], lang)
    shown = _phones_shown(show_phones)
    departments = [(shown(name) or w["unrouted"], kpis) for name, kpis in k.by_department.items()]
    row = _kpi_table(ws, row, w["by_department"], departments, lang)
    _title(ws, row, w["notes"])
    notes = [w["cancelled"]]
    if len(set(analysis.zones.values())) > 1:
        notes.append(w["local_days"])
    for i, note in enumerate(notes, row + 1):
        ws.cell(i, 1, note)
    ws.column_dimensions["A"].width = 20
    for c in range(2, len(KPI_COLUMNS) + 2):
        ws.column_dimensions[get_column_letter(c)].width = 13
    ws.freeze_panes = "B9"
    if heading is not None:
        area = f"A1:{get_column_letter(len(KPI_COLUMNS) + 1)}{row + len(notes)}"
        printing.set_up(ws, heading, title_rows=None, area=area, pages_high=1)


def analysis_sheet(
    wb: Workbook, analysis: Figures, lang: str, show_phones: bool, heading: printing.Heading | None = None
) -> None:
    """Type distribution, root causes and improvement status, monthly trends, each with a chart."""
    w = WORDS[lang]
    ws = wb.create_sheet(ANALYSIS_TITLE[lang])
    if heading is not None:
        printing.set_up(ws, heading, title_rows=None)  # the used range: its charts print too
    # type distribution: overall and per branch
    _title(ws, 1, w["types"])
    branches = list(analysis.types_by_branch)
    _header(ws, 2, [w["category"], w["overall"], *branches])
    for r, category in enumerate(Category, 3):
        ws.cell(r, 1, category.label(lang))
        ws.cell(r, 2, analysis.types[category])
        for c, code in enumerate(branches, 3):
            ws.cell(r, c, analysis.types_by_branch[code][category])
    last = 2 + len(Category)
    chart = BarChart()
    chart.title = w["types"]
    chart.add_data(Reference(ws, min_col=2, min_row=2, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=3, max_row=last))
    chart.height, chart.width = 7.5, 15
    ws.add_chart(chart, f"{get_column_letter(len(branches) + 4)}1")
    # root causes
    row = max(last + 2, 17)
    _title(ws, row, w["causes"])
    _header(ws, row + 1, [w["cause"], w["tickets"], w["done"], w["rate"], w["measures"]])
    first_cause = row + 2
    shown = _phones_shown(show_phones)
    for r, cause in enumerate(analysis.root_causes, first_cause):
        _put_text(ws, r, 1, shown(cause.cause))
        ws.cell(r, 2, cause.tickets)
        ws.cell(r, 3, cause.improvement.hits)
        ws.cell(r, 4, cause.improvement.rate).number_format = PERCENT
        measures = "; ".join(f"{shown(text)} ({n})" for text, n in cause.measures)
        _put_text(ws, r, 5, measures)
    if analysis.root_causes:
        last_cause = first_cause + len(analysis.root_causes) - 1
        causes = BarChart()
        causes.type = "bar"
        causes.title = w["causes"]
        causes.add_data(
            Reference(ws, min_col=2, max_col=3, min_row=row + 1, max_row=last_cause), titles_from_data=True
        )
        causes.set_categories(Reference(ws, min_col=1, min_row=first_cause, max_row=last_cause))
        causes.height, causes.width = 7.5, 15
        ws.add_chart(causes, f"G{row}")
    row = _fishbone_section(ws, max(first_cause + len(analysis.root_causes) + 2, row + 18), analysis, lang)
    # monthly trends
    _title(ws, row, w["trends"])
    _header(ws, row + 1, [w["month"], *(figure.label(lang) for figure in figures.TRENDS)])
    first_month = row + 2
    for r, trend in enumerate(analysis.trends, first_month):
        ws.cell(r, 1, trend.month)
        for c, figure in enumerate(figures.TRENDS, 2):
            ws.cell(r, c, figure.value(trend.kpis)).number_format = number_format(figure)
    last_month = first_month + len(analysis.trends) - 1
    volume = LineChart()
    volume.title = w["trends"]
    volume.add_data(Reference(ws, min_col=2, min_row=row + 1, max_row=last_month), titles_from_data=True)
    volume.add_data(
        Reference(ws, min_col=6, max_col=7, min_row=row + 1, max_row=last_month), titles_from_data=True
    )
    volume.set_categories(Reference(ws, min_col=1, min_row=first_month, max_row=last_month))
    volume.height, volume.width = 7.5, 15
    ws.add_chart(volume, f"I{row}")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["E"].width = 40


def _fishbone_section(ws: Any, row: int, analysis: Figures, lang: str) -> int:
    """The fishbone counts overall and per branch, with a chart, and the state of the measures; returns
    the next free row."""
    w = WORDS[lang]
    overall, branches = analysis.kpis.overall, analysis.kpis.by_branch
    start = row
    _title(ws, row, w["fishbone"])
    _header(ws, row + 1, [w["fishbone_branch"], w["overall"], *branches])
    first = row + 2
    for r, branch in enumerate(Fishbone, first):
        ws.cell(r, 1, branch.label(lang))
        ws.cell(r, 2, overall.fishbone[branch])
        for c, kpis in enumerate(branches.values(), 3):
            ws.cell(r, c, kpis.fishbone[branch])
    last = first + len(Fishbone) - 1
    chart = BarChart()
    chart.type = "bar"
    chart.title = w["fishbone"]
    chart.add_data(Reference(ws, min_col=2, min_row=row + 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.height, chart.width = 7.5, 15
    ws.add_chart(chart, f"{get_column_letter(len(branches) + 4)}{row}")
    row = last + 2
    _title(ws, row, w["measure_state"])
    _header(ws, row + 1, [w["state"], w["overall"], *branches])
    states: list[tuple[str, Callable[[Kpis], int]]] = [
        *((m.label(lang), lambda k, m=m: k.measures[m]) for m in MeasureStatus),
        (w["overdue"], lambda k: k.measures_overdue),
        (w["watched"], lambda k: k.improvement.unknown),
        (w["effective"], lambda k: k.improvement.hits),
        (w["not_effective"], lambda k: k.improvement.total - k.improvement.hits),
    ]
    for r, (label, value) in enumerate(states, row + 2):
        ws.cell(r, 1, label)
        ws.cell(r, 2, value(overall))
        for c, kpis in enumerate(branches.values(), 3):
            ws.cell(r, c, value(kpis))
    return max(row + 2 + len(states) + 1, start + 18)  # below the chart


# --- the package --------------------------------------------------------------------------------------


class ConsolidatedWorkbook:
    """The package, written front to back to ``target`` (a file or a stream; no seeking needed).

    First `write_ticket_sheets` (streamed as they come), then `finish` with
    the figures: the KPI and analysis sheets and the rest of the package.
    """

    def __init__(
        self,
        target: IO[bytes],
        lang: str,
        show_phones: bool,
        *,
        row_limit: int = EXCEL_ROWS,
        byte_limit: int = LIMIT,
        branches: Sequence[str] | None = None,
        period: Period | None = None,
    ) -> None:
        self.lang = lang
        self.heading = printing.consolidated_heading(branches, period.label() if period else "", lang)
        """Every sheet's page header: the branches (None: all) and the period."""
        self.show_phones = show_phones
        self.row_limit = row_limit
        """Rows per sheet part, header included."""
        self.byte_limit = byte_limit
        self._wb = Workbook()
        self._wb.remove(self._wb.active)
        self.styles = register_styles(self._wb)
        self.columns = ticket_columns(lang, show_phones)
        self._sheet = SheetXml(
            self.columns, self.styles, lang, freeze_columns=FREEZE_COLUMNS, heading=self.heading
        )
        self._package = ZipStream(target)
        self._numbers = iter(range(RICH_SHEETS + 1, 1 << 20))
        self._written: list[tuple[str, int]] = []
        """(title, rows) of each ticket sheet part, in order."""

    @property
    def encoder_args(self) -> tuple[Sequence[BulkColumn], CellStyles, str]:
        """What a `RowEncoder` for this workbook is made from."""
        return self.columns, self.styles, self.lang

    def _next_path(self) -> str:
        return f"xl/worksheets/sheet{next(self._numbers)}.xml"

    def write_ticket_sheets(
        self, runs: Iterable[dict[str, EncodedRows]], progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Write every ticket sheet from ``runs`` (`RowEncoder.encode` of the All sheet's runs, in order).

        The All sheet is written as the runs come; the other sheets' rows wait
        in temporary files until then. ``progress(n)`` is called as ``n`` more
        rows are written. Returns the rows of each ticket sheet.
        """
        counts: dict[str, int] = {}
        spools = {spec.key: _Spool() for spec in TICKET_SHEETS[1:]}
        try:
            for spec in TICKET_SHEETS:
                parts = SheetParts(
                    self._sheet,
                    spec.title(self.lang),
                    self._package,
                    self._next_path,
                    row_limit=self.row_limit,
                    byte_limit=self.byte_limit,
                )
                encoded_runs: Iterable[EncodedRows]
                if spec.key == "all":
                    encoded_runs = (_spooled(sheets, spools) for sheets in runs)
                else:
                    encoded_runs = spools[spec.key].chunks()
                rows = 0
                for encoded in encoded_runs:
                    parts.add(encoded)
                    rows += encoded.rows
                    if progress is not None and encoded.rows:
                        progress(encoded.rows)
                counts[spec.key] = rows
                self._written += [(p.title, p.rows) for p in parts.close()]
        finally:
            for spool in spools.values():
                spool.file.close()
        return counts

    def finish(
        self,
        analysis: Figures,
        generated_at: datetime | None,
        timezone: str = DEFAULT_TZ,
        appeals: tuple[Sequence[str], Sequence[Sequence[str]]] = ((), ()),
        staff: Sequence[StaffKpis] = (),
    ) -> list[str]:
        """Add the KPI and analysis sheets and the rest of the package; the sheet titles in tab order.

        ``appeals``: the headers and rows of the appeal register; ``staff``: the per-staff KPIs, the
        last sheet.

        ``generated_at`` is shown in ``timezone`` (each branch's tickets are placed in its own local days).
        """
        wb = self._wb
        kpi_sheet(wb, analysis, self.lang, self.show_phones, generated_at, timezone, self.heading)
        analysis_sheet(wb, analysis, self.lang, self.show_phones, self.heading)
        for title, rows in self._written:
            # a placeholder: only what workbook.xml says of it is kept (filter, print titles and area)
            placeholder = wb.create_sheet(title)
            placeholder.auto_filter.ref = self._sheet.filter_ref(rows)
            placeholder.print_title_rows = "1:1"
            placeholder.print_area = self._sheet.filter_ref(rows)
        appeal_sheet(wb, *appeals, self.lang, self.heading)
        staff_sheet(wb, staff, self.lang, self.show_phones, self.heading)
        buffer = io.BytesIO()
        wb.save(buffer)
        first = RICH_SHEETS + 1
        streamed = {f"xl/worksheets/sheet{n}.xml" for n in range(first, first + len(self._written))}
        with zipfile.ZipFile(buffer) as rich:
            names = set(rich.namelist())
            missing = streamed - names
            if missing:
                raise AssertionError(
                    f"openpyxl did not name the ticket sheets as expected: {sorted(missing)}"
                )
            for name in rich.namelist():
                if name not in streamed:
                    self._package.writestr(name, rich.read(name))
        self._package.close()
        return [ws.title for ws in wb.worksheets]
