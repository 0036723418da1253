"""``POST /xlwings/<macro>``: the same buttons for Excel without Python, run by the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import Workbook, load_workbook

from server import create_app
from server.storage.db import get_db
from server.storage.models import TicketRow
from tests.addin.harness import apply_actions, payload_of, vba_actions
from tests.addin.workbooks import NOW, branch_book, numbered, read, setting
from tests.server.api.conftest import add_branch, add_head_office


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}", "CLOCK": lambda: NOW}
    )
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()


def press(app: Flask, macro: str, payload: Any, token: str | None, status: int = 200) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = app.test_client().post(f"/xlwings/{macro}", json=payload, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def alerts(actions: list[dict[str, Any]]) -> list[str]:
    return [a["args"][0] for a in actions if a["func"] == "alert"]


def test_route_pressed_in_excel_on_the_web_comes_back_as_actions_that_route_the_rows(app, tmp_path):
    token = add_branch(app, "SZ01")
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2)])
    actions = press(app, "route", payload_of(path, sheet="投诉单", selection="A2:A3"), token)["actions"]
    assert {a["func"] for a in actions} <= vba_actions()
    apply_actions(path, actions)
    assert [t.investigator for t in read(path).tickets] == ["网络部-调查员1", "网络部-调查员2"]
    assert alerts(actions)[0].startswith("已分派 2 张投诉单")


def test_sync_pressed_remotely_calls_the_server_in_process_with_the_callers_token(app, tmp_path):
    token = add_branch(app, "SZ01")
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], "en")
    actions = press(app, "sync", payload_of(path), token)["actions"]
    apply_actions(path, actions)
    with app.app_context(), get_db().read() as session:
        assert [t.ticket_id for t in session.query(TicketRow)] == ["SZ01-20260302-0001"]
    assert read(path).tickets[0].version == 1
    assert alerts(actions) == [
        "Sync done: sent 1 ticket(s) (1 new), 0 task(s), 0 log entries; received updates to 0 ticket(s)."
    ]


def test_sync_refuses_a_workbook_of_another_branch_than_the_token(app, tmp_path):
    token = add_branch(app, "SZ01")
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)])
    setting(path, "zh", "branch", "GZ02")
    actions = press(app, "sync", payload_of(path), token)["actions"]
    assert alerts(actions) == ["此工作簿属于分支机构 GZ02，而令牌属于 SZ01。本次未做任何修改。"]
    with app.app_context(), get_db().read() as session:
        assert session.query(TicketRow).count() == 0


def test_pull_consolidated_fills_a_head_office_workbook_from_the_servers_export(app, tmp_path):
    for code, count in (("SZ01", 2), ("GZ02", 1)):
        token = add_branch(app, code)
        tickets = [numbered(n, ticket_id=f"{code}-20260302-{n:04d}") for n in range(1, count + 1)]
        path = branch_book(tmp_path / f"{code}.xlsx", tickets, branch=code)
        apply_actions(path, press(app, "sync", payload_of(path), token)["actions"])
    hq = tmp_path / "hq.xlsx"
    Workbook().save(hq)
    actions = press(app, "pull_consolidated", payload_of(hq), add_head_office(app))["actions"]
    apply_actions(hq, actions)

    book = load_workbook(hq)
    everything = book["全部投诉"]
    header = [c.value for c in everything[1]]
    pulled = [row for row in everything.iter_rows(min_row=2, values_only=True) if row[0]]
    ids = header.index("投诉编号")
    assert sorted((row[0], row[ids]) for row in pulled) == [
        ("GZ02", "GZ02-20260302-0001"),
        ("SZ01", "SZ01-20260302-0001"),
        ("SZ01", "SZ01-20260302-0002"),
    ]
    assert everything.cell(2, header.index("联系电话") + 1).number_format == "@"
    assert {"KPI", "月度分析", "超时投诉"} <= set(book.sheetnames)
    assert alerts(actions)[0].startswith("已下载 2026-03 的总部汇总工作簿：")


# --- refusals, in the API's error envelope ------------------------------------------------------


def test_an_unknown_button_is_404_and_a_missing_token_401(app, tmp_path):
    token = add_branch(app, "SZ01")
    payload = payload_of(branch_book(tmp_path / "b.xlsx"))
    assert press(app, "launch", payload, token, 404)["error"] == "unknown_macro"
    assert press(app, "route", payload, None, 401)["error"] == "unauthorized"


def test_each_button_needs_the_right_kind_of_token(app, tmp_path):
    branch, hq = add_branch(app, "SZ01"), add_head_office(app)
    payload = payload_of(branch_book(tmp_path / "b.xlsx"))
    assert "route needs a branch token" in press(app, "route", payload, hq, 403)["message"]
    assert (
        "pull_consolidated needs a head_office or admin token"
        in press(app, "pull_consolidated", payload, branch, 403)["message"]
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda p: p.pop("sheets"), "sheets"),
        (lambda p: p["book"].update(active_sheet_index=99), "book.active_sheet_index"),
        (lambda p: p["sheets"][1].update(values="投诉"), "sheets[1].values"),
        (lambda p: p.update(version="0.1.0"), None),
    ],
    ids=["no sheets", "active sheet", "values", "xlwings version"],
)
def test_a_body_that_is_not_a_workbook_payload_is_refused_naming_the_place(app, tmp_path, change, where):
    token = add_branch(app, "SZ01")
    payload = payload_of(branch_book(tmp_path / "b.xlsx"))
    change(payload)
    error = press(app, "check_deadlines", payload, token, 400)
    assert error["error"] == "bad_payload"
    if where is None:
        assert "xlwings version is different on the client (0.1.0)" in error["message"]
    else:
        assert error["where"] == {"field": where}


def test_without_an_xlwings_licence_key_the_remote_mode_says_what_it_needs(app, tmp_path, monkeypatch):
    monkeypatch.delenv("XLWINGS_LICENSE_KEY")
    token = add_branch(app, "SZ01")
    error = press(app, "route", payload_of(branch_book(tmp_path / "b.xlsx")), token, 503)
    assert error["error"] == "remote_mode_unlicensed" and "XLWINGS_LICENSE_KEY" in error["message"]


def test_two_branches_pressing_at_once_each_get_their_own_answer(app, tmp_path):
    import threading

    results: dict[str, list[str]] = {}
    tokens = {code: add_branch(app, code) for code in ("SZ01", "GZ02")}
    payloads = {}
    for code in tokens:
        tickets = [numbered(n, ticket_id=f"{code}-20260302-{n:04d}") for n in (1, 2)]
        path = branch_book(tmp_path / f"{code}-{uuid.uuid4().hex}.xlsx", tickets, branch=code)
        payloads[code] = payload_of(path, sheet="投诉单", selection="A2:A3")

    def worker(code: str) -> None:
        results[code] = alerts(press(app, "route", payloads[code], tokens[code])["actions"])

    threads = [threading.Thread(target=worker, args=(code,)) for code in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for code in tokens:
        assert len(results[code]) == 1 and f"{code}-20260302-0001" in results[code][0]


MALFORMED = {
    "cell holding a list": (
        lambda p: p["sheets"][0]["values"][1].__setitem__(3, [1]),
        "sheets[0].values[1][3]",
    ),
    "header holding an object": (
        lambda p: p["sheets"][0]["values"][0].__setitem__(0, {"a": 1}),
        "sheets[0].values[0][0]",
    ),
    "selection a number": (lambda p: p["book"].update(selection=1), "book.selection"),
    "book without a name": (lambda p: p["book"].pop("name"), "book.name"),
    "active sheet true": (lambda p: p["book"].update(active_sheet_index=True), "book.active_sheet_index"),
    "tables as text": (lambda p: p["sheets"][0].update(tables="x"), "sheets[0].tables"),
    "table a number": (lambda p: p["sheets"][0].update(tables=[1]), "sheets[0].tables[0]"),
    "table without a name": (lambda p: p["sheets"][0]["tables"][0].pop("name"), "sheets[0].tables[0].name"),
    "table range a number": (
        lambda p: p["sheets"][0]["tables"][0].update(range_address=1),
        "sheets[0].tables[0].range_address",
    ),
    "table range null": (
        lambda p: p["sheets"][0]["tables"][0].update(range_address=None),
        "sheets[0].tables[0].range_address",
    ),
    "table body a list": (
        lambda p: p["sheets"][0]["tables"][0].update(data_body_range_address=[]),
        "sheets[0].tables[0].data_body_range_address",
    ),
    "pictures as text": (lambda p: p["sheets"][0].update(pictures="x"), "sheets[0].pictures"),
    "names of numbers": (lambda p: p.update(names=[1]), "names[0]"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_payload_is_a_400_naming_the_place_for_every_button(app, tmp_path, name):
    change, where = MALFORMED[name]
    token = add_branch(app, "SZ01")
    payload = payload_of(branch_book(tmp_path / "b.xlsx", [numbered(1)]), sheet="投诉单", selection="A2:A2")
    change(payload)
    for macro in ("new_ticket", "route", "sync"):
        error = press(app, macro, payload, token, 400)
        assert error == {"error": "bad_payload", "message": error["message"], "where": {"field": where}}
