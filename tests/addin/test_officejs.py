"""The Office.js add-in: manifest, and the commands.js client against xlwings' remote engine."""

import copy
import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
import xlwings as xw

from addin import officejs
from addin.build_xlam import CUSTOM_UI

ROOT = Path(__file__).resolve().parents[2]
REMOTE_BAS = Path(xw.__file__).resolve().parent / "addin" / "Remote.bas"
NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "ov": "http://schemas.microsoft.com/office/taskpaneappversionoverrides",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CJK = re.compile(r"[\u4e00-\u9fff]")

REQUIRE_NODE = bool(os.environ.get("REQUIRE_NODE"))
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    (shutil.which("npx") is None or NODE is None) and not REQUIRE_NODE,
    reason="node/npx not installed and REQUIRE_NODE is unset",
)


def remote_bas_actions() -> set[str]:
    """Names of the action Subs in xlwings' VBA client: Sub x(wb As Workbook, action As Dictionary)."""
    text = REMOTE_BAS.read_text(encoding="utf-8")
    return set(re.findall(r"^Sub (\w+)\(wb As Workbook, action As Dictionary\)", text, re.MULTILINE))


def js_actions() -> set[str]:
    text = officejs.CLIENT.read_text(encoding="utf-8")
    body = text.split("const ACTIONS = {", 1)[1].split("\n};", 1)[0]
    return set(re.findall(r"^  (\w+): \(", body, re.MULTILINE))


def js_macros() -> list[str]:
    text = officejs.CLIENT.read_text(encoding="utf-8")
    return re.findall(r'"(\w+)"', text.split("const MACROS = [", 1)[1].split("];", 1)[0])


def manifest_root(text: str | None = None) -> ElementTree.Element:
    return ElementTree.fromstring(text if text is not None else officejs.MANIFEST.read_text(encoding="utf-8"))


def ribbon_tags() -> list[str]:
    root = ElementTree.parse(CUSTOM_UI).getroot()
    return [b.get("tag") for b in root.iter("{http://schemas.microsoft.com/office/2006/01/customui}button")]


# --- action lists ---------------------------------------------------------------------------


def test_python_constant_lists_exactly_the_actions_commands_js_applies():
    assert js_actions() == officejs.OFFICEJS_ACTIONS


def test_every_action_the_js_client_applies_is_applied_by_the_vba_client_too():
    assert officejs.OFFICEJS_ACTIONS <= remote_bas_actions()


def test_remote_bas_actions_missing_from_the_js_client_are_the_known_gap():
    # A new xlwings release that adds actions to Remote.bas fails here until
    # someone decides whether commands.js should apply them.
    assert remote_bas_actions() - officejs.OFFICEJS_ACTIONS == officejs.VBA_ONLY_ACTIONS


# --- manifest ------------------------------------------------------------------------------


def controls(root=None):
    root = manifest_root() if root is None else root
    return root.findall(".//ov:Control", NS)


def test_manifest_buttons_run_the_same_macros_as_the_desktop_ribbon_and_the_js_client():
    functions = [c.find("ov:Action/ov:FunctionName", NS) for c in controls()]
    names = [f.text for f in functions if f is not None]
    assert sorted(ribbon_tags()) == sorted(js_macros())
    assert sorted(names) == sorted(set(ribbon_tags()) - set(officejs.DASHBOARD_ON_THE_WEB))


def test_the_web_ribbon_stays_within_office_limit_of_twenty_functions():
    functions = {c.find("ov:Action/ov:FunctionName", NS) for c in controls()} - {None}
    assert len(functions) <= 20
    assert set(officejs.DASHBOARD_ON_THE_WEB) <= set(ribbon_tags())  # only buttons that exist are left out


def test_manifest_has_a_settings_pane_for_the_token():
    actions = [c.find("ov:Action", NS) for c in controls()]
    panes = [a for a in actions if a.get(XSI_TYPE) == "ShowTaskpane"]
    assert len(panes) == 1


def test_every_manifest_resource_reference_is_defined():
    root = manifest_root()
    defined = {e.get("id") for e in root.iter() if e.tag.startswith(f"{{{NS['bt']}}}") and e.get("id")}
    used = {e.get("resid") for e in root.iter() if e.get("resid")}
    assert used <= defined
    assert all(len(resid) <= 32 for resid in used)


@pytest.mark.parametrize(("kind", "limit"), [("ShortStrings", 125), ("LongStrings", 250)])
def test_manifest_strings_are_chinese_by_default_with_english_override(kind, limit):
    strings = manifest_root().findall(f".//bt:{kind}/bt:String", NS)
    assert strings
    for string in strings:
        overrides = {o.get("Locale"): o.get("Value") for o in string.findall("bt:Override", NS)}
        assert CJK.search(string.get("DefaultValue")), string.get("id")
        assert re.search(r"[A-Za-z]{2,}", overrides["en-US"]), string.get("id")
        assert max(len(string.get("DefaultValue")), len(overrides["en-US"])) <= limit


def test_every_manifest_url_is_on_the_placeholder_host_and_every_icon_is_shipped():
    values = [v for e in manifest_root().iter() for v in (e.text, *e.attrib.values()) if v]
    urls = [v.strip() for v in values if "://" in v]
    assert len(urls) > 30
    for url in urls:
        assert url.startswith(officejs.PLACEHOLDER_HOST + "/officejs/") or url == officejs.PLACEHOLDER_HOST
        if url.startswith(officejs.PLACEHOLDER_HOST + "/officejs/"):
            relative = url.removeprefix(officejs.PLACEHOLDER_HOST + "/officejs/")
            assert (officejs.HERE / relative).is_file(), relative


def test_function_file_loads_the_client():
    root = manifest_root()
    resid = root.find(".//ov:FunctionFile", NS).get("resid")
    url = root.find(f".//bt:Url[@id='{resid}']", NS).get("DefaultValue")
    assert url == f"{officejs.PLACEHOLDER_HOST}/officejs/commands.html"
    assert '<script src="commands.js"></script>' in (officejs.HERE / "commands.html").read_text(
        encoding="utf-8"
    )


def test_manifest_for_a_real_host_moves_every_url():
    text = officejs.manifest("https://desk.example.cn/")
    manifest_root(text)  # still well-formed
    assert "localhost" not in text
    assert "https://desk.example.cn/officejs/commands.html" in text


def test_manifest_refuses_plain_http():
    with pytest.raises(ValueError, match="HTTPS"):
        officejs.manifest("http://desk.example.cn")


@needs_node
def test_manifest_converts_and_validates_offline(tmp_path):
    bin_dir = ROOT / "node_modules" / ".bin"
    converter, validator = bin_dir / "office-addin-manifest-converter", bin_dir / "office-addin-manifest"
    if not (converter.exists() and validator.exists()):
        message = "npm packages missing: run `npm ci` in the repository root"
        if REQUIRE_NODE:
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path / "manifest"
    convert = subprocess.run(
        [str(converter), "convert", str(officejs.MANIFEST), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert convert.returncode == 0, convert.stdout + convert.stderr
    validate = subprocess.run(
        [str(validator), "validate", str(out / "manifest.json")], capture_output=True, text=True, timeout=120
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    converted = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    actions = {a["id"] for runtime in converted["extensions"][0]["runtimes"] for a in runtime["actions"]}
    assert set(ribbon_tags()) - set(officejs.DASHBOARD_ON_THE_WEB) <= actions


# --- commands.js against a fake Excel, with payloads and actions from xlwings' remote engine ---

FAKE_EXCEL = r"""
// Just enough of Office.js for commands.js: reads come from the spec, writes are logged.
const spec = JSON.parse(require("fs").readFileSync(0, "utf8"));
const log = [], messages = [], requests = [], associated = [];
const letters = (c) => (c < 26 ? "" : letters(Math.floor(c / 26) - 1)) + String.fromCharCode(65 + (c % 26));
const cellRef = (r, c) => letters(c) + (r + 1);
const one = (x) => {
  const m = /^([A-Z]+)(\d+)$/.exec(x);
  return [Number(m[2]) - 1, [...m[1]].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1];
};
const parse = (a) => {
  const [s, e] = a.replace(/\$/g, "").split(":");
  const [r0, c0] = one(s), [r1, c1] = one(e || s);
  return [r0, c0, r1 - r0 + 1, c1 - c0 + 1];
};
const grid = (rows, cols, f) =>
  Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => f(i, j)));
const recorder = (prefix, target = {}) =>
  new Proxy(target, { set: (o, k, v) => (log.push([prefix + k, v]), true) });

class Range {
  constructor(sheet, r, c, rows, cols) { Object.assign(this, { worksheet: sheet, r, c, rows, cols }); }
  load() { return this; }
  get ref() {
    const last = cellRef(this.r + this.rows - 1, this.c + this.cols - 1);
    return cellRef(this.r, this.c) + (this.rows * this.cols > 1 ? ":" + last : "");
  }
  get address() { // Excel quotes sheet names that are not plain words
    const name = this.worksheet.name;
    return (/^\w+$/.test(name) ? name : `'${name.replace(/'/g, "''")}'`) + "!" + this.ref;
  }
  at(table, i, j, empty) { return (table[this.r + i] || [])[this.c + j] ?? empty; }
  get values() { return grid(this.rows, this.cols, (i, j) => this.at(this.worksheet.cells, i, j, "")); }
  get numberFormat() {
    return grid(this.rows, this.cols, (i, j) => this.at(this.worksheet.formats, i, j, "General"));
  }
  set values(v) { log.push(["values", this.address, v]); }
  set numberFormat(v) { log.push(["numberFormat", this.address, v]); }
  set hyperlink(v) { log.push(["hyperlink", this.address, v]); }
  get format() {
    const address = this.address;
    return {
      fill: {
        set color(v) { log.push(["fill", address, v]); },
        clear() { log.push(["fill", address, null]); },
      },
      autofitColumns() { log.push(["autofit", address, "columns"]); },
      autofitRows() { log.push(["autofit", address, "rows"]); },
    };
  }
  getBoundingRect(o) {
    const r = Math.min(this.r, o.r), c = Math.min(this.c, o.c);
    const rows = Math.max(this.r + this.rows, o.r + o.rows) - r;
    const cols = Math.max(this.c + this.cols, o.c + o.cols) - c;
    return new Range(this.worksheet, r, c, rows, cols);
  }
  clear(kind) { log.push(["clear", this.address, kind || "All"]); }
  select() { log.push(["select", this.address]); }
  insert(d) { log.push(["insert", this.address, d]); }
  delete(d) { log.push(["delete", this.address, d]); }
}

const names = (scope) => ({
  items: [],
  load() { return this; },
  add(name, ref) { log.push(["nameAdd", scope, name, typeof ref === "string" ? ref : ref.address]); },
  getItem(name) { return { delete() { log.push(["nameDelete", scope, name]); } }; },
});

const fakeTable = (sheet, t) => {
  const [r, c, m, n] = parse(t.address);
  return {
    name: t.name, showHeaders: true, showTotals: false, style: "TableStyleMedium2", showFilterButton: true,
    getRange: () => sheet.getRange(t.address),
    getHeaderRowRange: () => new Range(sheet, r, c, 1, n),
    getDataBodyRange: () => new Range(sheet, r + 1, c, m - 1, n),
    getTotalRowRange: () => { throw new Error("no totals row"); },
  };
};

class Sheet {
  constructor(s, position) {
    Object.assign(this, { name: s.name, position, cells: s.cells || [], formats: s.formats || [] });
    this.names = names(s.name);
    this.tables = {
      items: (s.tables || []).map((t) => fakeTable(this, t)),
      load() { return this; },
      add(range, headers) { log.push(["tableAdd", range.address, headers]); return recorder("table."); },
      getItemAt: (i) => recorder(`table${i}.`, { resize: (a) => log.push([`table${i}.resize`, a]) }),
    };
  }
  load() { return this; }
  getRange(a) { return a ? new Range(this, ...parse(a)) : new Range(this, 0, 0, 1048576, 16384); }
  getRangeByIndexes(r, c, rows, cols) { return new Range(this, r, c, rows, cols); }
  getUsedRangeOrNullObject() {
    const rows = this.cells.length, cols = Math.max(0, ...this.cells.map((row) => row.length));
    return rows && cols ? new Range(this, 0, 0, rows, cols) : { isNullObject: true };
  }
  activate() { log.push(["activate", this.name]); }
  delete() { log.push(["sheetDelete", this.name]); }
}

const sheets = spec.book.sheets.map((s, i) => new Sheet(s, i));
const workbook = {
  name: spec.book.name,
  load() { return this; },
  names: names(null),
  worksheets: {
    get items() { return sheets; },
    load() { return this; },
    getActiveWorksheet: () => sheets[spec.book.active],
    add(name) {
      const sheet = new Sheet({ name: name || "Sheet" + (sheets.length + 1) }, sheets.length);
      sheets.push(sheet);
      log.push(["sheetAdd", name]);
      return sheet;
    },
  },
  getSelectedRange: () => sheets[spec.book.active].getRange(spec.book.selection),
};
workbook.names.items = (spec.book.names || []).map((n) =>
  ({ name: n.name, type: "Range", getRangeOrNullObject: () => sheets[n.sheet].getRange(n.address) }));
const ctx = { workbook, sync: async () => {} };

globalThis.Excel = { run: async (f) => f(ctx) };
globalThis.location = { origin: "https://desk.test", pathname: "/officejs/commands.html" };
globalThis.localStorage = {
  data: {}, getItem(k) { return this.data[k] ?? null; }, setItem(k, v) { this.data[k] = v; } };
globalThis.Office = {
  onReady: (f) => f(),
  actions: { associate: (name) => associated.push(name) },
  AsyncResultStatus: { Succeeded: "succeeded" },
  EventType: { DialogMessageReceived: "message", DialogEventReceived: "event" },
  context: { ui: { displayDialogAsync(url, options, callback) {
    messages.push(JSON.parse(decodeURIComponent(url.split("#")[1])));
    const handlers = {};
    callback({ status: "succeeded", value: { close() {}, addEventHandler(t, h) { handlers[t] = h; } } });
    handlers.message({ message: "ok" }); // the user clicks OK
  } } },
};
globalThis.fetch = async (url, init) => {
  const { status, body } = spec.response;
  if (url.endsWith("/xlwings/sheets") && status === 200) { // the sheets each macro reads: all, here
    const every = { all: true, sheets: [], active: true };
    return { ok: true, status, text: async () => JSON.stringify({ macros: { [spec.macro]: every } }) };
  }
  if (init.method === "POST") {
    const gzipped = init.body instanceof ArrayBuffer; // the client compresses where it can
    const text = gzipped ? require("zlib").gunzipSync(Buffer.from(init.body)).toString() : init.body;
    requests.push({ url, authorization: init.headers.Authorization, gzipped, body: JSON.parse(text) });
  }
  return { ok: status === 200, status, text: async () => body };
};

const client = require(spec.client);
(async () => {
  if (spec.token) await client.setToken(spec.token);
  if (spec.payloadOnly) {
    process.stdout.write(JSON.stringify({ payload: await client.buildPayload(ctx), associated }));
    return;
  }
  let completed = 0;
  await client.command(spec.macro)({ completed: () => completed++ });
  process.stdout.write(JSON.stringify({ log, messages, requests, completed }));
})();
"""

# Tickets sheet as a coordinator would have it: a header, two rows, a date column
# formatted as a date (Excel sends serial numbers), and an Excel table.
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


def run_client(tmp_path, **spec):
    script = tmp_path / "fake_excel.js"
    script.write_text(FAKE_EXCEL, encoding="utf-8")
    spec = {"client": str(officejs.CLIENT), "book": BOOK, "response": {"status": 200, "body": "{}"}, **spec}
    result = subprocess.run(
        [NODE or "node", str(script)], input=json.dumps(spec), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def remote(monkeypatch):
    """xlwings' remote engine (PRO code, free for non-commercial use)."""
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", os.environ.get("XLWINGS_LICENSE_KEY", "noncommercial"))
    if "remote" not in [engine.name for engine in xw.engines]:
        # xlwings registers the engine at import time only if the key was set then.
        from xlwings.pro import _xlremote

        xw.engines.add(xw.main.Engine(impl=_xlremote.engine))


@needs_node
def test_payload_from_the_js_client_reads_back_in_the_remote_engine(tmp_path, remote):
    payload = run_client(tmp_path, payloadOnly=True)["payload"]
    assert payload["client"] == "Office.js"
    with xw.Book(json=payload) as book:
        assert book.name == "SZ01.xlsx"
        assert [s.name for s in book.sheets] == ["Tickets", "Branch Settings", "Log"]
        tickets = book.sheets["Tickets"]
        assert tickets["A2:C3"].value == [
            ["SZ01-1", dt.datetime(2024, 1, 2), "蓝"],
            ["SZ01-2", dt.datetime(2024, 1, 2, 12), None],
        ]
        assert book.selection.address == "$B$3"
        assert tickets.tables["Tickets"].data_body_range.address == "$A$2:$C$3"
        assert book.names["BranchCode"].refers_to_range.value == "SZ01"
        assert book.sheets["Log"].used_range.value is None


@needs_node
def test_button_posts_the_workbook_with_the_token_and_applies_the_answer(tmp_path, remote):
    payload = run_client(tmp_path, payloadOnly=True)["payload"]
    sent = copy.deepcopy(payload)  # the remote Book updates its payload as the macro runs
    with xw.Book(json=payload) as book:
        tickets = book.sheets["Tickets"]
        tickets["C2:C3"].value = [["红"], ["黄"]]
        tickets["A2:C2"].color = "#ff0000"
        tickets["B2:B3"].number_format = "yyyy-mm-dd"
        tickets["A3"].add_hyperlink("https://desk.test/t/SZ01-2", "SZ01-2", "open")
        book.sheets.add("Revisits", after=book.sheets["Log"])
        book.names.add("LastSync", "='Branch Settings'!$B$1")
        tickets["A3"].select()
        book.app.alert("已分派 2 条工单", title="投诉管理")
        actions = book.json()["actions"]

    out = run_client(
        tmp_path, token="t0ken", macro="route", response={"status": 200, "body": json.dumps(book.json())}
    )
    assert out["completed"] == 1
    [request] = out["requests"]
    assert request["url"] == "https://desk.test/xlwings/route"
    assert request["authorization"] == "Bearer t0ken"
    assert request["body"] == sent and request["gzipped"]
    assert out["log"] == [
        ["values", "Tickets!C2:C3", [["红"], ["黄"]]],
        ["fill", "Tickets!A2:C2", "#ff0000"],
        ["numberFormat", "Tickets!B2:B3", [["yyyy-mm-dd"], ["yyyy-mm-dd"]]],
        [
            "hyperlink",
            "Tickets!A3",
            {"address": "https://desk.test/t/SZ01-2", "textToDisplay": "SZ01-2", "screenTip": "open"},
        ],
        ["sheetAdd", "Revisits"],
        ["nameAdd", None, "LastSync", "='Branch Settings'!$B$1"],
        ["select", "Tickets!A3"],
    ]
    assert out["messages"] == [{"title": "投诉管理", "text": "已分派 2 条工单"}]
    assert [a["func"] for a in actions] == [
        "setValues",
        "setRangeColor",
        "setNumberFormat",
        "addHyperlink",
        "addSheet",
        "namesAdd",
        "rangeSelect",
        "alert",
    ]


@needs_node
def test_every_ribbon_function_is_bound_when_office_is_ready(tmp_path):
    assert sorted(run_client(tmp_path, payloadOnly=True)["associated"]) == sorted(ribbon_tags())


@needs_node
def test_button_without_a_token_asks_for_one_and_sends_nothing(tmp_path):
    out = run_client(tmp_path, macro="sync")
    assert out["requests"] == []
    assert out["completed"] == 1
    assert "Settings" in out["messages"][0]["text"] and "令牌" in out["messages"][0]["text"]


@needs_node
def test_server_error_is_shown_and_the_workbook_is_left_alone(tmp_path):
    body = json.dumps({"error": "unauthorized", "message": "令牌无效 / invalid token", "where": {}})
    out = run_client(tmp_path, token="old", macro="sync", response={"status": 401, "body": body})
    assert out["log"] == []
    assert out["messages"] == [
        {"title": "投诉管理 / Complaint Desk", "text": "401: 令牌无效 / invalid token"}
    ]
    assert out["completed"] == 1


@needs_node
def test_answer_with_an_action_the_client_cannot_apply_changes_nothing(tmp_path):
    actions = [
        {
            "func": "setValues",
            "args": [None],
            "values": [["x"]],
            "sheet_position": 0,
            "start_row": 0,
            "start_column": 0,
            "row_count": 1,
            "column_count": 1,
        },
        {"func": "addPicture", "args": ["iVBOR", 0, 0, 0, 0], "values": None, "sheet_position": 0},
    ]
    out = run_client(
        tmp_path, token="t", macro="route", response={"status": 200, "body": json.dumps({"actions": actions})}
    )
    assert out["log"] == []
    assert "addPicture" in out["messages"][0]["text"]
    assert out["completed"] == 1
