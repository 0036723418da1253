"""The project's own remote engine: a Book over the payload an Excel client sends.

The macros (`addin.macros`) are written against an xlwings ``Book``. On the
desktop that is xlwings itself (``RunPython``, BSD); behind the server it is
this module, so that no default path needs xlwings PRO's remote engine
(PolyForm Noncommercial; DESIGN §8). It is written from the protocol our
clients speak — the payload ``commands.js`` and ``Remote.bas`` send, the
actions they apply (`server.remote.actions`) — and offers only what the
macros use:

* ``book.sheets`` (iterate, ``len``, index or case-insensitive name, ``active``,
  ``add(name, after=sheet)``), ``book.api`` (the payload: the selection),
  ``book.app.alert(...)``, ``book.json()``, ``book.prepare`` (a value for a raw
  assignment);
* ``sheet.name``, ``sheet.used_range``, ``sheet.range((r, c), (r2, c2))``,
  ``sheet.tables``, ``sheet.activate()``;
* ``range.options(ndim=2).value`` (read), ``range.raw_value = block``,
  ``range.color``, ``range.number_format``, ``range.clear_contents()``,
  ``range.select()``, ``range.address``, ``range.last_cell``;
* ``table.name``, ``table.range``, ``table.resize(range)``.

Reads come from the payload as the client sent it: a write is recorded for the
client, never seen by a later read in the same call (read once, compute, write
once). Each book keeps its own actions, so concurrent calls need no lock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from importlib.metadata import version
from typing import Any

from server.remote.actions import Action, on_book, on_range, on_sheet

OFFICE_JS = "Office.js"
"""The one client whose xlwings version is not checked: it is ours and pins no xlwings."""

_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?\d*Z?$")
_ADDRESS = re.compile(r"^\$?([A-Z]{0,3})\$?(\d*)$")
ROWS, COLUMNS = 1_048_576, 16_384
"""Excel's sheet size: a whole column (B:B) or row (2:2) spans it."""


class SheetNotSent(Exception):
    """A macro read a sheet the client left out of the payload (`server.remote.needs` lacks it)."""

    def __init__(self, sheet: str, position: int) -> None:
        super().__init__(
            f"the macro reads the sheet '{sheet}', which the client did not send; send the whole workbook "
            f"(the server's list of sheets per macro lacks it) / "
            f"宏需要读取工作表“{sheet}”，但客户端未发送该表；请发送整个工作簿（服务器的宏所需工作表清单缺少此表）"
        )
        self.sheet = sheet
        self.position = position


class PayloadError(ValueError):
    """The body is not a workbook this engine can read; ``field`` names the place."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def cell_value(raw: object) -> object:
    """A payload cell as the macros read it: empty is None, an ISO timestamp a (wall-time) datetime."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and len(raw) >= 19 and raw[10] == "T":  # cheap test first: sheets are large
        match = _ISO.match(raw)
        if match:
            try:
                return datetime.fromisoformat(match.group(1) + (match.group(2) or ""))
            except ValueError:
                return raw  # "2026-13-02T…" is text that only looks like a time
    return raw


def prepare(value: object, options: object = None) -> object:
    """A Python value for a raw assignment, as the clients enter it (dates as text Excel parses)."""
    if value is None:
        return ""
    if isinstance(value, datetime):  # wall time, as the cell shows it; midnight as the bare date
        midnight = (value.hour, value.minute, value.second) == (0, 0, 0)
        return value.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def column_letters(column: int) -> str:
    """Excel's letters of 1-based ``column`` (28 -> "AB")."""
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(text: str) -> tuple[int | None, int | None]:
    """(row, column) of "B2"; a column alone ("B") or a row alone ("2") leaves the other None."""
    match = _ADDRESS.match(text.strip().upper())
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError(f"not a cell address: {text!r}")
    column = 0
    for ch in match.group(1):
        column = column * 26 + ord(ch) - 64
    return (int(match.group(2)) if match.group(2) else None), (column or None)


class App:
    """The Excel application as the macros see it: it shows messages."""

    def __init__(self, book: Book) -> None:
        self.book = book

    def alert(
        self,
        prompt: str,
        title: str | None = None,
        buttons: str = "ok",
        mode: str | None = None,
        callback: str | None = None,
    ) -> None:
        """Show ``prompt`` in a message box once the client has applied the actions before it."""
        self.book.record(on_book("alert", prompt, title or "", buttons, mode or "", callback or ""))


class Book:
    """The workbook of one remote call, read from ``payload``; ``json()`` answers the recorded actions."""

    def __init__(self, payload: dict[str, Any]) -> None:
        client = payload.get("client")
        ours = version("xlwings")
        theirs = payload.get("version")
        if client != OFFICE_JS and theirs != ours:
            raise PayloadError(
                f"客户端的 xlwings 版本（{theirs}）与服务器（{ours}）不同，请安装服务器版本的加载项 / "
                f"the xlwings version is different on the client ({theirs}) "
                f"and the server ({ours}): install the add-in of the server's version",
                "version",
            )
        self.api = payload
        self.name: str = payload["book"].get("name") or ""
        self.app = App(self)
        self.actions: list[Action] = []
        self.sheets = Sheets(self, [Sheet(self, s, f"sheets[{n}]") for n, s in enumerate(payload["sheets"])])
        self.sheets.active_index = payload["book"]["active_sheet_index"]

    prepare = staticmethod(prepare)

    def record(self, action: Action) -> None:
        self.actions.append(action)

    def json(self) -> dict[str, list[Action]]:
        return {"actions": list(self.actions)}

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Sheets:
    """The book's sheets in tab order."""

    def __init__(self, book: Book, sheets: list[Sheet]) -> None:
        self.book = book
        self.items = sheets
        self.active_index = 0

    def __iter__(self) -> Iterator[Sheet]:
        return iter(list(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | str) -> Sheet:
        if isinstance(key, int):
            return self.items[key]
        for sheet in self.items:
            if sheet.name.casefold() == key.casefold():  # Excel's sheet names ignore case
                return sheet
        raise KeyError(f"no sheet {key!r}; the workbook has {', '.join(s.name for s in self.items)}")

    @property
    def active(self) -> Sheet:
        return self.items[self.active_index]

    def add(self, name: str, after: Sheet) -> Sheet:
        """Add an empty sheet ``name`` after ``after``; like Excel, it becomes the active sheet."""
        position = self.items.index(after) + 1
        sheet = Sheet(self.book, {"name": name, "values": [[]], "tables": []}, "")
        self.items.insert(position, sheet)
        self.active_index = position
        self.book.record(on_book("addSheet", position, name))
        return sheet


class Sheet:
    """One sheet: its values from A1 to the last used cell, its tables."""

    def __init__(self, book: Book, data: dict[str, Any], place: str = "") -> None:
        self.book = book
        self.name: str = data["name"]
        self._sent: list[list[object]] = data["values"]
        self.omitted = bool(data.get("omitted"))
        """The client sent the name only (the macro does not need the cells): reading it is refused."""
        self._values: list[list[object]] | None = None
        self.width = max((len(row) for row in self._sent), default=0)
        self.tables = Tables(self, data.get("tables") or [], place)

    @property
    def values(self) -> list[list[object]]:
        """The cells as read, a rectangle (converted on first use: most macros read few sheets)."""
        if self._values is None:
            self._refuse_if_omitted()
            width = self.width
            self._values = [
                [cell_value(v) for v in row] + [None] * (width - len(row)) for row in self._sent if width
            ]
        return self._values

    def _refuse_if_omitted(self) -> None:
        if self.omitted:
            raise SheetNotSent(self.name, self.position)

    @property
    def position(self) -> int:
        """0-based place in the tab order (it moves when a sheet is added before it)."""
        return self.book.sheets.items.index(self)

    @property
    def used_range(self) -> Range:
        """A1 to the last cell the client sent (A1 alone on an empty sheet)."""
        self._refuse_if_omitted()
        rows = len(self._sent) if self.width else 0
        return Range(self, 1, 1, max(rows, 1), max(self.width, 1))

    def range(self, first: tuple[int, int] | str, last: tuple[int, int] | None = None) -> Range:
        """The cells from 1-based (row, column) ``first`` to ``last`` (inclusive), or of an address."""
        if isinstance(first, str):
            return self.address_range(first)
        (r1, c1), (r2, c2) = first, last or first
        top, left = min(r1, r2), min(c1, c2)
        return Range(self, top, left, abs(r2 - r1) + 1, abs(c2 - c1) + 1)

    def address_range(self, address: str) -> Range:
        """The range of an address like ``$A$1:$C$5``, ``B2``, ``B:C`` (whole columns) or ``2:4`` (rows)."""
        ends = [_cell(part) for part in address.split("!")[-1].split(":")]
        (r1, c1), (r2, c2) = ends[0], ends[-1]
        if (r1 is None) != (r2 is None) or (c1 is None) != (c2 is None):
            raise ValueError(f"not a range address: {address!r}")
        rows = (r1, r2) if r1 is not None and r2 is not None else (1, ROWS)
        columns = (c1, c2) if c1 is not None and c2 is not None else (1, COLUMNS)
        return self.range((rows[0], columns[0]), (rows[1], columns[1]))

    def activate(self) -> None:
        self.book.sheets.active_index = self.position
        self.book.record(on_sheet("activateSheet", self.position, self.position))

    def __repr__(self) -> str:
        return f"<Sheet {self.name!r}>"


class Range:
    """A rectangle of cells: 1-based ``row``, ``column`` of its top left, ``rows`` x ``columns``."""

    def __init__(self, sheet: Sheet, row: int, column: int, rows: int, columns: int) -> None:
        if row < 1 or column < 1:
            raise ValueError(f"cells are numbered from 1, got row {row}, column {column}")
        self.sheet, self.row, self.column, self.rows, self.columns = sheet, row, column, rows, columns
        self._ndim: int | None = None

    @property
    def address(self) -> str:
        first = f"${column_letters(self.column)}${self.row}"
        if self.rows == self.columns == 1:
            return first
        return f"{first}:${column_letters(self.column + self.columns - 1)}${self.row + self.rows - 1}"

    @property
    def last_cell(self) -> Range:
        return Range(self.sheet, self.row + self.rows - 1, self.column + self.columns - 1, 1, 1)

    def options(self, ndim: int) -> Range:
        """Read as a list of rows (``ndim=2``, the only reading the macros use)."""
        if ndim != 2:
            raise NotImplementedError("the remote engine reads ranges as lists of rows: options(ndim=2)")
        chosen = Range(self.sheet, self.row, self.column, self.rows, self.columns)
        chosen._ndim = ndim
        return chosen

    @property
    def value(self) -> list[list[object]]:
        if self._ndim != 2:
            raise NotImplementedError("read with range.options(ndim=2).value")
        values, first, last = self.sheet.values, self.column - 1, self.column - 1 + self.columns
        block = []
        for r in range(self.row - 1, self.row - 1 + self.rows):
            row = values[r][first:last] if r < len(values) else []
            block.append(row + [None] * (self.columns - len(row)))
        return block

    def _record(self, func: str, arg: Any = None, values: list[list[Any]] | None = None) -> None:
        position = self.sheet.position
        self.sheet.book.record(
            on_range(func, position, self.row - 1, self.column - 1, self.rows, self.columns, arg, values)
        )

    @property
    def raw_value(self) -> list[list[object]]:
        return self.options(2).value

    @raw_value.setter
    def raw_value(self, block: list[list[object]]) -> None:
        """Write ``block`` (rows of values already `prepare`d) as the client's one setValues."""
        self._record("setValues", values=[list(row) for row in block])

    @property
    def color(self) -> None:
        raise NotImplementedError("the remote engine cannot read a cell's colour: derive it from the data")

    @color.setter
    def color(self, rgb: str) -> None:
        self._record("setRangeColor", rgb)

    @property
    def number_format(self) -> None:
        raise NotImplementedError("the remote engine cannot read a number format")

    @number_format.setter
    def number_format(self, code: str) -> None:
        self._record("setNumberFormat", code)

    def clear_contents(self) -> None:
        self._record("rangeClearContents")

    def select(self) -> None:
        self._record("rangeSelect")

    def __repr__(self) -> str:
        return f"<Range {self.sheet.name!r}!{self.address}>"


class Table:
    """An Excel table (ListObject) of a sheet, as the client described it."""

    def __init__(self, sheet: Sheet, index: int, data: dict[str, Any], place: str) -> None:
        self.sheet, self.index = sheet, index
        self.name: str = data["name"]
        try:
            self.range = sheet.address_range(data["range_address"])
        except ValueError as exc:
            raise PayloadError(f"a table's range is not an address: {exc}", f"{place}.range_address") from exc

    def resize(self, target: Range) -> None:
        """Have the table cover ``target`` (header row included)."""
        self.sheet.book.record(on_sheet("resizeTable", self.sheet.position, self.index, target.address))


class Tables:
    def __init__(self, sheet: Sheet, tables: list[dict[str, Any]], place: str) -> None:
        self.items = [Table(sheet, i, t, f"{place}.tables[{i}]") for i, t in enumerate(tables)]

    def __iter__(self) -> Iterator[Table]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, name: str) -> Table:
        for table in self.items:
            if table.name.casefold() == name.casefold():
                return table
        raise KeyError(f"no table {name!r} on sheet {self.items[0].sheet.name if self.items else ''!r}")
