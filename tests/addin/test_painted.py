"""Actions in proportion to change, and overwritten grey cells named (addin/painted.py)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from addin import macros
from addin.run import Env
from complaints.colours import LEVEL_FILL
from complaints.enums import Level, Status
from complaints.schema import TICKETS
from tests.addin.harness import run_macro
from tests.addin.workbooks import NOW, branch_book, fill, numbered, rows, set_cells
from tests.factories import local

ENV = Env(now=NOW, user="小王")
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


def mixed(count: int) -> list:
    """Tickets of every level, scattered as a branch has them."""
    rng = random.Random(13)
    return [numbered(n, level=rng.choices(list(Level), weights=(85, 10, 5))[0]) for n in range(1, count + 1)]


def test_check_deadlines_on_an_unchanged_sheet_sends_only_its_message_and_one_change_costs_a_few(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", mixed(300))
    first = run_macro(path, macros.check_deadlines, ENV)
    assert first.count("setRangeColor") > 10  # every non-blue run painted once

    unchanged = run_macro(path, macros.check_deadlines, ENV)
    assert [a["func"] for a in unchanged.actions] == ["alert"]

    set_cells(path, TICKETS, "zh", 101, {"media_exposure": "是"})
    changed = run_macro(path, macros.check_deadlines, ENV)
    counts = Counter(a["func"] for a in changed.actions)
    assert counts["setRangeColor"] == 1 and len(changed.actions) <= 8, counts
    assert fill(path, "zh", 101) == LEVEL_FILL[Level.RED]

    assert [a["func"] for a in run_macro(path, macros.check_deadlines, ENV).actions] == ["alert"]


def test_a_step_button_updates_the_memory_so_the_next_check_repaints_nothing(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", mixed(20))
    run_macro(path, macros.check_deadlines, ENV)
    run_macro(path, macros.MACROS["acknowledge"], ENV, sheet="投诉单", selection="A5")
    assert [a["func"] for a in run_macro(path, macros.check_deadlines, ENV).actions] == ["alert"]


@LANGS
def test_an_overwritten_grey_cell_is_put_back_and_named_in_the_message(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2)], lang)
    run_macro(path, macros.check_deadlines, ENV)
    set_cells(path, TICKETS, lang, 3, {"status": Status.CLOSED.label(lang)})

    outcome = run_macro(path, macros.check_deadlines, ENV)
    assert rows(path, TICKETS, lang)[1]["status"] == Status.NEW.label(lang)
    expected = {
        "zh": "灰色列由规则计算，请勿手工填写；已恢复 1 张投诉单被改写的单元格：\nSZ01-20260302-0002：状态",
        "en": "Grey columns are computed by the rules; do not type there. Put back the overwritten cells of "
        "1 ticket(s):\nSZ01-20260302-0002: Status",
    }
    assert expected[lang] in outcome.text and not outcome.critical


def test_deadlines_moving_with_time_are_not_taken_for_overwritten_cells(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2)])
    run_macro(path, macros.check_deadlines, ENV)
    later = run_macro(path, macros.check_deadlines, Env(now=local(2026, 3, 6, 9, 0), user="小王"))
    assert later.count("setValues") >= 1  # the flags moved on
    assert "灰色列" not in later.text
