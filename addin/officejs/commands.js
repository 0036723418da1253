/* Complaint Desk, Office.js client: each ribbon button sends the workbook to the
   server (POST /xlwings/<macro>) in the xlwings remote payload format and applies
   the actions that come back. Plain JavaScript, no build step. ACTIONS below is the
   one list of actions this client applies; addin/officejs/__init__.py mirrors it. */
"use strict";

const XLWINGS_VERSION = "0.37.8"; // the server skips its version check for "Office.js" clients
const TOKEN_KEY = "complaintDesk.token";
const MACROS = ["new_ticket", "route", "escalate", "deescalate", "check_deadlines", "sync",
  "revisit_list", "monthly_summary", "pull_consolidated", "acknowledge", "plan", "extension", "resolve",
  "feedback", "close", "revisit", "objection", "cancel", "check_wording", "dossier", "group"];

// The token lives in the add-in's own storage, never in the workbook.
const store = () => (typeof OfficeRuntime !== "undefined" && OfficeRuntime.storage) || {
  getItem: async (k) => localStorage.getItem(k), setItem: async (k, v) => localStorage.setItem(k, v) };
const getToken = () => store().getItem(TOKEN_KEY);
const setToken = (token) => store().setItem(TOKEN_KEY, token);

const local = (address) => address.slice(address.lastIndexOf("!") + 1); // "Sheet1!A1:B2" -> "A1:B2"
const sheetOf = (address) => address.slice(0, address.lastIndexOf("!")).replace(/^'(.*)'$/, "$1").replace(/''/g, "'");
const isDateFormat = (f) => /[dmyhs]/i.test(String(f).replace(/"[^"]*"|\[[^\]]*\]|\\./g, "").replace(/General/i, ""));
const serialToIso = (n) => new Date(Math.round((n - 25569) * 86400000)).toISOString();

/**
 * What a macro reads, as the server lists it (GET /xlwings/sheets, server/remote/needs.py): the sheets
 * by title (zh or en, any case), the active sheet, or all. Sheets not needed go by name only, marked
 * "omitted" (actions address sheets by position, so every sheet keeps its place).
 * @typedef {{ all: boolean, sheets: string[], active: boolean }} Need
 */
const title = (name) => name.trim().toLowerCase();
/** @type {(need: Need | undefined, name: string, active: boolean) => boolean} */
const needed = (need, name, active) => !need || need.all || (need.active && active)
  || need.sheets.some((t) => title(t) === title(name));

/** @param {Excel.RequestContext} ctx @param {Need} [need] every sheet when not given */
async function buildPayload(ctx, need) {
  const wb = ctx.workbook;
  const sheets = wb.worksheets.load("items/name");
  const active = wb.worksheets.getActiveWorksheet().load("position");
  const selection = wb.getSelectedRange().load("address");
  const names = wb.names.load("items/name,items/type");
  wb.load("name");
  await ctx.sync();
  const parts = sheets.items.map((sheet, i) => needed(need, sheet.name, i === active.position) ? { sheet,
    used: sheet.getUsedRangeOrNullObject(true),
    tables: sheet.tables.load("items/name,items/showHeaders,items/showTotals,items/style,items/showFilterButton"),
    block: /** @type {Excel.Range | null} */ (null), ranges: /** @type {(Excel.Range | false)[][]} */ ([]) }
    : { sheet, used: null, tables: null, block: null, ranges: [] }); // not needed: sent by name only
  const ranged = names.items.filter((n) => n.type === "Range") // a #REF! name has no range: left out
    .map((n) => ({ name: n.name, range: n.getRangeOrNullObject().load("address") }));
  await ctx.sync();
  for (const p of parts.filter((part) => part.used)) { // values from A1 to the last cell holding one, as Remote.bas
    p.block = p.used.isNullObject ? null : p.sheet.getRange("A1").getBoundingRect(p.used).load("values,numberFormat");
    p.ranges = p.tables.items.map((t) => [t.getRange(), t.showHeaders && t.getHeaderRowRange(),
      t.getDataBodyRange(), t.showTotals && t.getTotalRowRange()].map((r) => r && r.load("address")));
  }
  await ctx.sync();
  const cell = (v, f) => (typeof v === "number" && isDateFormat(f) ? serialToIso(v) : v);
  return {
    client: "Office.js", version: XLWINGS_VERSION,
    book: { name: wb.name, active_sheet_index: active.position, selection: local(selection.address) },
    names: ranged.filter((n) => !n.range.isNullObject).map((n) => ({ name: n.name,
      sheet_index: sheets.items.findIndex((s) => s.name === sheetOf(n.range.address)),
      address: local(n.range.address), book_scope: true, scope_sheet_name: null, scope_sheet_index: null })),
    sheets: parts.map((p) => (p.tables ? {
      name: p.sheet.name, pictures: [],
      values: p.block ? p.block.values.map((row, i) => row.map((v, j) => cell(v, p.block.numberFormat[i][j]))) : [[]],
      tables: p.tables.items.map((t, i) => {
        const [all, head, body, total] = p.ranges[i].map((r) => (r ? local(r.address) : null));
        return { name: t.name, range_address: all, header_row_range_address: head, data_body_range_address: body,
          total_row_range_address: total, show_headers: t.showHeaders, show_totals: t.showTotals,
          table_style: t.style, show_autofilter: t.showFilterButton };
      }),
    } : { name: p.sheet.name, pictures: [], values: [[]], tables: [], omitted: true })),
  };
}

/**
 * @typedef {{ func: string, args: any[], values: any[][] | null, sheet_position: number | null,
 *   start_row: number, start_column: number, row_count: number, column_count: number }} Action
 * @typedef {{ wb: Excel.Workbook, sheets: Excel.Worksheet[], sheet: Excel.Worksheet,
 *   table: () => Excel.Table, range: () => Excel.Range }} Target
 */
/** @type {(a: Action, v: string) => string[][]} */
const fill = (a, v) => Array.from({ length: a.row_count }, () => Array(a.column_count).fill(v));
/** @type {Record<string, (x: Target, a: Action) => unknown>} */
const ACTIONS = {
  setValues: (x, a) => { x.range().values = a.values.map((row) => row.map((v) => (v === null ? "" : v))); },
  setRangeColor: (x, a) => (a.args[0] ? (x.range().format.fill.color = a.args[0]) : x.range().format.fill.clear()),
  setNumberFormat: (x, a) => { x.range().numberFormat = fill(a, a.args[0]); },
  rangeClear: (x) => x.range().clear(),
  rangeClearContents: (x) => x.range().clear("Contents"),
  rangeClearFormats: (x) => x.range().clear("Formats"),
  sheetClear: (x) => x.sheet.getRange().clear(),
  sheetClearContents: (x) => x.sheet.getRange().clear("Contents"),
  sheetClearFormats: (x) => x.sheet.getRange().clear("Formats"),
  rangeSelect: (x) => x.range().select(),
  activateSheet: (x, a) => x.sheets[a.args[0]].activate(),
  addSheet: (x, a) => { x.wb.worksheets.add(a.args[1] === null ? undefined : a.args[1]).position = a.args[0]; },
  setSheetName: (x, a) => { x.sheet.name = a.args[0]; },
  sheetDelete: (x) => x.sheet.delete(),
  setAutofit: (x, a) => (a.args[0] === "columns" ? x.range().format.autofitColumns() : x.range().format.autofitRows()),
  namesAdd: (x, a) => (x.sheet ? x.sheet.names : x.wb.names).add(a.args[0], a.args[1]),
  nameDelete: (x, a) => (a.args[4] === false ? x.sheets[a.args[5]].names : x.wb.names).getItem(a.args[2]).delete(),
  setRangeName: (x, a) => x.wb.names.add(a.args[0], x.range()),
  addHyperlink: (x, a) => {
    x.range().hyperlink = { address: a.args[0], textToDisplay: a.args[1], screenTip: a.args[2] };
  },
  rangeInsert: (x, a) => x.range().insert(a.args[0] === "down" ? "Down" : "Right"),
  rangeDelete: (x, a) => x.range().delete(a.args[0] === "up" ? "Up" : "Left"),
  addTable: (x, a) => {
    const table = x.sheet.tables.add(x.sheet.getRange(a.args[0]), a.args[1]);
    if (a.args[2]) table.style = a.args[2];
    if (a.args[3]) table.name = a.args[3];
  },
  setTableName: (x, a) => { x.table().name = a.args[1]; },
  resizeTable: (x, a) => x.table().resize(a.args[1]), // ExcelApi 1.13; everything else needs 1.7
  showAutofilterTable: (x, a) => { x.table().showFilterButton = a.args[1]; },
  showHeadersTable: (x, a) => { x.table().showHeaders = a.args[1]; },
  showTotalsTable: (x, a) => { x.table().showTotals = a.args[1]; },
  setTableStyle: (x, a) => { x.table().style = a.args[1]; },
  alert: (x, a) => showMessage(a.args[1] || "投诉管理 / Complaint Desk", a.args[0]),
};
const RESHAPES = new Set(["addSheet", "sheetDelete", "setSheetName"]); // sheet list changes: reload it

/** @param {Excel.RequestContext} ctx @param {Action[]} actions */
async function applyActions(ctx, actions) {
  const unknown = actions.map((a) => a.func).filter((f) => !(f in ACTIONS));
  if (unknown.length) throw new Error(`This client cannot apply: ${[...new Set(unknown)].join(", ")}`);
  const load = async () => { const s = ctx.workbook.worksheets.load("items/name"); await ctx.sync(); return s.items; };
  let sheets = await load();
  for (const a of actions) {
    const sheet = a.sheet_position === null || a.sheet_position === undefined ? null : sheets[a.sheet_position];
    await ACTIONS[a.func]({ wb: ctx.workbook, sheets, sheet, table: () => sheet.tables.getItemAt(a.args[0]),
      range: () => sheet.getRangeByIndexes(a.start_row, a.start_column, a.row_count, a.column_count) }, a);
    if (RESHAPES.has(a.func)) sheets = await load();
  }
  await ctx.sync();
}

/** The answer's JSON; an error naming the status and the server's message otherwise. @param {Response} response */
async function answer(response) {
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).message || text; } catch (e) { /* plain-text error */ }
    throw new Error(`${response.status}: ${message}`);
  }
  return JSON.parse(text);
}

/** @type {Record<string, Need> | null} */
let needs = null; // asked once per session: the list changes only with the server
async function needOf(macro, token) {
  if (!needs) {
    needs = (await answer(await fetch(`${location.origin}/xlwings/sheets`,
      { headers: { Authorization: `Bearer ${token}` } }))).macros;
  }
  return needs[macro];
}

/** The JSON body gzipped where the browser can (CompressionStream), else as text. @param {string} text */
async function encode(text) {
  if (typeof CompressionStream === "undefined") return { body: text, headers: {} };
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return { body: await new Response(stream).arrayBuffer(), headers: { "Content-Encoding": "gzip" } };
}

async function runMacro(macro) {
  const token = await getToken();
  if (!token) throw new Error("请先在“设置”中填写访问令牌。 No access token: click Settings and paste your branch token.");
  const need = await needOf(macro, token);
  await Excel.run(async (ctx) => {
    const { body, headers } = await encode(JSON.stringify(await buildPayload(ctx, need)));
    const response = await fetch(`${location.origin}/xlwings/${macro}`, { method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, ...headers }, body });
    await applyActions(ctx, (await answer(response)).actions);
  });
}

// Office add-ins cannot call window.alert: messages open commands.html as a dialog.
function showMessage(title, text) {
  const url = `${location.origin}${location.pathname}?dialog=1#${encodeURIComponent(JSON.stringify({ title, text }))}`;
  return new Promise((resolve) => Office.context.ui.displayDialogAsync(url, { height: 30, width: 35 }, (result) => {
    if (result.status !== Office.AsyncResultStatus.Succeeded) return resolve();
    const dialog = result.value;
    const close = () => { dialog.close(); resolve(); };
    dialog.addEventHandler(Office.EventType.DialogMessageReceived, close);
    dialog.addEventHandler(Office.EventType.DialogEventReceived, resolve);
  }));
}

function command(macro) {
  return async (event) => {
    try {
      await runMacro(macro);
    } catch (err) {
      await showMessage("投诉管理 / Complaint Desk", String(err.message || err));
    }
    event.completed();
  };
}

if (typeof Office !== "undefined") {
  Office.onReady(() => {
    for (const macro of MACROS) {
      globalThis[macro] = command(macro); // FunctionName in manifest.xml; older Excel looks up globals
      if (Office.actions) Office.actions.associate(macro, globalThis[macro]);
    }
  });
}
if (typeof module !== "undefined") { // node: the tests drive the client with a fake Excel
  module.exports = { ACTIONS, MACROS, buildPayload, applyActions, runMacro, command, setToken, getToken };
}
