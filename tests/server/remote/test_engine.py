"""The built-in remote engine on its own: how it reads a payload and what it records.

That it answers every macro like xlwings PRO's engine is `tests/addin/test_engines.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib.metadata import version
from typing import Any

import pytest

from server.remote.engine import Book, PayloadError, prepare


def payload(*sheets: tuple[str, list[list[Any]]], client: str = "VBA", selection: str | None = "B2") -> dict:
    return {
        "client": client,
        "version": version("xlwings"),
        "book": {"name": "SZ01.xlsx", "active_sheet_index": 0, "selection": selection},
        "names": [],
        "sheets": [{"name": n, "values": v, "pictures": [], "tables": []} for n, v in sheets],
    }


def test_cells_read_as_the_client_meant_them():
    row = ["2026-03-02T09:01:00.000Z", "2026-13-02T09:01:00.000Z", "2026-03-02", "", True, 0, 2.5, "=1+1"]
    book = Book(payload(("投诉单", [row])))
    assert book.sheets["投诉单"].range((1, 1), (1, 8)).options(ndim=2).value == [
        [datetime(2026, 3, 2, 9, 1), "2026-13-02T09:01:00.000Z", "2026-03-02", None, True, 0, 2.5, "=1+1"]
    ]


def test_a_ragged_or_empty_sheet_reads_as_a_rectangle_from_a1():
    book = Book(payload(("A", [["x", "y"], ["z"]]), ("B", [[]])))
    assert book.sheets["a"].used_range.address == "$A$1:$B$2"  # sheet names ignore case, as in Excel
    assert book.sheets["A"].range((1, 1), (3, 3)).options(ndim=2).value == [
        ["x", "y", None],
        ["z", None, None],
        [None, None, None],
    ]
    assert book.sheets["B"].used_range.last_cell.address == "$A$1"


def test_a_write_is_recorded_for_the_client_and_not_seen_by_a_later_read():
    book = Book(payload(("A", [["old"]])))
    cell = book.sheets["A"].range((1, 1))
    cell.raw_value = [["new"]]
    assert cell.options(ndim=2).value == [["old"]]
    assert book.json()["actions"] == [
        {
            "func": "setValues",
            "args": [None],
            "values": [["new"]],
            "sheet_position": 0,
            "start_row": 0,
            "start_column": 0,
            "row_count": 1,
            "column_count": 1,
        }
    ]


def test_a_sheet_added_after_the_last_takes_the_next_position_and_becomes_active():
    book = Book(payload(("A", [[1]]), ("B", [[2]])))
    added = book.sheets.add("回访清单", after=book.sheets[1])
    added.range((1, 1), (1, 2)).color = "#FFF2CC"
    assert [s.name for s in book.sheets] == ["A", "B", "回访清单"] and book.sheets.active is added
    first, second = book.json()["actions"]
    assert (first["func"], first["args"], first["sheet_position"]) == ("addSheet", [2, "回访清单"], None)
    assert (second["func"], second["args"], second["sheet_position"]) == ("setRangeColor", ["#FFF2CC"], 2)


def test_two_books_keep_their_own_messages():
    one, two = Book(payload(("A", [[1]]))), Book(payload(("A", [[2]])))
    one.app.alert("甲", title="投诉管理", buttons="ok", mode="info")
    assert two.json() == {"actions": []}
    assert one.json()["actions"][0]["args"] == ["甲", "投诉管理", "ok", "info", ""]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (None, ""),
        (datetime(2026, 3, 2, 9, 1, 5, 999), "2026-03-02 09:01:05"),
        (datetime(2026, 3, 2), "2026-03-02"),
        (date(2026, 3, 2), "2026-03-02"),
        ("13800138000", "13800138000"),
        (3, 3),
    ],
)
def test_values_are_written_as_excel_parses_them(value, written):
    assert prepare(value) == written


def test_another_xlwings_version_on_the_client_is_refused_naming_both():
    sent = payload(("A", [[1]]))
    sent["version"] = "0.1.0"
    with pytest.raises(PayloadError, match=r"client \(0\.1\.0\) and the server") as refused:
        Book(sent)
    assert refused.value.field == "version"
    sent["client"] = "Office.js"  # our own client pins no xlwings
    assert Book(sent).name == "SZ01.xlsx"


def test_what_the_engine_cannot_do_is_said_not_guessed():
    sheet = Book(payload(("A", [[1]]))).sheets["A"]
    with pytest.raises(NotImplementedError, match="ndim=2"):
        _ = sheet.range((1, 1)).value
    with pytest.raises(NotImplementedError, match="colour"):
        _ = sheet.range((1, 1)).color


def test_a_table_whose_range_is_not_an_address_is_refused_naming_it():
    sent = payload(("A", [[1]]), ("B", [[1]]))
    sent["sheets"][1]["tables"] = [{"name": "T", "range_address": "here"}]
    with pytest.raises(PayloadError, match="not a cell address: 'here'") as refused:
        Book(sent)
    assert refused.value.field == "sheets[1].tables[0].range_address"


@pytest.mark.parametrize(
    ("address", "expected", "shape"),
    [
        ("B1:C2", "$B$1:$C$2", (2, 2)),
        ("$b$2", "$B$2", (1, 1)),
        ("B:B", "$B$1:$B$1048576", (1_048_576, 1)),
        ("2:2", "$A$2:$XFD$2", (1, 16_384)),
    ],
)
def test_a_range_by_address_as_a_selection_names_it(address, expected, shape):
    sheet = Book(payload(("A", [["a", "b"], ["c", "d"]]))).sheets["A"]
    chosen = sheet.range(address)
    values = chosen.options(ndim=2).value
    assert chosen.address == expected and (len(values), len(values[0])) == shape
    assert values[0][0] == {"B1:C2": "b", "$b$2": "d", "B:B": "b", "2:2": "c"}[address]
