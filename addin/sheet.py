"""Read the branch workbook through xlwings: each sheet in one read, rows into domain objects.

Sheets are found by their zh or en title and columns by their zh or en header,
in any order (`complaints.schema`); cell values are parsed by
`complaints.cells`. A value that does not fit its column stops the macro with
a message naming sheet, row and column — nothing is written then. A row
needs only its ticket number and received time: the rest of a new ticket is
typed over time, and the rules flag what is missing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from addin.messages import Message, listing, say
from complaints.cells import CellValueError, is_blank, read_text, reader
from complaints.model import LogEntry, Task, Ticket, new_sync_key
from complaints.schema import (
    CONFLICTS,
    LOG,
    ROUTING,
    SETTING_KEYS,
    SETTINGS,
    SYNC,
    TASKS,
    TICKETS,
    BranchSettings,
    ColType,
    Sheet,
    sheet_by_title,
)
from complaints.sla import DEFAULT_TZ

HEADER_SEARCH_ROWS = 10
TICKET_FIELDS = frozenset(f.name for f in dataclasses.fields(Ticket))
RECOMPUTED = frozenset({"status", "flags"})
"""Computed ticket columns never read: the rules derive them afresh."""


class MacroError(Exception):
    """Stops a macro with a message for the coordinator; nothing has been written."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(slots=True)
class Grid:
    """One schema sheet as read: its values from A1 and where its columns are."""

    schema: Sheet
    xl: Any
    """The xlwings sheet."""
    title: str
    values: list[list[object]]
    header: int = 0
    """0-based row of the header in ``values`` (Excel row ``header + 1``)."""
    index: dict[str, int] = field(default_factory=dict)
    """Column key -> 0-based column."""
    headers: dict[str, str] = field(default_factory=dict)
    lang: str = "zh"

    def raw(self, r: int, c: int) -> object:
        if r < len(self.values) and c < len(self.values[r]):
            return self.values[r][c]
        return None

    def value(self, r: int, key: str) -> object:
        c = self.index.get(key)
        return None if c is None else self.raw(r, c)

    @property
    def first(self) -> int:
        """The 0-based row of the first data row."""
        return self.header + 1

    def last_used(self) -> int:
        """The 0-based row of the last row with a value in one of our columns (the header if none)."""
        columns = list(self.index.values())
        for r in range(len(self.values) - 1, self.header, -1):
            row = self.values[r]
            if any(c < len(row) and not is_blank(row[c]) for c in columns):
                return r
        return self.header

    def header_text(self, key: str) -> str:
        return self.headers.get(key) or self.schema.column(key).header(self.lang)

    def where(self, r: int, key: str, problem: Message) -> Message:
        c = self.index[key]
        return say(
            "where",
            title=self.title,
            row=r + 1,
            column=column_letter(c),
            header=self.header_text(key),
            text=problem,
        )


def read_values(xl_sheet: Any) -> list[list[object]]:
    """The sheet's values from A1 to the last used cell, in one read."""
    used = xl_sheet.used_range
    last = used.last_cell
    values = xl_sheet.range((1, 1), (last.row, last.column)).options(ndim=2).value
    return [list(row) for row in values]


def sheet_titles(book: Any) -> dict[str, Any]:
    """Schema sheet key -> the xlwings sheet holding it (the first, if two claim one key)."""
    found: dict[str, Any] = {}
    for xl_sheet in book.sheets:
        schema = sheet_by_title(xl_sheet.name)
        if schema is not None and schema.key not in found:
            found[schema.key] = xl_sheet
    return found


def missing_sheet(book: Any, schema: Sheet) -> MacroError:
    names = "、".join(s.name for s in book.sheets)
    return MacroError(say("sheet_missing", zh=schema.zh, en=schema.en, sheets=names))


def read_grid(schema: Sheet, xl_sheet: Any) -> Grid:
    """Read a schema sheet and map its header; `MacroError` without a header or a required column."""
    grid = Grid(schema, xl_sheet, xl_sheet.name, read_values(xl_sheet))
    for r, row in enumerate(grid.values[:HEADER_SEARCH_ROWS]):
        matched = [schema.match_header(v) if isinstance(v, str) else None for v in row]
        if sum(1 for m in matched if m is not None) >= min(2, len(schema.columns)):
            grid.header = r
            zh = en = 0
            for c, (text, column) in enumerate(zip(row, matched, strict=True)):
                if column is None or column.key in grid.index:
                    continue
                grid.index[column.key] = c
                grid.headers[column.key] = str(text).strip()
                zh += str(text).strip().casefold() == column.zh.casefold()
                en += str(text).strip().casefold() == column.en.casefold()
            grid.lang = "en" if en > zh else "zh"
            break
    else:
        first = schema.columns[0]
        raise MacroError(say("no_header", title=grid.title, zh=first.zh, en=first.en))
    for column in schema.columns:
        if column.required and not column.computed and column.key not in grid.index:
            raise MacroError(say("column_missing", title=grid.title, zh=column.zh, en=column.en))
    return grid


# --- selection --------------------------------------------------------------------------------

_CELL = re.compile(r"^[A-Z]{0,3}(\d*)$")


def column_letter(c: int) -> str:
    """The letters of 0-based column ``c`` (0 -> A, 26 -> AA)."""
    letters = ""
    c += 1
    while c:
        c, rest = divmod(c - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def selected_rows(address: str) -> list[tuple[int, int | None]]:
    """Excel row spans (first, last; None = to the end) of an address like ``A2:C4,7:9,B:B``."""
    spans: list[tuple[int, int | None]] = []
    for area in address.replace("$", "").upper().split(","):
        area = area.split("!")[-1].strip()
        if not area:
            continue
        parts = [_CELL.match(p.strip()) for p in area.split(":")]
        if not all(parts):
            continue
        rows = [int(m.group(1)) for m in parts if m and m.group(1)]
        if len(rows) < len(parts):  # whole columns (A:C) select every row
            spans.append((1, None))
        elif rows:
            spans.append((min(rows), max(rows)))
    return spans


def selection(book: Any) -> tuple[str, str] | None:
    """(active sheet name, selection address) — from the payload remotely, from Excel on the desktop."""
    api = book.api
    if isinstance(api, dict):  # the remote engine: the client sent both
        address = api["book"].get("selection")
        return (book.sheets.active.name, address) if address else None
    chosen = book.selection
    if chosen is None:
        return None
    return chosen.sheet.name, chosen.get_address(False, False)


# --- rows -> domain objects ---------------------------------------------------------------------


@dataclass
class BranchBook:
    """Everything the macros need from one branch workbook, read once."""

    book: Any
    settings: BranchSettings
    grids: dict[str, Grid]
    tickets: list[Ticket] = field(default_factory=list)
    ticket_rows: dict[str, int] = field(default_factory=dict)
    """Ticket sync key -> its 0-based row in the Tickets grid."""
    tasks: list[Task] = field(default_factory=list)
    task_rows: dict[str, int] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)
    log_rows: dict[str, int] = field(default_factory=dict)
    routing: list[dict[str, str]] = field(default_factory=list)
    sync_values: dict[str, str] = field(default_factory=dict)
    """The hidden _sync sheet's key/value rows."""
    new_keys: set[str] = field(default_factory=set)
    """Sync keys made by this read for rows typed without one; written back by the macro."""

    @property
    def lang(self) -> str:
        return self.settings.language

    @property
    def tickets_grid(self) -> Grid:
        return self.grids["tickets"]

    def row_of(self, ticket: Ticket) -> int:
        return self.ticket_rows[ticket.sync_key]


def _problems(problems: list[Message]) -> MacroError:
    return MacroError(say("problems", count=len(problems), list=listing(problems)))


def _records(
    grid: Grid, zone: ZoneInfo, problems: list[Message], skip: frozenset[str] = frozenset()
) -> Iterator[tuple[int, dict[str, object]]]:
    """(row, key -> model value) of every row with a value in a typed column; problems collected."""
    plan = []
    for key, c in grid.index.items():
        if key in skip:
            continue
        column = grid.schema.column(key)
        plan.append((key, c, reader(column, zone), column.type is not ColType.TEXT))
    typed = [c for key, c in grid.index.items() if not grid.schema.column(key).computed]
    for r in range(grid.first, len(grid.values)):
        row = grid.values[r]
        size = len(row)
        if all(c >= size or row[c] is None or row[c] == "" for c in typed):
            continue
        out: dict[str, object] = {}
        for key, c, read, strip in plan:
            raw = row[c] if c < size else None
            if raw is None or raw == "" or (strip and isinstance(raw, str) and not raw.strip()):
                continue
            try:
                out[key] = read(raw)
            except CellValueError as exc:
                problems.append(grid.where(r, key, Message(exc.zh, exc.en)))
        yield r, out


def _require(
    grid: Grid, r: int, values: dict[str, object], keys: tuple[str, ...], problems: list[Message]
) -> bool:
    missing = [k for k in keys if k not in values and k in grid.index]
    for key in missing:
        problems.append(grid.where(r, key, say("required")))
    return not missing


def _unique(
    grid: Grid, seen: dict[object, int], value: object, r: int, key: str, problems: list[Message]
) -> bool:
    first = seen.setdefault(value, r)
    if first == r:
        return True
    problems.append(grid.where(r, key, say("duplicate", first=first + 1)))
    return False


def read_settings(grid: Grid | None, tickets: Grid) -> BranchSettings:
    if grid is None:
        return BranchSettings(language=tickets.lang)
    labels: dict[str, str] = {}
    for key, zh, en in SETTING_KEYS:
        labels[zh.casefold()] = labels[en.casefold()] = labels[key] = key
    found: dict[str, str] = {}
    for r in range(grid.first, len(grid.values)):
        name = read_text(grid.value(r, "key") or grid.value(r, "label") or "").strip().casefold()
        key = labels.get(name)
        value = grid.value(r, "value")
        if key and not is_blank(value):
            found[key] = read_text(value).strip()
    language = found.get("language", "").strip().lower()
    lang = language if language in ("zh", "en") else tickets.lang
    zone = found.get("timezone") or DEFAULT_TZ
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MacroError(say("settings_timezone", zone=zone)) from None
    return BranchSettings(found.get("branch", ""), found.get("server_url", ""), lang, zone)


def read_branch(book: Any) -> BranchBook:
    """Read the branch workbook's sheets once; `MacroError` naming every problem, or the whole book."""
    sheets = sheet_titles(book)
    if "tickets" not in sheets:
        raise missing_sheet(book, TICKETS)
    grids = {"tickets": read_grid(TICKETS, sheets["tickets"])}
    for schema in (TASKS, LOG, ROUTING, SETTINGS, CONFLICTS, SYNC):
        if schema.key in sheets:
            grids[schema.key] = read_grid(schema, sheets[schema.key])
    settings = read_settings(grids.get("settings"), grids["tickets"])
    branch = BranchBook(book, settings, grids)
    problems: list[Message] = []
    _tickets(branch, problems)
    if "tasks" in grids:
        _tasks(branch, problems)
    if "log" in grids:
        _log(branch, problems)
    if "routing" in grids:
        grid = grids["routing"]
        for r in range(grid.first, len(grid.values)):
            row = {key: read_text(grid.value(r, key) or "").strip() for key in grid.index}
            if any(row.values()):
                branch.routing.append(row)
    if "sync" in grids:
        grid = grids["sync"]
        for r in range(grid.first, len(grid.values)):
            key = read_text(grid.value(r, "key") or "").strip()
            if key:
                branch.sync_values[key] = read_text(grid.value(r, "value") or "")
    if problems:
        raise _problems(problems)
    return branch


def _tickets(branch: BranchBook, problems: list[Message]) -> None:
    grid = branch.grids["tickets"]
    ids: dict[object, int] = {}
    keys: dict[object, int] = {}
    skip = RECOMPUTED | {k for k in grid.index if k not in TICKET_FIELDS}
    for r, values in _records(grid, branch.settings.zone, problems, skip):
        if not _require(grid, r, values, ("ticket_id", "received_at"), problems):
            continue
        if not _unique(grid, ids, values["ticket_id"], r, "ticket_id", problems):
            continue
        key = values.get("sync_key")
        if isinstance(key, str) and key.strip():
            values["sync_key"] = key = key.strip()
            if not _unique(grid, keys, key, r, "sync_key", problems):
                continue
        else:
            values["sync_key"] = key = new_sync_key()
            branch.new_keys.add(key)
        ticket = Ticket(branch=branch.settings.branch, **values)  # type: ignore[arg-type]
        branch.tickets.append(ticket)
        branch.ticket_rows[key] = r


def _linked(known: set[str], grid: Grid, r: int, values: dict[str, object], problems: list[Message]) -> bool:
    if values["ticket_id"] in known:
        return True
    problems.append(grid.where(r, "ticket_id", say("unknown_ticket", ticket=values["ticket_id"])))
    return False


def _tasks(branch: BranchBook, problems: list[Message]) -> None:
    grid = branch.grids["tasks"]
    numbers: dict[object, int] = {}
    known = {t.ticket_id for t in branch.tickets}
    for r, values in _records(grid, branch.settings.zone, problems):
        if not _require(grid, r, values, ("ticket_id", "task_no", "title"), problems):
            continue
        if not _linked(known, grid, r, values, problems):
            continue
        if not _unique(grid, numbers, (values["ticket_id"], values["task_no"]), r, "task_no", problems):
            continue
        if not values.get("sync_key"):
            values["sync_key"] = new_sync_key()
            branch.new_keys.add(str(values["sync_key"]))
        task = Task(**values)  # type: ignore[arg-type]
        branch.tasks.append(task)
        branch.task_rows[task.sync_key] = r


def _log(branch: BranchBook, problems: list[Message]) -> None:
    grid = branch.grids["log"]
    known = {t.ticket_id for t in branch.tickets}
    for r, values in _records(grid, branch.settings.zone, problems):
        if not _require(grid, r, values, ("ticket_id", "at", "kind", "text"), problems):
            continue
        if not _linked(known, grid, r, values, problems):
            continue
        if not values.get("sync_key"):
            values["sync_key"] = new_sync_key()
            branch.new_keys.add(str(values["sync_key"]))
        entry = LogEntry(**values)  # type: ignore[arg-type]
        branch.log.append(entry)
        branch.log_rows[entry.sync_key] = r
