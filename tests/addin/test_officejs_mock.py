"""commands.js headless against Microsoft's Excel API mock, and type-checked against @types/office-js.

`excel_mock.js` builds the workbook from OfficeMockObjects (office-addin-mock): a
property read without ``load()`` and ``sync()`` comes back as the mock's error
text, so a payload holding such text means the client would fail in Excel.
Both need the npm dev dependencies (``npm ci``); nothing here uses the network.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from addin import officejs
from server.remote import engine
from server.remote import needs as remote_needs

ROOT = Path(__file__).resolve().parents[2]
MOCK = Path(__file__).resolve().parent / "excel_mock.js"
BIN = ROOT / "node_modules" / ".bin"
REQUIRE_NODE = bool(os.environ.get("REQUIRE_NODE"))
NOT_LOADED = "Error, property was not loaded"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    missing = found is None or not (ROOT / "node_modules" / "office-addin-mock").is_dir()
    if missing:
        message = "node or the npm dev dependencies are missing: run `npm ci` in the repository root"
        if REQUIRE_NODE:
            pytest.fail(message)
        pytest.skip(message)
    return str(found)


BOOK = {
    "name": "SZ01.xlsx",
    "active": 0,
    "selection": "B3",
    "sheets": [
        {
            "name": "Tickets",
            "cells": [["工单号", "受理时间", "预警等级"], ["SZ01-1", 45293, "蓝"], ["SZ01-2", 45293.5, ""]],
            "formats": [
                ["General"] * 3,
                ["@", "yyyy-mm-dd hh:mm", "General"],
                ["@", "yyyy-mm-dd hh:mm", "General"],
            ],
            "tables": [{"name": "Tickets", "address": "A1:C3"}],
        },
        {"name": "Branch Settings", "cells": [["branch", "SZ01"]]},
        {"name": "Log"},
    ],
    "names": [{"name": "BranchCode", "sheet": 1, "address": "B1"}],
}


def run_mock(node: str, client: Path = officejs.CLIENT, **spec: Any) -> dict[str, Any]:
    spec = {"client": str(client), "book": BOOK, **spec}
    env = {**os.environ, "NODE_PATH": str(ROOT / "node_modules")}  # a client copied elsewhere finds the mock
    result = subprocess.run(
        [node, str(MOCK)], input=json.dumps(spec), capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- the payload -----------------------------------------------------------------------------------


def test_the_payload_is_built_from_loaded_properties_only_and_reads_back_in_the_engine(node):
    payload = run_mock(node, mode="payload")["payload"]
    assert NOT_LOADED not in json.dumps(payload, ensure_ascii=False)
    assert payload["book"] == {"name": "SZ01.xlsx", "active_sheet_index": 0, "selection": "B3"}
    tickets, settings, log = payload["sheets"]
    assert tickets["values"][1] == ["SZ01-1", "2024-01-02T00:00:00.000Z", "蓝"]  # a date cell goes as ISO
    assert tickets["tables"][0]["data_body_range_address"] == "A2:C3"
    assert log["values"] == [[]]
    assert payload["names"][0] == {
        "name": "BranchCode",
        "sheet_index": 1,
        "address": "B1",
        "book_scope": True,
        "scope_sheet_name": None,
        "scope_sheet_index": None,
    }
    book = engine.Book(payload)
    assert [s.name for s in book.sheets] == ["Tickets", "Branch Settings", "Log"]
    assert book.sheets["Tickets"].range((2, 1), (3, 3)).options(ndim=2).value == [
        ["SZ01-1", dt.datetime(2024, 1, 2), "蓝"],
        ["SZ01-2", dt.datetime(2024, 1, 2, 12), None],
    ]
    assert book.sheets["Tickets"].tables["Tickets"].range.address == "$A$1:$C$3"


def test_a_client_that_reads_before_loading_is_caught_by_the_mock(node, tmp_path):
    broken = tmp_path / "commands.js"
    text = officejs.CLIENT.read_text(encoding="utf-8")
    broken.write_text(text.replace('getActiveWorksheet().load("position")', "getActiveWorksheet()"), "utf-8")
    payload = run_mock(node, broken, mode="payload")["payload"]
    assert payload["book"]["active_sheet_index"] == NOT_LOADED


# --- every action --------------------------------------------------------------------------------


def act(
    func: str, *args: Any, sheet: int | None = 0, at: tuple[int, int, int, int] | None = None, values=None
):
    r, c, rows, cols = at or (None, None, None, None)
    return {
        "func": func,
        "args": list(args),
        "values": values,
        "sheet_position": sheet,
        "start_row": r,
        "start_column": c,
        "row_count": rows,
        "column_count": cols,
    }


URL = "https://desk.test/t/SZ01-2"
EVERY_ACTION: list[tuple[dict[str, Any], list[list[Any]]]] = [
    (
        act("setValues", None, at=(1, 2, 2, 1), values=[["红"], ["黄"]]),
        [["Tickets!C2:C3", "values", [["红"], ["黄"]]]],
    ),
    (act("setRangeColor", "#ff0000", at=(1, 0, 1, 3)), [["Tickets!A2:C2.format.fill", "color", "#ff0000"]]),
    (act("setRangeColor", None, at=(2, 0, 1, 3)), [["Tickets!A3:C3", "fill.clear"]]),
    (
        act("setNumberFormat", "yyyy-mm-dd", at=(1, 1, 2, 1)),
        [["Tickets!B2:B3", "numberFormat", [["yyyy-mm-dd"], ["yyyy-mm-dd"]]]],
    ),
    (act("rangeClear", None, at=(4, 0, 1, 1)), [["Tickets!A5", "clear", "All"]]),
    (act("rangeClearContents", None, at=(4, 0, 2, 2)), [["Tickets!A5:B6", "clear", "Contents"]]),
    (act("rangeClearFormats", None, at=(4, 0, 2, 2)), [["Tickets!A5:B6", "clear", "Formats"]]),
    (act("sheetClear", None, sheet=2), [["Log!A1:XFD1048576", "clear", "All"]]),
    (act("sheetClearContents", None, sheet=2), [["Log!A1:XFD1048576", "clear", "Contents"]]),
    (act("sheetClearFormats", None, sheet=2), [["Log!A1:XFD1048576", "clear", "Formats"]]),
    (act("rangeSelect", None, at=(2, 0, 1, 1)), [["Tickets!A3", "select"]]),
    (act("activateSheet", 1, sheet=1), [["Branch Settings", "activate"]]),
    (
        act("addSheet", 3, "Revisits", sheet=None),
        [["workbook", "worksheets.add", "Revisits"], ["Revisits", "position", 3]],
    ),
    (act("setSheetName", "Journal", sheet=2), [["Log", "name", "Journal"]]),
    (act("sheetDelete", None, sheet=3), [["Revisits", "delete"]]),
    (act("setAutofit", "columns", at=(0, 0, 3, 3)), [["Tickets!A1:C3", "autofitColumns"]]),
    (act("setAutofit", "rows", at=(0, 0, 3, 3)), [["Tickets!A1:C3", "autofitRows"]]),
    (
        act("namesAdd", "LastSync", "='Branch Settings'!$B$1", sheet=None),
        [["workbook", "names.add", "LastSync", "='Branch Settings'!$B$1"]],
    ),
    (act("namesAdd", "Code", "=$B$1", sheet=1), [["Branch Settings", "names.add", "Code", "=$B$1"]]),
    (
        act("nameDelete", "BranchCode", "='Settings'!$B$1", "BranchCode", None, True, None, sheet=None),
        [["workbook", "names.delete", "BranchCode"]],
    ),
    (act("setRangeName", "Chosen", at=(1, 0, 1, 1)), [["workbook", "names.add", "Chosen", "Tickets!A2"]]),
    (
        act("addHyperlink", URL, "SZ01-2", "open", at=(2, 0, 1, 1)),
        [["Tickets!A3", "hyperlink", {"address": URL, "textToDisplay": "SZ01-2", "screenTip": "open"}]],
    ),
    (act("rangeInsert", "down", at=(3, 0, 1, 3)), [["Tickets!A4:C4", "insert", "Down"]]),
    (act("rangeDelete", "up", at=(3, 0, 1, 3)), [["Tickets!A4:C4", "delete", "Up"]]),
    (
        act("addTable", "A8:C9", True, "TableStyleLight9", "Extra"),
        [
            ["Tickets", "tables.add", "Tickets!A8:C9", True],
            ["Tickets.newTable", "style", "TableStyleLight9"],
            ["Tickets.newTable", "name", "Extra"],
        ],
    ),
    (act("setTableName", 0, "Tickets2"), [["Tickets.table0", "name", "Tickets2"]]),
    (act("resizeTable", 0, "$A$1:$C$9"), [["Tickets.table0", "resize", "$A$1:$C$9"]]),
    (act("showAutofilterTable", 0, False), [["Tickets.table0", "showFilterButton", False]]),
    (act("showHeadersTable", 0, True), [["Tickets.table0", "showHeaders", True]]),
    (act("showTotalsTable", 0, True), [["Tickets.table0", "showTotals", True]]),
    (act("setTableStyle", 0, "TableStyleMedium9"), [["Tickets.table0", "style", "TableStyleMedium9"]]),
    (act("alert", "已分派 2 张投诉单", "投诉管理", "ok", "info", "", sheet=None), []),
]  # fmt: skip


def test_the_table_covers_every_action_the_client_applies():
    assert {action["func"] for action, _ in EVERY_ACTION} == officejs.OFFICEJS_ACTIONS


def test_every_action_type_is_applied_to_the_mock_workbook_in_order(node):
    out = run_mock(node, mode="apply", actions=[action for action, _ in EVERY_ACTION])
    assert out["log"] == [entry for _, entries in EVERY_ACTION for entry in entries]
    assert out["messages"] == [{"title": "投诉管理", "text": "已分派 2 张投诉单"}]


# --- the type check ------------------------------------------------------------------------------


def tsc(node: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(ROOT / "node_modules" / "typescript" / "bin" / "tsc"), "-p", str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_commands_js_type_checks_against_the_office_js_types(node):
    result = tsc(node, officejs.HERE / "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_catches_a_misspelt_excel_call(node, tmp_path):
    folder = ROOT / "build" / f"tsc-{tmp_path.name}"  # beside node_modules, where tsc finds the types
    folder.mkdir(parents=True)
    try:
        text = officejs.CLIENT.read_text(encoding="utf-8")
        (folder / "commands.js").write_text(text.replace("x.range().select()", "x.range().choose()"), "utf-8")
        config = json.loads((officejs.HERE / "tsconfig.json").read_text(encoding="utf-8"))
        (folder / "tsconfig.json").write_text(json.dumps(config), encoding="utf-8")
        result = tsc(node, folder / "tsconfig.json")
    finally:
        shutil.rmtree(folder)
    assert result.returncode != 0 and "Property 'choose' does not exist on type 'Range'" in result.stdout


# --- a press: only the sheets the macro reads, gzipped where the browser can ----------------------

PRESS_BOOK = {**BOOK, "sheets": [*BOOK["sheets"], {"name": "My notes", "cells": [["call back Friday"]]}]}


def press(node: str, macro: str, compression: bool, active: int = 0) -> dict[str, Any]:
    book = {**PRESS_BOOK, "active": active, "selection": "A1"}
    needs = {macro: remote_needs.needs(macro)}
    out = run_mock(node, mode="press", macro=macro, needs=needs, compression=compression, book=book)
    assert out["messages"] == []  # no error shown
    return out


@pytest.mark.parametrize("compression", [True, False], ids=["CompressionStream", "no CompressionStream"])
def test_a_button_sends_only_the_sheets_its_macro_reads_gzipped_where_the_browser_can(node, compression):
    asked, posted = press(node, "check_deadlines", compression)["requests"]
    assert (asked["method"], asked["url"]) == ("GET", "https://desk.test/xlwings/sheets")
    assert asked["headers"]["Authorization"] == "Bearer branch-token"
    assert (posted["method"], posted["url"]) == ("POST", "https://desk.test/xlwings/check_deadlines")
    assert posted["gzip"] is compression
    assert posted["headers"].get("Content-Encoding") == ("gzip" if compression else None)
    sheets = {s["name"]: s for s in posted["body"]["sheets"]}
    assert list(sheets) == ["Tickets", "Branch Settings", "Log", "My notes"]  # every sheet keeps its place
    assert sheets["Tickets"]["values"][1][0] == "SZ01-1" and "omitted" not in sheets["Tickets"]
    assert sheets["My notes"] == {
        "name": "My notes",
        "pictures": [],
        "values": [[]],
        "tables": [],
        "omitted": True,
    }
    assert sheets["Branch Settings"]["omitted"] is True  # not a sheet of the branch workbook


def test_check_wording_also_sends_the_active_sheet_and_pull_consolidated_every_sheet(node):
    posted = press(node, "check_wording", True, active=3)["requests"][1]["body"]
    assert [s["name"] for s in posted["sheets"] if s.get("omitted")] == ["Branch Settings"]
    posted = press(node, "pull_consolidated", True)["requests"][1]["body"]
    assert not [s["name"] for s in posted["sheets"] if s.get("omitted")]
