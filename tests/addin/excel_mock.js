// commands.js against Microsoft's Excel API mock (office-addin-mock), run by tests/addin/test_officejs_mock.py.
//
// Every sheet, range, table and name is an OfficeMockObject: reading a property that was not
// load()-ed and sync()-ed gives the mock's error text instead of the value, as Excel would fail.
// Reads come from the spec on stdin; what commands.js writes or calls is logged in order.
//   {"mode": "payload", "client": ..., "book": {...}}            -> {"payload": ...}
//   {"mode": "apply", "client": ..., "book": {...}, "actions": [...]} -> {"log": [...], "messages": [...]}
//   {"mode": "press", "client": ..., "book": {...}, "macro": ..., "needs": {...}, "compression": bool}
//     -> {"requests": [{"method", "url", "headers", "gzip", "body"}], "log": [...], "messages": [...]}
//     a button pressed against a fake server: GET /xlwings/sheets answers "needs", the POST no actions;
//     without "compression" the runtime has no CompressionStream (an older browser).
"use strict";
const { OfficeMockObject } = require("office-addin-mock");

const spec = JSON.parse(require("fs").readFileSync(0, "utf8"));
const log = [], messages = [], mocks = [];
const proxies = new WeakMap(), labels = new WeakMap();
// A range handed to Excel (names.add, tables.add) is named by where it is, never by a property read.
const labelOf = (v) => (typeof v === "object" && v !== null && labels.has(v) ? labels.get(v) : v);

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
const quoted = (name) => (/^\w+$/.test(name) ? name : `'${name.replace(/'/g, "''")}'`);

// Writes by commands.js go through this proxy and are logged; the mock's own bookkeeping
// (load, sync) runs on the bare object and is not.
function tracked(mock, label) {
  if (proxies.has(mock)) return proxies.get(mock);
  const proxy = new Proxy(mock, {
    get(target, key) {
      const value = target[key];
      if (key === "load" || key === "sync") return value.bind(target);
      if (value instanceof OfficeMockObject) return tracked(value, `${label}.${String(key)}`);
      return value;
    },
    set(target, key, value) {
      log.push([label, key, labelOf(value)]);
      target[key] = value;
      return true;
    },
  });
  proxies.set(mock, proxy);
  labels.set(proxy, label);
  return proxy;
}

// Set on the mock itself, unlogged: what Excel provides without a load, and the fake's wiring.
const attach = (m, props) => {
  for (const [key, value] of Object.entries(props)) {
    Object.defineProperty(m, key, { value, writable: true, configurable: true, enumerable: true });
  }
  return m;
};

function mock(data, label) {
  const object = new OfficeMockObject(data);
  mocks.push(object);
  return tracked(object, label);
}

const where = new WeakMap(); // range -> [sheet, row, column, rows, columns]

function range(sheet, r, c, rows, cols, withData = true) {
  const ref = cellRef(r, c) + (rows * cols > 1 ? ":" + cellRef(r + rows - 1, c + cols - 1) : "");
  const address = `${quoted(sheet.spec.name)}!${ref}`;
  const at = (table, i, j, empty) => (table[r + i] || [])[c + j] ?? empty;
  const data = {
    address,
    format: {
      fill: { clear: () => log.push([address, "fill.clear"]) },
      autofitColumns: () => log.push([address, "autofitColumns"]),
      autofitRows: () => log.push([address, "autofitRows"]),
    },
    getBoundingRect(other) {
      const [, r2, c2, m2, n2] = where.get(other);
      const top = Math.min(r, r2), left = Math.min(c, c2);
      return range(sheet, top, left, Math.max(r + rows, r2 + m2) - top, Math.max(c + cols, c2 + n2) - left);
    },
    clear: (kind) => log.push([address, "clear", kind || "All"]),
    select: () => log.push([address, "select"]),
    insert: (shift) => log.push([address, "insert", shift]),
    delete: (shift) => log.push([address, "delete", shift]),
  };
  if (withData) { // what a read may load; ranges made to be written carry no values
    data.values = grid(rows, cols, (i, j) => at(sheet.spec.cells || [], i, j, ""));
    data.numberFormat = grid(rows, cols, (i, j) => at(sheet.spec.formats || [], i, j, "General"));
  }
  const made = attach(mock(data, address), { isNullObject: false }); // known after sync, as in Excel
  where.set(made, [sheet, r, c, rows, cols]);
  return made;
}

function names(scope) {
  return {
    items: [],
    load() { for (const n of this.items) n.load("name,type"); return this; },
    add: (name, ref) => log.push([scope || "workbook", "names.add", name, labelOf(ref)]),
    getItem: (name) => ({ delete: () => log.push([scope || "workbook", "names.delete", name]) }),
  };
}

function sheetMock(s, position) {
  const sheet = mock({
    name: s.name,
    position,
    getRange(a) { return a ? range(sheet, ...parse(a)) : range(sheet, 0, 0, 1048576, 16384, false); },
    getRangeByIndexes: (r, c, rows, cols) => range(sheet, r, c, rows, cols, false),
    getUsedRangeOrNullObject() {
      const cells = s.cells || [];
      const rows = cells.length, cols = Math.max(0, ...cells.map((row) => row.length));
      if (rows && cols) return range(sheet, 0, 0, rows, cols);
      return attach(mock({}, `${s.name}!none`), { isNullObject: true });
    },
    activate: () => log.push([s.name, "activate"]),
    delete: () => log.push([s.name, "delete"]),
  }, s.name);
  attach(sheet, { spec: s });
  const tables = (s.tables || []).map((t, i) => {
    const [r, c, m, n] = parse(t.address);
    return mock({
      name: t.name, showHeaders: true, showTotals: false, style: "TableStyleMedium2", showFilterButton: true,
      getRange: () => range(sheet, r, c, m, n),
      getHeaderRowRange: () => range(sheet, r, c, 1, n),
      getDataBodyRange: () => range(sheet, r + 1, c, m - 1, n),
      getTotalRowRange: () => { throw new Error("no totals row"); },
      resize: (a) => log.push([`${s.name}.table${i}`, "resize", labelOf(a)]),
    }, `${s.name}.table${i}`);
  });
  attach(sheet, { tables: {
    items: tables,
    load(props) {
      const wanted = props.split(",").map((p) => p.replace(/^items\//, "")).join(",");
      for (const t of tables) t.load(wanted);
      return this;
    },
    add(r, headers) {
      log.push([s.name, "tables.add", labelOf(r), headers]);
      return mock({}, `${s.name}.newTable`);
    },
    getItemAt: (i) => tables[i],
  }, names: names(s.name) });
  return sheet;
}

const sheets = spec.book.sheets.map((s, i) => sheetMock(s, i));
const workbook = mock({
  name: spec.book.name,
  getSelectedRange: () => sheets[spec.book.active].getRange(spec.book.selection),
}, "workbook");
attach(workbook, { worksheets: {
  get items() { return sheets; },
  load(props) { for (const s of sheets) s.load(props.replace(/^items\//, "")); return this; },
  getActiveWorksheet: () => sheets[spec.book.active],
  add(name) {
    log.push(["workbook", "worksheets.add", name]);
    const added = sheetMock({ name }, sheets.length);
    sheets.push(added);
    return added;
  },
}, names: names(null) });
workbook.names.items = (spec.book.names || []).map((n) => mock({
  name: n.name, type: "Range",
  getRangeOrNullObject: () => sheets[n.sheet].getRange(n.address),
}, `name ${n.name}`));
const ctx = { workbook, sync: async () => { for (const m of [...mocks]) await m.sync(); } };

globalThis.Excel = { run: async (f) => f(ctx) };
globalThis.location = { origin: "https://desk.test", pathname: "/officejs/commands.html" };
globalThis.Office = {
  onReady: () => undefined, // the buttons are bound by the fake-Excel tests; here only the client runs
  AsyncResultStatus: { Succeeded: "succeeded" },
  EventType: { DialogMessageReceived: "message", DialogEventReceived: "event" },
  context: { ui: { displayDialogAsync(url, options, callback) {
    messages.push(JSON.parse(decodeURIComponent(url.split("#")[1])));
    const handlers = {};
    callback({ status: "succeeded", value: { close() {}, addEventHandler(t, h) { handlers[t] = h; } } });
    handlers.message({ message: "ok" }); // the user clicks OK
  } } },
};

const requests = [];
async function fakeServer(url, init = {}) {
  let body = init.body, gzip = false;
  if (body instanceof ArrayBuffer) { body = require("zlib").gunzipSync(Buffer.from(body)).toString(); gzip = true; }
  requests.push({ method: init.method || "GET", url, headers: init.headers || {}, gzip,
    body: body === undefined ? null : JSON.parse(body) });
  const answer = url.endsWith("/xlwings/sheets") ? { macros: spec.needs } : { actions: [] };
  return new Response(JSON.stringify(answer), { status: 200 });
}
if (spec.mode === "press") {
  globalThis.fetch = fakeServer;
  globalThis.OfficeRuntime = { storage: { getItem: async () => "branch-token", setItem: async () => undefined } };
  if (!spec.compression) delete globalThis.CompressionStream;
}

const client = require(spec.client);
(async () => {
  if (spec.mode === "press") {
    await client.command(spec.macro)({ completed: () => undefined });
    process.stdout.write(JSON.stringify({ requests, log, messages }));
    return;
  }
  if (spec.mode === "payload") {
    process.stdout.write(JSON.stringify({ payload: await client.buildPayload(ctx) }));
    return;
  }
  await client.applyActions(ctx, spec.actions);
  process.stdout.write(JSON.stringify({ log, messages }));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
