"""The one row reader: a branch workbook's rows of cell values -> settings, tickets, tasks, log, routes.

Any engine feeds it (calamine and openpyxl on the server, xlwings in the
add-in): it hands over the sheet titles and, for a title, the sheet's rows from
row 1, each a sequence of cell values from column A (`RowsOf`). Cells are
parsed by `complaints.cells`, columns found by `complaints.layout`. Every
problem is collected, naming sheet, row and column in both languages; the
caller decides whether any problem refuses the whole workbook.

How strict a read is depends on the door (`ReadPolicy`): an upload is an
import and refuses incomplete or impossible rows; a macro reads work in
progress, where a new ticket has only its number and receipt time and the
rules flag what is missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from complaints.cells import EXCEL_1900, CellValueError, reader
from complaints.layout import HEADER_SEARCH_ROWS, Layout, find_layout, find_sheets, missing_sheet
from complaints.model import LogEntry, Task, Ticket, new_sync_key
from complaints.problems import Problem
from complaints.routing import RoutingRule
from complaints.schema import (
    LOG,
    ROUTING,
    SETTING_KEYS,
    SETTINGS,
    SYNC,
    TASKS,
    TICKETS,
    BranchSettings,
    ColType,
    Column,
    Sheet,
)
from complaints.sla import DEFAULT_TZ, Due
from complaints.validation import (
    LATEST,
    LOG_COLUMNS,
    TASK_COLUMNS,
    TICKET_COLUMNS,
    check_ticket,
    check_values,
)
from complaints.validation import Problem as Invalid
from complaints.wire import DEADLINE_COLUMNS

Rows = Iterable[Sequence[object]]
"""A sheet's rows from row 1, each its cell values from column A (blank: None or "")."""
RowsOf = Callable[[str], Rows]
"""The rows of the sheet with a given title."""

TICKET_FIELDS = frozenset(f.name for f in dataclasses.fields(Ticket))
RECOMPUTED: frozenset[str] = frozenset({"status", "flags", *DEADLINE_COLUMNS})
"""Computed ticket columns that the rules derive afresh from the typed ones."""
RECORD_KEYS: dict[str, tuple[str, ...]] = {"tickets": ("ticket_id", "received_at")}
"""Cells a row needs to be a record while it is being typed (other sheets: their required columns)."""


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    """How strict a read is."""

    now: datetime | None = None
    """Events recorded after this instant are refused (deadlines may lie ahead); None: not checked."""
    complete: bool = False
    """Every required cell filled, milestones in order (an import); else a ticket needs number and receipt."""
    keep_computed: bool = True
    """Read status, flags and deadlines as they stand (for round trips); else leave them to the rules."""


@dataclass(slots=True)
class BranchWorkbook:
    """Everything read from one branch workbook, and every problem found."""

    settings: BranchSettings
    tickets: list[Ticket] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    routes: list[RoutingRule] = field(default_factory=list)
    deadlines: dict[str, dict[str, Due]] = field(default_factory=dict)
    """Ticket sync key -> the computed deadline cells as they stand (when computed columns are kept)."""
    rows: dict[str, int] = field(default_factory=dict)
    """Sync key -> the Excel row it was read from (on its own sheet)."""
    new_keys: set[str] = field(default_factory=set)
    """Sync keys made by this read for rows typed without one; the writer writes them back."""
    sync_state: dict[str, str] = field(default_factory=dict)
    """The hidden sync bookkeeping sheet, key -> value."""
    titles: dict[str, str] = field(default_factory=dict)
    """Schema sheet key -> the workbook's title for it."""
    layouts: dict[str, Layout] = field(default_factory=dict)
    """Schema sheet key -> where its columns are, for each sheet read."""
    problems: list[Problem] = field(default_factory=list)
    """What is wrong with the workbook, except its Routing sheet."""
    routing_problems: list[Problem] = field(default_factory=list)
    """What is wrong with the Routing sheet (needed only to route and to name department heads)."""


def read_book(
    titles: Sequence[str], rows_of: RowsOf, *, epoch: datetime = EXCEL_1900, policy: ReadPolicy = ReadPolicy()
) -> BranchWorkbook:
    """Read every schema sheet of a workbook with sheets ``titles``; problems are collected, never raised.

    ``epoch`` is day 0 of the workbook's date system (for serial numbers typed into date columns).
    """
    found, problems = find_sheets(titles)
    if "tickets" not in found:
        return BranchWorkbook(
            BranchSettings(), titles=found, problems=[*problems, missing_sheet(TICKETS, titles)]
        )
    sheets = _BookReader(rows_of, epoch, policy, problems)
    book = BranchWorkbook(sheets.settings(found.get("settings"), found["tickets"]), titles=found)
    book.sync_state = sheets.key_values(found.get("sync"))
    sheets.tickets(found["tickets"], book)
    if "tasks" in found:
        sheets.tasks(found["tasks"], book)
    if "log" in found:
        sheets.log(found["log"], book)
    book.problems = sheets.problems
    if "routing" in found:
        sheets.problems = book.routing_problems
        book.routes = sheets.routes(found["routing"])
    book.layouts = sheets.layouts
    return book


def read_settings(
    titles: Sequence[str], rows_of: RowsOf
) -> tuple[BranchSettings, dict[str, str], list[Problem]]:
    """The Settings sheet, the schema sheet titles found, and problems with either (to write a workbook)."""
    found, problems = find_sheets(titles)
    sheets = _BookReader(rows_of, EXCEL_1900, ReadPolicy(), problems)
    tickets = found.get("tickets", TICKETS.zh)
    return sheets.settings(found.get("settings"), tickets), found, sheets.problems


class _BookReader:
    """Reads the sheets of one workbook, collecting problems; the Settings sheet first (zone, branch)."""

    def __init__(self, rows_of: RowsOf, epoch: datetime, policy: ReadPolicy, problems: list[Problem]) -> None:
        self.rows_of = rows_of
        self.epoch = epoch
        self.policy = policy
        self.problems = problems
        self.layouts: dict[str, Layout] = {}
        self.zone = ZoneInfo(DEFAULT_TZ)
        self.branch = ""

    # --- rows ----------------------------------------------------------------------------

    def records(
        self, sheet: Sheet, title: str, skip: frozenset[str] = frozenset()
    ) -> Iterator[tuple[int, Layout, dict[str, object]]]:
        """(row number, layout, key -> model value) for every non-empty row of a sheet."""
        rows = iter(self.rows_of(title))
        head = list(islice(rows, HEADER_SEARCH_ROWS))
        layout, problems = find_layout(sheet, title, head)
        if layout is None:
            self.problems.extend(problems)
            return
        self.layouts[sheet.key] = layout
        zone, epoch = self.zone, self.epoch
        # one entry per position in the row: None for the user's own (or empty, or skipped) columns
        plan: list[tuple[str, Any, bool, bool] | None] = [None] * (max(layout.index.values()) + 1)
        for key, position in layout.index.items():
            if key in skip:
                continue
            column = sheet.column(key)
            text = column.type is ColType.TEXT
            blank_if_spaces = not text or column.required
            plan[position] = (key, reader(column, zone, epoch), text, blank_if_spaces)
        required = [c.key for c in sheet.columns if _needed(c, sheet, self.policy) and c.key in layout.index]
        every_required = frozenset(required)
        for number, values in enumerate(chain(head[layout.header_row :], rows), start=layout.header_row + 1):
            out: dict[str, object] = {}
            failed: set[str] = set()
            for entry, raw in zip(plan, values, strict=False):
                if raw == "" or raw is None or entry is None:  # most cells of a wide sheet are empty
                    continue
                key, read, text, blank_if_spaces = entry
                if type(raw) is str:
                    if blank_if_spaces and not raw.strip():
                        continue
                    if text:  # most filled cells: text as typed, nothing to parse
                        out[key] = raw
                        continue
                elif blank_if_spaces and isinstance(raw, str) and not raw.strip():
                    continue
                try:
                    value = read(raw)
                except CellValueError as exc:
                    failed.add(key)
                    self.problems.append(layout.problem(exc.en, exc.zh, key, number))
                    continue
                out[key] = value
            if not out and not failed:
                continue
            if out.keys() >= every_required:  # nothing required is missing (nor, then, failed)
                yield number, layout, out
                continue
            for key in required:
                if key not in out and key not in failed:
                    failed.add(key)
                    self.problems.append(
                        layout.problem("this required cell is empty", "此必填单元格为空", key, number)
                    )
            if failed.intersection(required):
                continue
            yield number, layout, out

    def judge(
        self,
        layout: Layout,
        number: int,
        values: dict[str, object],
        columns: dict[str, Column],
        whole: Sequence[Invalid] = (),
    ) -> None:
        """An import answers to the one validation policy (`complaints.validation`), named by cell."""
        if not self.policy.complete:
            return
        found = check_values(values, columns, self.policy.now or LATEST)
        # a wrong value first; what the whole row then breaks (milestone order) follows from it
        for problem in found or whole:
            column = problem.field if problem.field in layout.index else None
            self.problems.append(layout.problem(problem.en, problem.zh, column, number))

    def unique(self, seen: dict[object, int], value: object, layout: Layout, key: str, number: int) -> bool:
        first = seen.setdefault(value, number)
        if first == number:
            return True
        column = layout.sheet.column(key)
        self.problems.append(
            layout.problem(
                f"duplicate {column.en} {value!s}: also on row {first}",
                f"{column.zh}重复：{value!s}，与第 {first} 行相同",
                key,
                number,
            )
        )
        return False

    def unique_key(
        self, values: dict[str, object], seen: dict[object, int], layout: Layout, number: int
    ) -> bool:
        """Whether the row's sync key, if it has one, is no other row's."""
        key = values.get("sync_key")
        if not isinstance(key, str) or not key.strip():
            return True
        values["sync_key"] = key.strip()
        return self.unique(seen, key.strip(), layout, "sync_key", number)

    def sync_key(self, values: dict[str, object], book: BranchWorkbook) -> str:
        """The row's sync key: its own, or a new one for a row typed without (written back later)."""
        key = values.get("sync_key")
        if isinstance(key, str) and key:
            return key
        values["sync_key"] = key = new_sync_key()
        book.new_keys.add(key)
        return key

    def known_ticket(self, known: set[str], values: dict[str, object], layout: Layout, number: int) -> bool:
        if values["ticket_id"] in known:
            return True
        self.problems.append(
            layout.problem(
                f"no ticket {values['ticket_id']} on the Tickets sheet",
                f"“{TICKETS.zh}”表中没有投诉单 {values['ticket_id']}",
                "ticket_id",
                number,
            )
        )
        return False

    # --- sheets --------------------------------------------------------------------------

    def tickets(self, title: str, book: BranchWorkbook) -> None:
        ids: dict[object, int] = {}
        keys: dict[object, int] = {}
        skip = frozenset() if self.policy.keep_computed else RECOMPUTED
        for number, layout, values in self.records(TICKETS, title, skip):
            unique = self.unique(ids, values["ticket_id"], layout, "ticket_id", number)
            if not (self.unique_key(values, keys, layout, number) and unique):
                continue
            key = self.sync_key(values, book)
            deadlines = {k: values.pop(k) for k in DEADLINE_COLUMNS if k in values}
            ticket = Ticket(branch=self.branch, **values)  # type: ignore[arg-type]
            self.judge(layout, number, values, TICKET_COLUMNS, check_ticket(ticket))
            book.tickets.append(ticket)
            book.rows[key] = number
            if deadlines:
                book.deadlines[key] = deadlines  # type: ignore[assignment]

    def tasks(self, title: str, book: BranchWorkbook) -> None:
        known = {t.ticket_id for t in book.tickets}
        numbers: dict[object, int] = {}
        keys: dict[object, int] = {}
        for number, layout, values in self.records(TASKS, title):
            ok = self.known_ticket(known, values, layout, number)
            natural = (values["ticket_id"], values["task_no"])
            ok = self.unique(numbers, natural, layout, "task_no", number) and ok
            if not (self.unique_key(values, keys, layout, number) and ok):
                continue
            self.judge(layout, number, values, TASK_COLUMNS)
            book.rows[self.sync_key(values, book)] = number
            book.tasks.append(Task(**values))  # type: ignore[arg-type]

    def log(self, title: str, book: BranchWorkbook) -> None:
        known = {t.ticket_id for t in book.tickets}
        keys: dict[object, int] = {}
        for number, layout, values in self.records(LOG, title):
            ok = self.known_ticket(known, values, layout, number)
            if not (self.unique_key(values, keys, layout, number) and ok):
                continue
            self.judge(layout, number, values, LOG_COLUMNS)
            book.rows[self.sync_key(values, book)] = number
            book.log.append(LogEntry(**values))  # type: ignore[arg-type]

    def routes(self, title: str) -> list[RoutingRule]:
        routes = []
        seen: dict[object, int] = {}
        for number, layout, values in self.records(ROUTING, title):
            if not self.unique(seen, values["category"], layout, "category", number):
                continue
            try:
                routes.append(RoutingRule.from_row(values))
            except ValueError as exc:
                self.problems.append(layout.problem(str(exc), f"分派规则有误：{exc}", None, number))
        return routes

    def key_values(self, title: str | None) -> dict[str, str]:
        if title is None:
            return {}
        return {str(v["key"]).strip(): str(v.get("value", "")) for _n, _l, v in self.records(SYNC, title)}

    def settings(self, title: str | None, tickets_title: str) -> BranchSettings:
        """The Settings sheet; the language defaults to that of the Tickets sheet's title."""
        language = "en" if tickets_title.strip().casefold() == TICKETS.en.casefold() else "zh"
        if title is None:
            return BranchSettings(language=language)
        labels = {}
        for key, zh, en in SETTING_KEYS:
            labels[zh.casefold()] = labels[en.casefold()] = labels[key] = key
        found: dict[str, tuple[str, int, Layout]] = {}
        for number, layout, values in self.records(SETTINGS, title):
            key = labels.get(str(values.get("key") or "").strip().casefold()) or labels.get(
                str(values.get("label", "")).strip().casefold(), ""
            )
            if key:
                found[key] = (str(values.get("value", "")).strip(), number, layout)
        values = {k: v[0] for k, v in found.items()}
        lang = values.get("language") or language
        if lang not in ("zh", "en"):
            self._setting_problem(found["language"], "language must be zh or en", "语言必须为 zh 或 en")
            lang = language
        zone = values.get("timezone") or DEFAULT_TZ
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self._setting_problem(
                found["timezone"],
                f"unknown time zone {zone!r}; use e.g. Asia/Shanghai",
                f"无法识别的时区 {zone!r}，请填写如 Asia/Shanghai",
            )
            zone = DEFAULT_TZ
        self.branch = values.get("branch", "")
        return BranchSettings(self.branch, values.get("server_url", ""), lang, zone)

    def _setting_problem(self, where: tuple[str, int, Layout], en: str, zh: str) -> None:
        _value, number, layout = where
        self.problems.append(layout.problem(en, zh, "value", number))


def _needed(column: Column, sheet: Sheet, policy: ReadPolicy) -> bool:
    """Whether a row of ``sheet`` without a value for ``column`` is a problem under ``policy``."""
    if not policy.complete and sheet.key in RECORD_KEYS:
        return column.key in RECORD_KEYS[sheet.key]
    return column.required and not column.computed
