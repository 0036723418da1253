"""Read the branch workbook through xlwings: each schema sheet in one read, its rows to the one row reader.

Sheets are found by their zh or en title and columns by their zh or en
header, in any order, and rows become domain objects in `complaints.rows`,
cells parsed by `complaints.cells`; this module only gets each sheet's values
from xlwings and keeps them, with where the columns are, for the writers. A
problem (a value that does not fit its column, a missing header) stops the
macro with a message naming sheet, row and column — nothing is written then.
A ticket row needs only its number and received time: the rest of a new
ticket is typed over time, and the rules flag what is missing. A broken
Routing sheet stops only the macros that route or name department heads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from addin.messages import Message, listing, say
from complaints.cells import is_blank
from complaints.layout import HEADER_SEARCH_ROWS, Layout, find_layout, missing_sheet
from complaints.model import LogEntry, Task, Ticket
from complaints.problems import Problem
from complaints.routing import RoutingRule
from complaints.rows import ReadPolicy, read_book
from complaints.schema import CONFLICTS, BranchSettings, Sheet


class MacroError(Exception):
    """Stops a macro with a message for the coordinator; nothing has been written."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


def said(problem: Problem) -> Message:
    """A problem of the workbook as the macros say it."""
    return Message(problem.text("zh"), problem.text("en"))


def refusal(problems: list[Problem]) -> MacroError:
    """Stop the macro: the workbook has ``problems`` to fix first."""
    return MacroError(say("problems", count=len(problems), list=listing([said(p) for p in problems])))


@dataclass(slots=True)
class Grid:
    """One schema sheet as read: the xlwings sheet, its values from A1 and where its columns are."""

    layout: Layout
    xl: Any
    """The xlwings sheet."""
    values: list[list[object]]

    @property
    def schema(self) -> Sheet:
        return self.layout.sheet

    @property
    def title(self) -> str:
        return self.layout.title

    @property
    def index(self) -> dict[str, int]:
        """Column key -> 0-based column."""
        return self.layout.index

    @property
    def lang(self) -> str:
        return self.layout.lang

    @property
    def header(self) -> int:
        """0-based row of the header in ``values`` (Excel row ``header + 1``)."""
        return self.layout.header_row - 1

    @property
    def first(self) -> int:
        """The 0-based row of the first data row."""
        return self.layout.header_row

    def raw(self, r: int, c: int) -> object:
        if r < len(self.values) and c < len(self.values[r]):
            return self.values[r][c]
        return None

    def value(self, r: int, key: str) -> object:
        c = self.index.get(key)
        return None if c is None else self.raw(r, c)

    def last_used(self) -> int:
        """The 0-based row of the last row with a value in one of our columns (the header if none)."""
        columns = list(self.index.values())
        for r in range(len(self.values) - 1, self.header, -1):
            row = self.values[r]
            if any(c < len(row) and not is_blank(row[c]) for c in columns):
                return r
        return self.header

    def header_text(self, key: str) -> str:
        return self.layout.header(key)


def read_values(xl_sheet: Any) -> list[list[object]]:
    """The sheet's values from A1 to the last used cell, in one read."""
    used = xl_sheet.used_range
    last = used.last_cell
    values = xl_sheet.range((1, 1), (last.row, last.column)).options(ndim=2).value
    return [list(row) for row in values]


def sheet_missing(book: Any, schema: Sheet) -> MacroError:
    return MacroError(said(missing_sheet(schema, [s.name for s in book.sheets])))


# --- selection --------------------------------------------------------------------------------

_CELL = re.compile(r"^[A-Z]{0,3}(\d*)$")


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


# --- the workbook -------------------------------------------------------------------------------


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
    routes: list[RoutingRule] = field(default_factory=list)
    routing_problems: list[Problem] = field(default_factory=list)
    """What is wrong with the Routing sheet: stops the macros that need the routing table."""
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


def read_branch(book: Any) -> BranchBook:
    """Read the branch workbook's sheets once; `MacroError` naming every problem, or the whole book.

    Times are not checked against the clock: the PC's may lag the server's, whose times Sync brings in.
    """
    sheets = {xl.name: xl for xl in book.sheets}
    values: dict[str, list[list[object]]] = {}

    def rows_of(title: str) -> list[list[object]]:
        if title not in values:
            values[title] = read_values(sheets[title])
        return values[title]

    read = read_book(list(sheets), rows_of, policy=ReadPolicy(keep_computed=False))
    problems = list(read.problems)
    layouts = dict(read.layouts)
    if "conflicts" in read.titles:  # not read into records, but Sync writes it
        title = read.titles["conflicts"]
        layout, found = find_layout(CONFLICTS, title, list(islice(rows_of(title), HEADER_SEARCH_ROWS)))
        problems += found
        if layout is not None:
            layouts["conflicts"] = layout
    if problems:
        raise refusal(problems)
    grids = {
        key: Grid(layout, sheets[layout.title], rows_of(layout.title)) for key, layout in layouts.items()
    }
    return BranchBook(
        book,
        read.settings,
        grids,
        tickets=read.tickets,
        ticket_rows={t.sync_key: read.rows[t.sync_key] - 1 for t in read.tickets},
        tasks=read.tasks,
        task_rows={t.sync_key: read.rows[t.sync_key] - 1 for t in read.tasks},
        log=read.log,
        log_rows={e.sync_key: read.rows[e.sync_key] - 1 for e in read.log},
        routes=read.routes,
        routing_problems=read.routing_problems,
        sync_values=read.sync_state,
        new_keys=read.new_keys,
    )
