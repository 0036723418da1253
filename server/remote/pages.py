"""``POST /xlwings/<macro>``: the ribbon's macros for Excel without local Python.

Excel on the web, Excel for Mac and PCs without Python (the Office.js add-in,
or VBA's ``RunRemotePython``) send the workbook as an xlwings payload; the same
macro functions as on the desktop run on a Book over that payload and the
actions they record go back as ``{"actions": [...]}`` for the client to apply.

- The Book is the project's own engine (`server.remote.engine`), which needs no
  licence. ``FLASK_REMOTE_ENGINE=xlwings`` runs xlwings PRO's remote engine
  instead (``xw.Book(json=payload)``), which needs ``XLWINGS_LICENSE_KEY``
  (``noncommercial`` for non-commercial use; commercial use needs a licence).

- The caller's token decides: branch tokens run the branch buttons, head-office
  tokens Pull consolidated. The token stays in the client, never in the workbook.
- xlwings' remote engine shares one App object in the process (an alert of one
  call could land in another's actions), so one lock serialises its calls; the
  own engine keeps each call's actions on its Book and needs none.
- Sync and Pull consolidated call this server's own API in-process (a WSGI call
  with the caller's ``Authorization`` header) instead of over HTTP: the same
  validation, idempotency and branch isolation as a desktop Sync, with no
  network round trip to itself and no worker of a small gunicorn pool blocked
  waiting for another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request

from addin.macros import MACROS
from addin.run import Env
from addin.sync_client import Reply
from complaints.sla import DEFAULT_TZ
from server import clock
from server.auth import ADMIN, BRANCH, HEAD_OFFICE, current, require
from server.errors import ApiError
from server.jsonbody import request_json
from server.remote import engine as own_engine
from server.remote.needs import every_macro, needs
from server.storage.rows import clock_for

bp = Blueprint("remote", __name__, url_prefix="/xlwings")
LOCK = threading.Lock()
ROLES = {"pull_consolidated": (HEAD_OFFICE, ADMIN)}
"""Who may press a button; every other button is a branch's."""
TOKEN_HINT = "加载项的“设置”窗格 / the add-in's Settings pane"
ENGINES = ("own", "xlwings")
"""``REMOTE_ENGINE``: the project's own (the default) or xlwings PRO's."""


class InProcessTransport:
    """The server's own API, called in-process with the caller's ``Authorization`` header."""

    def __init__(self, app: Flask, authorization: str, where: str) -> None:
        self.app = app
        self.authorization = authorization
        self.where = where
        self.token_hint = TOKEN_HINT

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        response = self.app.test_client().open(
            path,
            method=method,
            json=json,
            query_string=dict(params or {}),
            headers={"Authorization": self.authorization, **(headers or {})},
        )
        content = response.get_data()
        data = response.get_json(silent=True) if response.is_json else None
        return Reply(
            response.status_code, data if data is not None else content.decode(errors="replace"), content
        )


def _remote_engine() -> Any:
    """xlwings with its PRO remote engine registered; 503 without a licence key."""
    if not os.environ.get("XLWINGS_LICENSE_KEY"):
        raise ApiError(
            503,
            "remote_mode_unlicensed",
            "REMOTE_ENGINE=xlwings needs XLWINGS_LICENSE_KEY in the server's environment "
            "('noncommercial' for non-commercial use; commercial use needs an xlwings PRO licence); "
            "unset REMOTE_ENGINE to use the built-in engine, which needs none",
        )
    import xlwings as xw

    if "remote" not in [engine.name for engine in xw.engines]:
        from xlwings.pro import _xlremote  # registered at import only if the key was set then

        xw.engines.add(xw.main.Engine(impl=_xlremote.engine))
    return xw


@bp.route("/<macro>", methods=["POST"])
@require(BRANCH, HEAD_OFFICE, ADMIN)
def run(macro: str) -> Any:
    """Run ribbon macro ``macro`` on the workbook in the body; answer the actions for the client."""
    if macro not in MACROS:
        known = ", ".join(MACROS)
        raise ApiError(404, "unknown_macro", f"no macro {macro!r}; known: {known}", {"macro": macro})
    principal = current()
    wanted = ROLES.get(macro, (BRANCH,))
    if principal.role not in wanted:
        raise ApiError(403, "forbidden", f"{macro} needs a {' or '.join(wanted)} token", {"macro": macro})
    payload = request_json()
    _check_payload(payload)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    env = Env(
        now=clock.now(),
        user=principal.name,
        transport=InProcessTransport(app, request.headers["Authorization"], request.host_url.rstrip("/")),
        branch=principal.branch_code or None,
        calendar=clock_for(DEFAULT_TZ, app.config.get("CALENDAR_FILE")).calendar,
    )
    engine = app.config.get("REMOTE_ENGINE", "own")
    if engine == "xlwings":
        _refuse_needed_but_omitted(macro, payload)
    with _book(payload, engine) as book:
        try:
            MACROS[macro](book, env)
        except own_engine.SheetNotSent as exc:
            where = {"sheet": exc.sheet, "field": f"sheets[{exc.position}]"}
            raise ApiError(400, "sheet_not_sent", str(exc), where) from exc
        actions = list(book.json()["actions"])
    return jsonify({"actions": actions})


def _refuse_needed_but_omitted(macro: str, payload: dict[str, Any]) -> None:
    """400 for a left-out sheet that ``macro`` reads: xlwings PRO's engine would read it as empty."""
    need = needs(macro)
    titles = {title.casefold() for title in need["sheets"]}
    active = payload["book"]["active_sheet_index"]
    for n, sheet in enumerate(payload["sheets"]):
        name = sheet["name"]
        read = need["all"] or name.strip().casefold() in titles or (need["active"] and n == active)
        if sheet.get("omitted") and read:
            message = str(own_engine.SheetNotSent(name, n))
            raise ApiError(400, "sheet_not_sent", message, {"sheet": name, "field": f"sheets[{n}]"})


@bp.get("/sheets")
@require(BRANCH, HEAD_OFFICE, ADMIN)
def sheets() -> Any:
    """The sheets each macro reads (`server.remote.needs`): the web client sends only those."""
    return jsonify({"macros": every_macro()})


@contextmanager
def _book(payload: dict[str, Any], engine: str) -> Iterator[Any]:
    """The workbook of the payload on the configured engine; 400 when the engine refuses the payload."""
    if engine == "own":
        try:
            book = own_engine.Book(payload)
        except own_engine.PayloadError as exc:  # e.g. the client's xlwings version differs
            raise ApiError(400, "bad_payload", str(exc), {"field": exc.field}) from exc
        yield book
        return
    if engine != "xlwings":
        raise ApiError(
            503, "remote_engine_unknown", f"REMOTE_ENGINE is {engine!r}; use one of {', '.join(ENGINES)}"
        )
    xw = _remote_engine()
    with LOCK:
        try:
            with xw.Book(json=payload) as book:
                yield book
        except xw.XlwingsError as exc:  # e.g. the client's xlwings version differs from the server's
            raise ApiError(400, "bad_payload", str(exc)) from exc


SCALAR = (str, int, float, bool, type(None))
"""What a cell value in a payload may be (dates come as text, errors as text, empty cells as null)."""
TABLE_ADDRESSES = ("header_row_range_address", "data_body_range_address", "total_row_range_address")


def _check_payload(payload: Any) -> None:
    """Refuse, naming the place, a body that is not an xlwings workbook payload."""

    def bad(message: str, where: str) -> ApiError:
        return ApiError(400, "bad_payload", f"not an xlwings workbook payload: {message}", {"field": where})

    if not isinstance(payload, dict):
        raise bad("send the workbook as JSON", "body")
    for key in ("client", "version"):
        if not isinstance(payload.get(key), str):
            raise bad(f"'{key}' must be text", key)
    book = payload.get("book")
    if not isinstance(book, dict) or not isinstance(book.get("active_sheet_index"), int):
        raise bad("'book' needs 'name' and 'active_sheet_index'", "book")
    if not isinstance(book.get("name"), str):
        raise bad("'name' must be the workbook's name", "book.name")
    if not isinstance(book.get("selection", ""), str | None):
        raise bad("'selection' must be an address such as A2:A5", "book.selection")
    sheets = payload.get("sheets")
    if not isinstance(sheets, list) or not sheets:
        raise bad("'sheets' must list the workbook's sheets", "sheets")
    if isinstance(book["active_sheet_index"], bool) or not 0 <= book["active_sheet_index"] < len(sheets):
        raise bad("'active_sheet_index' is not one of the sheets", "book.active_sheet_index")
    for n, sheet in enumerate(sheets):
        if not isinstance(sheet, dict) or not isinstance(sheet.get("name"), str):
            raise bad("each sheet needs a 'name'", f"sheets[{n}]")
        if not isinstance(sheet.get("omitted", False), bool):
            raise bad("'omitted' must be true or false", f"sheets[{n}].omitted")
        values = sheet.get("values")
        if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
            raise bad("'values' must be a list of rows", f"sheets[{n}].values")
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                if not isinstance(value, SCALAR):
                    raise bad(
                        "a cell holds text, a number, true/false or null", f"sheets[{n}].values[{r}][{c}]"
                    )
        _check_list(sheet, "pictures", f"sheets[{n}]", bad)
        for t, table in enumerate(_check_list(sheet, "tables", f"sheets[{n}]", bad)):
            place = f"sheets[{n}].tables[{t}]"
            for key in ("name", "range_address"):
                if not isinstance(table.get(key), str) or not table[key]:
                    raise bad(f"a table needs its '{key}' as text", f"{place}.{key}")
            for key in TABLE_ADDRESSES:
                if not isinstance(table.get(key), str | None):
                    raise bad(f"'{key}' must be an address or null", f"{place}.{key}")
    _check_list(payload, "names", "", bad)


def _check_list(owner: dict[str, Any], key: str, place: str, bad: Any) -> list[dict[str, Any]]:
    """``owner[key]``, a list of objects (an empty one when missing); `bad` names the place otherwise."""
    items = owner.setdefault(key, [])
    where = f"{place}.{key}" if place else key
    if not isinstance(items, list):
        raise bad(f"'{key}' must be a list", where)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"each of '{key}' must be an object", f"{where}[{i}]")
    return items


def init_app(app: Flask) -> None:
    app.config.setdefault("REMOTE_ENGINE", "own")
    app.register_blueprint(bp)
