"""Read a branch workbook into domain tickets, tasks and log entries — everything, or nothing.

The reader parses cells into model values and reports every problem it finds
(naming sheet, row, column and header) in one `WorkbookError`; it never
returns a partial import. It applies no business rule: computed columns
(status, flags, deadlines) are read as they stand, for round trips, and are
recomputed by `complaints` elsewhere; milestone order is checked by
`complaints.lifecycle.milestone_errors`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from complaints.cells import CellValueError
from complaints.cells import reader as cell_reader
from complaints.lifecycle import milestone_errors
from complaints.model import LogEntry, Task, Ticket, new_sync_key
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
from complaints.wire import DEADLINE_COLUMNS
from server.xlsx.errors import Problem, WorkbookError
from server.xlsx.grid import RowSource, open_grid
from server.xlsx.layout import (
    HEADER_SEARCH_ROWS,
    Layout,
    find_sheets,
    header_problem,
    header_row_of,
    map_columns,
)
from server.xlsx.zipguard import Source, ZipLimits, check_zip

logger = logging.getLogger(__name__)

TICKET_FIELDS = frozenset(f.name for f in dataclasses.fields(Ticket))
DEADLINE_KEYS: frozenset[str] = frozenset(
    {
        "dept_feedback_due",
        "extension_until",
        "promised_at",
        "due",
        "ack_due",
        "plan_due",
        "resolve_due",
        "feedback_due",
        "revisit_from",
        "revisit_until",
        "appeal_risk_at",
    }
)
"""Datetime columns that hold a deadline or a promise, which may lie in the future."""


@dataclass(slots=True)
class BranchWorkbook:
    """Everything read from one branch workbook."""

    settings: BranchSettings
    tickets: list[Ticket] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    routes: list[RoutingRule] = field(default_factory=list)
    deadlines: dict[str, dict[str, Due]] = field(default_factory=dict)
    """Ticket sync key -> the computed deadline cells as they stand (see `template.deadline_cells`)."""
    rows: dict[str, int] = field(default_factory=dict)
    """Sync key -> the Excel row it was read from (on its own sheet)."""
    new_keys: set[str] = field(default_factory=set)
    """Sync keys made by this read for rows typed without one; the writer writes them back."""
    sync_state: dict[str, str] = field(default_factory=dict)
    """The hidden sync bookkeeping sheet, key -> value."""


def read_workbook(
    source: Source, *, now: datetime, engine: str = "calamine", limits: ZipLimits | None = None
) -> BranchWorkbook:
    """Read a branch workbook (.xlsx path, bytes or binary file) or raise `WorkbookError` with every problem.

    ``now`` (aware) is the instant after which no recorded event may lie.
    ``engine`` is "calamine" (fast, default) or "openpyxl" (pure Python reference).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    inventory = check_zip(source, limits)
    handle: str | BinaryIO
    if isinstance(source, bytes | bytearray):
        handle = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        handle = os.fspath(source)
    else:
        handle = source
    with open_grid(handle, inventory.formula_parts, engine) as grid:
        return _Reader(grid, now).read()


def read_settings(grid: RowSource) -> tuple[BranchSettings, dict[str, str], list[Problem]]:
    """The Settings sheet of an open grid, the schema sheet titles found, and problems with either."""
    titles, problems = find_sheets(grid.titles)
    reader = _Reader(grid, datetime.max.replace(tzinfo=UTC))
    reader.problems.extend(problems)
    tickets = titles.get("tickets", TICKETS.zh)
    return reader._settings(titles.get("settings"), tickets), titles, reader.problems


class _Reader:
    def __init__(self, grid: RowSource, now: datetime) -> None:
        self.grid = grid
        self.now = now
        self.problems: list[Problem] = []
        self.settings = BranchSettings()

    # --- the workbook --------------------------------------------------------------------

    def read(self) -> BranchWorkbook:
        titles, problems = find_sheets(self.grid.titles)
        self.problems.extend(problems)
        if "tickets" not in titles:
            sheets = ", ".join(self.grid.titles)
            self.problems.append(
                Problem(
                    f"no '{TICKETS.en}' sheet: is this a branch workbook? (sheets: {sheets})",
                    f"找不到“{TICKETS.zh}”工作表，这是分支机构的投诉工作簿吗？（现有：{sheets}）",
                )
            )
            raise WorkbookError(self.problems)
        self.settings = self._settings(titles.get("settings"), titles["tickets"])
        book = BranchWorkbook(self.settings)
        book.sync_state = self._key_values(titles.get("sync"))
        book.routes = self._routes(titles.get("routing"))
        self._tickets(titles["tickets"], book)
        if "tasks" in titles:
            self._tasks(titles["tasks"], book)
        if "log" in titles:
            self._log(titles["log"], book)
        if self.problems:
            raise WorkbookError(self.problems, self.settings.language)
        logger.info(
            "read %d tickets, %d tasks, %d log entries (%d new sync keys)",
            len(book.tickets),
            len(book.tasks),
            len(book.log),
            len(book.new_keys),
        )
        return book

    # --- rows ----------------------------------------------------------------------------

    def _records(self, sheet: Sheet, title: str) -> Iterator[tuple[int, Layout, dict[str, object]]]:
        """(row number, layout, key -> model value) for every non-empty row of a sheet."""
        rows = self.grid.rows(title)
        head = list(islice(rows, HEADER_SEARCH_ROWS))
        header_row = header_row_of(sheet, head)
        if header_row is None:
            self.problems.append(header_problem(sheet, title))
            return
        layout, problems = map_columns(sheet, title, header_row, head[header_row - 1][1])
        if problems:
            self.problems.extend(problems)
            return
        zone, epoch = self.settings.zone, self.grid.epoch
        # one entry per position in the row: None for the user's own (or empty) columns
        plan: list[tuple[str, Column, Any, bool, bool] | None] = [None] * (max(layout.index.values()) + 1)
        for key, position in layout.index.items():
            column = sheet.column(key)
            blank_if_spaces = column.type is not ColType.TEXT or column.required
            past_only = column.type is ColType.DATETIME and key not in DEADLINE_KEYS
            plan[position] = (key, column, cell_reader(column, zone, epoch), blank_if_spaces, past_only)
        required = [c.key for c in sheet.columns if c.required and not c.computed and c.key in layout.index]
        for number, values in chain(head[header_row:], rows):
            out: dict[str, object] = {}
            failed: set[str] = set()
            for entry, raw in zip(plan, values, strict=False):
                if entry is None or raw == "" or raw is None:
                    continue
                key, column, read, blank_if_spaces, past_only = entry
                if blank_if_spaces and isinstance(raw, str) and not raw.strip():
                    continue
                try:
                    value = read(raw)
                except CellValueError as exc:
                    failed.add(key)
                    self.problems.append(layout.problem(exc.en, exc.zh, key, number))
                    continue
                if past_only and value > self.now:  # type: ignore[operator]
                    failed.add(key)
                    local = value.astimezone(zone).strftime("%Y-%m-%d %H:%M")  # type: ignore[attr-defined]
                    self.problems.append(
                        layout.problem(
                            f"{local} is in the future; record events when they have happened",
                            f"{local} 是将来的时间，请在事情发生后再填写",
                            key,
                            number,
                        )
                    )
                    continue
                out[key] = value
            if not out and not failed:
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

    def _unique(self, seen: dict[object, int], value: object, layout: Layout, key: str, number: int) -> bool:
        first = seen.setdefault(value, number)
        if first == number:
            return True
        self.problems.append(
            layout.problem(
                f"duplicate {layout.sheet.column(key).en} {value!s}: also on row {first}",
                f"{layout.sheet.column(key).zh}重复：{value!s}，与第 {first} 行相同",
                key,
                number,
            )
        )
        return False

    def _sync_key(self, values: dict[str, object], book: BranchWorkbook, number: int) -> str:
        key = values.get("sync_key")
        if isinstance(key, str) and key.strip():
            values["sync_key"] = key.strip()
            return key.strip()
        key = new_sync_key()
        values["sync_key"] = key
        book.new_keys.add(key)
        return key

    # --- sheets --------------------------------------------------------------------------

    def _tickets(self, title: str, book: BranchWorkbook) -> None:
        ids: dict[object, int] = {}
        keys: dict[object, int] = {}
        for number, layout, values in self._records(TICKETS, title):
            unique = self._unique(ids, values["ticket_id"], layout, "ticket_id", number)
            if "sync_key" in values:
                unique = self._unique(keys, values["sync_key"], layout, "sync_key", number) and unique
            if not unique:
                continue
            key = self._sync_key(values, book, number)
            deadlines = {k: values.pop(k) for k in DEADLINE_COLUMNS if k in values}
            ticket = Ticket(branch=self.settings.branch, **values)  # type: ignore[arg-type]
            for error in milestone_errors(ticket):
                column = error.field if error.field in layout.index else None
                self.problems.append(
                    layout.problem(
                        f"milestones out of order: {error.message}",
                        f"环节时间顺序有误：{error.message}",
                        column,
                        number,
                    )
                )
            book.tickets.append(ticket)
            book.rows[key] = number
            if deadlines:
                book.deadlines[key] = deadlines

    def _tasks(self, title: str, book: BranchWorkbook) -> None:
        known = {t.ticket_id for t in book.tickets}
        numbers: dict[object, int] = {}
        keys: dict[object, int] = {}
        for number, layout, values in self._records(TASKS, title):
            ok = self._known_ticket(known, values, layout, number)
            ok = (
                self._unique(numbers, (values["ticket_id"], values["task_no"]), layout, "task_no", number)
                and ok
            )
            if "sync_key" in values:
                ok = self._unique(keys, values["sync_key"], layout, "sync_key", number) and ok
            if not ok:
                continue
            key = self._sync_key(values, book, number)
            book.tasks.append(Task(**values))  # type: ignore[arg-type]
            book.rows[key] = number

    def _log(self, title: str, book: BranchWorkbook) -> None:
        known = {t.ticket_id for t in book.tickets}
        keys: dict[object, int] = {}
        for number, layout, values in self._records(LOG, title):
            ok = self._known_ticket(known, values, layout, number)
            if "sync_key" in values:
                ok = self._unique(keys, values["sync_key"], layout, "sync_key", number) and ok
            if not ok:
                continue
            key = self._sync_key(values, book, number)
            book.log.append(LogEntry(**values))  # type: ignore[arg-type]
            book.rows[key] = number

    def _known_ticket(self, known: set[str], values: dict[str, object], layout: Layout, number: int) -> bool:
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

    def _routes(self, title: str | None) -> list[RoutingRule]:
        if title is None:
            return []
        routes = []
        seen: dict[object, int] = {}
        for number, layout, values in self._records(ROUTING, title):
            if not self._unique(seen, values["category"], layout, "category", number):
                continue
            try:
                routes.append(RoutingRule.from_row(values))
            except ValueError as exc:
                self.problems.append(layout.problem(str(exc), f"分派规则有误：{exc}", None, number))
        return routes

    def _key_values(self, title: str | None) -> dict[str, str]:
        if title is None:
            return {}
        return {str(v["key"]): str(v.get("value", "")) for _n, _l, v in self._records(SYNC, title)}

    def _settings(self, title: str | None, tickets_title: str) -> BranchSettings:
        language = "en" if tickets_title.strip().casefold() == TICKETS.en.casefold() else "zh"
        if title is None:
            return BranchSettings(language=language)
        labels = {}
        for key, zh, en in SETTING_KEYS:
            labels[zh.casefold()] = labels[en.casefold()] = labels[key] = key
        found: dict[str, tuple[str, int, Layout]] = {}
        for number, layout, values in self._records(SETTINGS, title):
            key = str(values.get("key") or "").strip()
            key = labels.get(key.casefold()) or labels.get(
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
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self._setting_problem(
                found["timezone"],
                f"unknown time zone {zone!r}; use e.g. Asia/Shanghai",
                f"无法识别的时区 {zone!r}，请填写如 Asia/Shanghai",
            )
            zone = DEFAULT_TZ
        return BranchSettings(values.get("branch", ""), values.get("server_url", ""), lang, zone)

    def _setting_problem(self, where: tuple[str, int, Layout], en: str, zh: str) -> None:
        _value, number, layout = where
        self.problems.append(layout.problem(en, zh, "value", number))
