"""A Chinese workbook reads Chinese, an English one English: flags, the rules' reasons, refusals."""

from __future__ import annotations

import pytest

from addin import macros
from addin.run import Env
from complaints.schema import TICKETS
from tests.addin.harness import run_macro
from tests.addin.workbooks import branch_book, numbered, rows
from tests.factories import local

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
THURSDAY = Env(now=local(2026, 3, 5, 10, 0), user="小王")


@LANGS
def test_a_group_incident_shows_its_flags_and_reason_in_the_workbooks_language(tmp_path, lang):
    compound = [
        numbered(n, place="阳光花园小区", received_at=local(2026, 3, 2, 9, 10 + n), expectation="")
        for n in (1, 2, 3)
    ]
    path = branch_book(tmp_path / "b.xlsx", compound, lang)
    run_macro(path, macros.check_deadlines, THURSDAY)

    first = rows(path, TICKETS, lang)[0]
    expected = {  # never routed since Monday: routing overdue too
        "zh": ("群体性投诉", "响应超时、分派超时、方案即将到期、信息不全（缺：诉求期望）"),
        "en": (
            "group incident",
            "Acknowledgement overdue, Routing overdue, Plan due soon, "
            "Information incomplete (missing: Expectation)",
        ),
    }
    assert (first["level_reason"], first["flags"]) == expected[lang]
    assert first["level_basis"] == "GROUP"  # the code stays, in the hidden column


@LANGS
def test_check_deadlines_says_why_an_extension_does_not_move_the_plan_deadline(tmp_path, lang):
    late = numbered(
        1,
        acknowledged_at=local(2026, 3, 2, 9, 30),
        extension_requested_at=local(2026, 3, 2, 10, 0),
        extension_reason="需厂家更换设备",
        extension_until=local(2026, 3, 12, 18, 0),
    )
    path = branch_book(tmp_path / "b.xlsx", [late], lang)
    outcome = run_macro(path, macros.check_deadlines, THURSDAY)
    expected = {
        "zh": "1 张的延期不成立，方案时限未延：\nSZ01-20260302-0001：未告知客户延期",
        "en": "1 extension(s) refused; the plan deadline stays:\n"
        "SZ01-20260302-0001: customer not informed of the extension",
    }
    assert expected[lang] in outcome.text
