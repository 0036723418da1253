"""What the web client sends to ``POST /xlwings/<macro>``: only the sheets the macro reads, gzipped.

The server lists the sheets per macro (``GET /xlwings/sheets``), accepts gzip bodies bounded once
inflated, and refuses, naming the sheet, a payload that left out a sheet the macro reads.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from complaints.schema import ROUTING
from server import create_app
from server.errors import ApiError
from server.jsonbody import inflate
from server.storage.db import get_db
from tests.addin.harness import payload_of
from tests.addin.workbooks import NOW, branch_book, numbered
from tests.server.api.conftest import add_branch

INFLATED = 1024 * 1024


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.delenv("XLWINGS_LICENSE_KEY", raising=False)
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "CLOCK": lambda: NOW}
    app = create_app({**config, "MAX_INFLATED_LENGTH": INFLATED})
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()


@pytest.fixture
def token(app: Flask) -> str:
    return add_branch(app, "SZ01")


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2)])
    workbook = load_workbook(path)
    workbook.create_sheet("我的备注")["A1"] = "周五回电 call back Friday"
    workbook.save(path)
    return path


def post(app: Flask, macro: str, body: bytes, token: str, encoding: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    return app.test_client().post(f"/xlwings/{macro}", data=body, headers=headers)


def sent_for(app: Flask, token: str, macro: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` as commands.js sends it for ``macro``: sheets it does not read by name only."""
    answer = app.test_client().get("/xlwings/sheets", headers={"Authorization": f"Bearer {token}"})
    need = answer.get_json()["macros"][macro]
    titles = {t.strip().casefold() for t in need["sheets"]}
    active = payload["book"]["active_sheet_index"]
    sheets = [
        sheet
        if need["all"] or (need["active"] and i == active) or sheet["name"].strip().casefold() in titles
        else {"name": sheet["name"], "pictures": [], "values": [[]], "tables": [], "omitted": True}
        for i, sheet in enumerate(payload["sheets"])
    ]
    return {**payload, "sheets": sheets}


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


# --- only the sheets the macro reads -------------------------------------------------------------


@pytest.mark.parametrize(
    ("macro", "selection"),
    [("check_deadlines", None), ("route", "A2:A3"), ("revisit_list", None), ("check_wording", "A1")],
)
def test_a_payload_of_only_the_listed_sheets_is_answered_as_the_whole_workbook(
    app, token, book, macro, selection
):
    sheet = "我的备注" if macro == "check_wording" else "投诉单"
    whole = payload_of(book, sheet=sheet, selection=selection or "A1")
    trimmed = sent_for(app, token, macro, whole)
    omitted = [s["name"] for s in trimmed["sheets"] if s.get("omitted")]
    assert omitted == ["说明"] + ([] if macro == "check_wording" else ["我的备注"])
    answers = [post(app, macro, body(p), token) for p in (whole, trimmed)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json() == answers[1].get_json()


def test_a_payload_without_a_sheet_the_macro_reads_is_refused_naming_it(app, token, book):
    payload = payload_of(book)
    (routing,) = [s for s in payload["sheets"] if s["name"] == ROUTING.zh]
    routing.update(values=[[]], tables=[], omitted=True)
    answer = post(app, "route", body(payload), token)
    assert answer.status_code == 400
    error = answer.get_json()
    assert error["error"] == "sheet_not_sent" and error["where"]["sheet"] == ROUTING.zh
    assert f"reads the sheet '{ROUTING.zh}', which the client did not send" in error["message"]
    assert f"宏需要读取工作表“{ROUTING.zh}”，但客户端未发送该表" in error["message"]


# --- gzip ----------------------------------------------------------------------------------------


def test_a_gzipped_payload_is_answered_like_the_plain_one(app, token, book):
    plain = body(payload_of(book))
    answers = [
        post(app, "check_deadlines", plain, token),
        post(app, "check_deadlines", gzip.compress(plain), token, "gzip"),
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json() == answers[1].get_json()
    assert answers[1].get_json()["actions"]


def test_a_gzip_bomb_is_refused_with_413_naming_the_limit(app, token):
    bomb = gzip.compress(b'{"client": "Office.js"' + b" " * (50 * INFLATED) + b"}")
    assert len(bomb) < 100_000
    answer = post(app, "check_deadlines", bomb, token, "gzip")
    assert answer.status_code == 413
    error = answer.get_json()
    assert error["error"] == "inflated_too_large"
    assert "more than 1,048,576 bytes (1 MB), the limit (MAX_INFLATED_LENGTH)" in error["message"]
    assert "解压后的请求体超过上限 1,048,576 字节" in error["message"]


def test_broken_gzip_is_400_and_gzip_elsewhere_than_the_buttons_415(app, token, book):
    cut = gzip.compress(body(payload_of(book)))[:-20]
    answer = post(app, "check_deadlines", cut, token, "gzip")
    assert (answer.status_code, answer.get_json()["error"]) == (400, "bad_gzip")
    headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
    answer = app.test_client().post("/api/sync", data=gzip.compress(b"{}"), headers=headers,
                                    content_type="application/json")  # fmt: skip
    assert (answer.status_code, answer.get_json()["error"]) == (415, "unsupported_content_encoding")


def test_xlwings_pros_engine_is_refused_a_left_out_sheet_it_would_read_as_empty(
    app, token, book, monkeypatch
):
    monkeypatch.setenv(
        "XLWINGS_LICENSE_KEY", "noncommercial"
    )  # an option of the server, tested non-commercially
    app.config["REMOTE_ENGINE"] = "xlwings"
    payload = payload_of(book)
    payload["sheets"][0].update(values=[[]], tables=[], omitted=True)
    answer = post(app, "check_deadlines", body(payload), token)
    assert answer.status_code == 400
    assert answer.get_json()["where"] == {"sheet": "投诉单", "field": "sheets[0]"}


def test_inflating_stops_at_the_limit_instead_of_holding_the_whole_bomb():
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * INFLATED
    bomb = b"".join(packer.compress(block) for _ in range(200)) + packer.flush()  # 200 MB inflated
    tracemalloc.start()
    try:
        with pytest.raises(ApiError) as refused:
            inflate(bomb, INFLATED)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413
    assert peak < 8 * INFLATED  # the limit and a block, never the 200 MB
