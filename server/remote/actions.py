"""The actions a remote macro records for the Excel client to apply.

This is the answer half of the protocol our two clients speak: the Office.js
client (``addin/officejs/commands.js``, its ``ACTIONS``) and xlwings' VBA client
(``Remote.bas``, one ``Sub`` per action). Each action is one JSON object::

    {"func": "setValues", "args": [null], "values": [[...]], "sheet_position": 0,
     "start_row": 1, "start_column": 0, "row_count": 1, "column_count": 3}

Positions are 0-based; a range action names its rectangle, a sheet action only
its sheet, a book action neither. Only the actions the macros emit are built
here, and each of them is applied by both clients (`RECORDED`).
"""

from __future__ import annotations

from typing import Any

Action = dict[str, Any]

RECORDED = frozenset(
    {
        "setValues",
        "setRangeColor",
        "setNumberFormat",
        "rangeClearContents",
        "rangeSelect",
        "activateSheet",
        "addSheet",
        "resizeTable",
        "alert",
    }
)
"""Every action this engine can record; a test keeps it within what both clients apply."""


def _action(func: str, args: list[Any], sheet: int | None = None, **where: Any) -> Action:
    return {
        "func": func,
        "args": args,
        "values": where.pop("values", None),
        "sheet_position": sheet,
        "start_row": where.get("row"),
        "start_column": where.get("column"),
        "row_count": where.get("rows"),
        "column_count": where.get("columns"),
    }


def on_range(
    func: str,
    sheet: int,
    row: int,
    column: int,
    rows: int,
    columns: int,
    arg: Any = None,
    values: list[list[Any]] | None = None,
) -> Action:
    """An action on the rectangle of ``rows`` x ``columns`` cells from 0-based (``row``, ``column``)."""
    return _action(func, [arg], sheet, row=row, column=column, rows=rows, columns=columns, values=values)


def on_sheet(func: str, sheet: int, *args: Any) -> Action:
    """An action on the sheet at 0-based position ``sheet`` (activate it, resize one of its tables)."""
    return _action(func, list(args), sheet)


def on_book(func: str, *args: Any) -> Action:
    """An action on the workbook (add a sheet, show a message)."""
    return _action(func, list(args))
