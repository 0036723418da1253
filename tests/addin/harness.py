"""Run a macro the way Excel would, on a real .xlsx, through the server's remote engine.

1. the workbook is turned into the payload an Excel client sends (values of
   each sheet as the rectangle from A1, dates as ISO strings, tables, the
   active sheet and the selection);
2. the macro runs on the server's own engine (``server.remote.engine.Book``),
   or on xlwings PRO's (``xw.Book(json=payload)``, ``engine="xlwings"``);
3. the actions it returns are checked against what the VBA client
   (``Remote.bas``) and our Office.js client implement, then applied to the
   .xlsx with openpyxl as Excel applies them (a string typed into a date cell
   becomes a date, into a text cell stays text, into a General cell a number
   or formula; new cells take their column's format);
4. the test reads the workbook back (`server.xlsx.reader.read_workbook` or cell
   by cell) and asserts on what the coordinator would see.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlwings as xw
from openpyxl import load_workbook
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from addin.officejs import OFFICEJS_ACTIONS
from server.remote import engine as own_engine
from server.xlsx.cellformat import unescape_text

REMOTE_BAS = Path(xw.__file__).resolve().parent / "addin" / "Remote.bas"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


ENGINES = ("own", "xlwings")


def open_book(payload: dict[str, Any], engine: str = "own") -> Any:
    """A remote Book over ``payload``: the server's own engine, or xlwings PRO's (non-commercial key)."""
    if engine == "own":
        return own_engine.Book(payload)
    ensure_remote_engine()
    return xw.Book(json=payload)


def ensure_remote_engine() -> None:
    """xlwings' remote engine (PRO code, free for non-commercial use: XLWINGS_LICENSE_KEY=noncommercial)."""
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    if "remote" not in [engine.name for engine in xw.engines]:
        from xlwings.pro import _xlremote  # registers only if the key was set at import time

        xw.engines.add(xw.main.Engine(impl=_xlremote.engine))


def vba_actions() -> set[str]:
    """The actions xlwings' VBA client applies: its ``Sub x(wb As Workbook, action As Dictionary)``."""
    text = REMOTE_BAS.read_text(encoding="utf-8")
    return set(re.findall(r"^Sub (\w+)\(wb As Workbook, action As Dictionary\)", text, re.MULTILINE))


# --- workbook -> payload -------------------------------------------------------------------------


def _payload_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # as Excel clients send dates: wall time, "Z"
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00.000Z"
    if isinstance(value, str):
        return unescape_text(value)
    return value


def _absolute(ref: str) -> str:
    return re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", ref)


def payload_of(path: Path, *, sheet: str | None = None, selection: str | None = None) -> dict[str, Any]:
    """The payload the VBA client would send for the workbook at ``path``."""
    wb = load_workbook(path)
    sheets = []
    for ws in wb.worksheets:
        rows = [[_payload_value(c.value) for c in row] for row in ws.iter_rows()]
        if not rows or all(v == "" for row in rows for v in row) and len(rows) == 1:
            rows = [[]]
        tables = []
        for table in ws.tables.values():
            first, last = table.ref.split(":")
            top, bottom = int(re.sub(r"\D", "", first)), int(re.sub(r"\D", "", last))
            left, right = re.sub(r"\d", "", first), re.sub(r"\d", "", last)
            tables.append(
                {
                    "name": table.name,
                    "range_address": _absolute(table.ref),
                    "header_row_range_address": _absolute(f"{left}{top}:{right}{top}"),
                    "data_body_range_address": _absolute(f"{left}{top + 1}:{right}{bottom}"),
                    "total_row_range_address": None,
                    "show_headers": True,
                    "show_totals": False,
                    "table_style": table.tableStyleInfo.name if table.tableStyleInfo else "",
                    "show_autofilter": True,
                }
            )
        sheets.append({"name": ws.title, "values": rows, "pictures": [], "tables": tables})
    titles = [ws.title for ws in wb.worksheets]
    active = titles.index(sheet) if sheet else 0
    book = {"name": path.name, "active_sheet_index": active, "selection": selection}
    return {"client": "VBA", "version": xw.__version__, "book": book, "names": [], "sheets": sheets}


# --- actions -> workbook ---------------------------------------------------------------------------


def _number_format(ws: Any, cell: Any) -> str:
    if cell.has_style:
        return cell.number_format
    column = ws.column_dimensions.get(get_column_letter(cell.column))
    return column.number_format if column is not None and column.has_style else "General"


def _set(ws: Any, row: int, column: int, value: object) -> None:
    cell = ws.cell(row, column)
    fmt = _number_format(ws, cell)
    if not cell.has_style and fmt != "General":
        cell.number_format = fmt  # Excel gives a new cell its column's format
    if value is None or value == "":
        cell.value = None
    elif isinstance(value, str) and fmt == "@":
        cell.value = value
        cell.data_type = "s"  # typed into a text cell, even "=1+1" stays text
    elif isinstance(value, str) and _ISO_DATE.match(value):
        cell.value = datetime.fromisoformat(value)
    elif isinstance(value, str) and _NUMBER.match(value):
        cell.value = float(value) if "." in value else int(value)
    else:
        cell.value = value


def _cells(ws: Any, action: dict[str, Any]) -> list[Any]:
    r, c = action["start_row"] + 1, action["start_column"] + 1
    return [ws.cell(r + i, c + j) for i in range(action["row_count"]) for j in range(action["column_count"])]


def apply_actions(path: Path, actions: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Apply the actions to the .xlsx at ``path`` as an Excel client would; return the alerts shown."""
    wb = load_workbook(path)
    alerts = []
    for action in actions:
        func = action["func"]
        position = action["sheet_position"]
        ws = wb.worksheets[position] if position is not None else None
        args = action["args"]
        if func == "setValues":
            r, c = action["start_row"] + 1, action["start_column"] + 1
            for i, values in enumerate(action["values"]):
                for j, value in enumerate(values):
                    _set(ws, r + i, c + j, value)
        elif func == "setRangeColor":
            fill = PatternFill(
                fill_type="solid", start_color=args[0].lstrip("#"), end_color=args[0].lstrip("#")
            )
            for cell in _cells(ws, action):
                cell.fill = fill if args[0] else PatternFill()
        elif func == "setNumberFormat":
            for cell in _cells(ws, action):
                cell.number_format = args[0]
        elif func == "rangeClearContents":
            for cell in _cells(ws, action):
                cell.value = None
        elif func == "addSheet":
            wb.create_sheet(args[1], args[0])
        elif func == "activateSheet":
            wb.active = args[0]
        elif func == "rangeSelect":
            ref = f"{get_column_letter(action['start_column'] + 1)}{action['start_row'] + 1}"
            ws.sheet_view.selection[0].activeCell = ref
            ws.sheet_view.selection[0].sqref = ref
        elif func == "resizeTable":
            table = list(ws.tables.values())[args[0]]
            table.ref = args[1].replace("$", "")
            if table.autoFilter is not None:
                table.autoFilter.ref = table.ref
        elif func == "alert":
            alerts.append({"text": args[0], "title": args[1], "mode": args[3]})
        else:
            raise AssertionError(f"the harness does not apply {func!r}; add it if a client does")
    wb.save(path)
    return alerts


# --- one macro run ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    actions: list[dict[str, Any]]
    alerts: list[dict[str, str]] = field(default_factory=list)
    payload_bytes: int = 0

    @property
    def text(self) -> str:
        """The one message the user saw."""
        assert len(self.alerts) == 1, self.alerts
        return self.alerts[0]["text"]

    @property
    def critical(self) -> bool:
        return self.alerts[-1]["mode"] == "critical"

    def count(self, func: str) -> int:
        return sum(1 for a in self.actions if a["func"] == func)


def run_macro(
    path: Path,
    macro: Callable[..., None],
    env: Any = None,
    *,
    sheet: str | None = None,
    selection: str | None = None,
    engine: str = "own",
) -> Outcome:
    """Run ``macro`` on the workbook at ``path`` as Excel would, and save the result back to ``path``."""
    payload = payload_of(path, sheet=sheet, selection=selection)
    size = len(json.dumps(payload, ensure_ascii=False).encode())
    with open_book(payload, engine) as book:
        macro(book, env)
        actions = book.json()["actions"]
    unknown = {a["func"] for a in actions} - (vba_actions() & OFFICEJS_ACTIONS)
    assert not unknown, f"actions no client applies: {unknown}"
    alerts = apply_actions(path, actions)
    return Outcome(actions, alerts, size)
