"""Write a macro's changes back as few range assignments as the sheet allows (XLWINGS.md).

Every assignment is one action for the Excel client, so changes are gathered
per sheet and written as blocks:

* typed columns: one block per run of consecutive changed rows, spanning the
  changed columns and the schema columns between them (their values are
  written back as they were read);
* computed columns (grey, owned by the macros): one block per run of changed
  rows, runs a row or two apart merged (rewriting a few unchanged rows costs
  less than another action);
* fills: one range per run of consecutive rows of one colour, over the typed
  columns (computed columns keep their grey).

A user's own columns are never written: a block that would cross one is split.
Values are assigned raw, prepared by the engine in use, because xlwings'
converting assignment re-reads the whole sheet each time in the remote engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from addin.sheet import Grid
from complaints.cells import round_second

Prepare = Callable[[object, Any], object]


def engine_prepare(book: Any) -> Prepare:
    """The engine's own conversion of a Python value for a raw assignment (dates, None)."""
    return book.app.engine.impl.prepare_xl_data_element


def same(raw: object, new: object) -> bool:
    """Whether a cell read as ``raw`` already holds ``new``."""
    if raw is None or raw == "":
        return new is None or new == ""
    if new is None or new == "":
        return False
    if isinstance(new, datetime) and isinstance(raw, datetime):
        return round_second(raw) == new
    if isinstance(new, date) and not isinstance(new, datetime) and isinstance(raw, datetime):
        return raw.date() == new and raw.time() == datetime.min.time()
    if isinstance(new, bool) or isinstance(raw, bool):
        return raw is new
    if isinstance(new, int | float) and isinstance(raw, int | float):
        return raw == new
    return type(raw) is type(new) and raw == new


def runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs (first, last) of sorted distinct numbers."""
    result: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if result and result[-1][1] == n - 1:
            result[-1] = (result[-1][0], n)
        else:
            result.append((n, n))
    return result


ACTION_COST = 200
"""Bytes an action costs the client beside its values (its JSON keys and address)."""
CELL_COST = 12
"""Bytes of one computed cell (a date, a label) in an action's values."""


def near_runs(numbers: Iterable[int], gap: int) -> list[tuple[int, int]]:
    """Runs of sorted distinct numbers, two runs merged when at most ``gap`` numbers lie between them.

    Rewriting a few unchanged rows costs less than another action; rewriting
    thousands to save actions made a press on a large sheet send megabytes.
    """
    result: list[tuple[int, int]] = []
    for first, last in runs(numbers):
        if result and first - result[-1][1] - 1 <= gap:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def spans(columns: Iterable[int], allowed: set[int]) -> list[tuple[int, int]]:
    """Group changed columns into spans whose every column (gaps included) is in ``allowed``."""
    result: list[tuple[int, int]] = []
    for c in sorted(set(columns)):
        if result and all(g in allowed for g in range(result[-1][1] + 1, c + 1)):
            result[-1] = (result[-1][0], c)
        else:
            result.append((c, c))
    return result


class SheetWriter:
    """The changes a macro makes to one schema sheet; `flush` writes them as blocks."""

    def __init__(self, grid: Grid, prepare: Prepare) -> None:
        self.grid = grid
        self.prepare = prepare
        self.changes: dict[tuple[int, int], object] = {}
        self.fills: dict[int, str] = {}
        self.base_fill: tuple[int, int, str] | None = None
        self.table_end: int | None = None
        self.actions = 0
        schema = grid.schema
        self.mapped = set(grid.index.values())
        self.computed = {c for key, c in grid.index.items() if schema.column(key).computed}
        self.typed = self.mapped - self.computed

    def set(self, r: int, key: str, value: object) -> None:
        """Put ``value`` (a cell value) into column ``key`` of 0-based row ``r``, if it differs."""
        c = self.grid.index.get(key)
        if c is None:
            return  # a column this workbook does not have (a computed one it dropped): nothing to keep
        if same(self.grid.raw(r, c), value):
            self.changes.pop((r, c), None)
        else:
            self.changes[(r, c)] = value

    def set_row(self, r: int, values: dict[str, object]) -> None:
        for key, value in values.items():
            self.set(r, key, value)

    def fill(self, r: int, rgb: str) -> None:
        self.fills[r] = rgb

    def fill_all(self, colours: dict[int, str]) -> None:
        """Colour every listed row, instead of the fills asked for so far.

        The commonest colour goes on as one block from the first to the last row,
        the others as runs over it.
        """
        self.fills.clear()
        if not colours:
            return
        counts: dict[str, int] = {}
        for rgb in colours.values():
            counts[rgb] = counts.get(rgb, 0) + 1
        base = max(counts, key=lambda rgb: counts[rgb])
        self.base_fill = (min(colours), max(colours), base)
        self.fills.update({r: rgb for r, rgb in colours.items() if rgb != base})

    # --- writing -------------------------------------------------------------------------

    def value_at(self, r: int, c: int) -> object:
        """The cell as it will be after `flush`: the change asked for, else as read."""
        if (r, c) in self.changes:
            return self.changes[(r, c)]
        return self.grid.raw(r, c)

    def _write(self, r1: int, r2: int, c1: int, c2: int) -> None:
        cells = range(c1, c2 + 1)
        block = [[self.prepare(self.value_at(r, c), {}) for c in cells] for r in range(r1, r2 + 1)]
        self.grid.xl.range((r1 + 1, c1 + 1), (r2 + 1, c2 + 1)).raw_value = block
        self.actions += 1

    def _colour(self, r1: int, r2: int, rgb: str) -> None:
        for c1, c2 in runs(self.typed):
            self.grid.xl.range((r1 + 1, c1 + 1), (r2 + 1, c2 + 1)).color = f"#{rgb}"
            self.actions += 1

    def flush(self) -> int:
        """Write the changes and fills; return how many actions that took.

        Rows with typed changes are written run by run, each run one block over
        all its changed columns (computed ones too); the remaining computed
        changes form one more block over the rows between them.
        """
        written: set[tuple[int, int]] = set()
        rows = sorted({r for r, c in self.changes if c in self.typed})
        by_row: dict[int, list[int]] = {}
        for r, c in self.changes:
            by_row.setdefault(r, []).append(c)
        for r1, r2 in runs(rows):
            columns = [c for r in range(r1, r2 + 1) for c in by_row.get(r, ())]
            for c1, c2 in spans(columns, self.mapped):
                self._write(r1, r2, c1, c2)
                written.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
        computed = [cell for cell in self.changes if cell[1] in self.computed and cell not in written]
        for c1, c2 in spans((c for _, c in computed), self.computed):
            chosen = {r for r, c in computed if c1 <= c <= c2}
            # rows already written over these columns may be written again (same values) to join runs
            done = {r for r, c in written if c1 <= c <= c2}
            gap = max(1, ACTION_COST // (CELL_COST * (c2 - c1 + 1)))
            for r1, r2 in near_runs(chosen | done, gap):
                if any(r in chosen for r in range(r1, r2 + 1)):
                    self._write(r1, r2, c1, c2)
        if self.table_end is not None:
            self._grow_table(self.table_end)
        if self.base_fill is not None:
            self._colour(*self.base_fill)
        by_colour: dict[str, list[int]] = {}
        for r, rgb in self.fills.items():
            by_colour.setdefault(rgb, []).append(r)
        for rgb, chosen in by_colour.items():
            for r1, r2 in runs(chosen):
                self._colour(r1, r2, rgb)
        self.changes.clear()
        self.fills.clear()
        self.base_fill = self.table_end = None
        return self.actions

    # --- appending -------------------------------------------------------------------------

    def next_rows(self, count: int, taken: int = 0) -> range:
        """The 0-based rows of ``count`` new records after the last used row (and ``taken`` already given)."""
        start = self.grid.last_used() + 1 + taken
        return range(start, start + count)

    def grow_table(self, last_row: int) -> None:
        """Have the sheet's Excel table reach down to 0-based row ``last_row`` (done after the writes)."""
        self.table_end = max(last_row, self.table_end or 0)

    def _grow_table(self, last_row: int) -> None:
        for table in self.grid.xl.tables:
            first, last = table_rows(table.range.address)
            if first != self.grid.header + 1:
                continue
            if last < last_row + 1:
                left, right = table_columns(table.range.address)
                self.grid.xl.tables[table.name].resize(
                    self.grid.xl.range((first, left), (last_row + 1, right))
                )
                self.actions += 1
            return


def write_key_values(
    book: Any, grid: Grid | None, title: str, values: dict[str, str], prepare: Prepare
) -> int:
    """Rewrite a two-column key/value sheet (the hidden _sync) as one text block; add the sheet if missing."""
    if grid is None:
        xl = book.sheets.add(title, after=book.sheets[len(book.sheets) - 1])
        old_rows, first = 0, 0
    else:
        xl, old_rows, first = grid.xl, len(grid.values), grid.header
    rows = [["key", "value"], *([k, v] for k, v in values.items())]
    last = first + len(rows)
    block = xl.range((first + 1, 1), (last, 2))
    block.number_format = "@"  # digests and request text stay text, whatever they look like
    block.raw_value = [[prepare(v, {}) for v in row] for row in rows]
    actions = 2 + (grid is None)
    if old_rows > last:
        xl.range((last + 1, 1), (old_rows, 2)).clear_contents()
        actions += 1
    return actions


def _parts(address: str) -> list[tuple[str, int]]:
    result = []
    for part in address.replace("$", "").split("!")[-1].split(":"):
        letters = "".join(ch for ch in part if ch.isalpha())
        digits = "".join(ch for ch in part if ch.isdigit())
        result.append((letters, int(digits)))
    return result


def table_rows(address: str) -> tuple[int, int]:
    """First and last Excel row of an address like ``$A$1:$BM$2``."""
    parts = _parts(address)
    return parts[0][1], parts[-1][1]


def table_columns(address: str) -> tuple[int, int]:
    """First and last 1-based column of an address like ``$A$1:$BM$2``."""

    def number(letters: str) -> int:
        n = 0
        for ch in letters.upper():
            n = n * 26 + ord(ch) - 64
        return n

    parts = _parts(address)
    return number(parts[0][0]), number(parts[-1][0])
