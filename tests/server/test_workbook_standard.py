"""The emergency checklist and the new flags in the branch workbook, in either language."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaints.enums import Flag, Grade
from server.xlsx.reader import read_workbook
from tests.factories import local
from tests.server.workbook_factories import NOW, column_of, full_ticket, save_filled, save_template


@pytest.mark.parametrize(
    ("lang", "sheet", "header", "flags"),
    [
        ("zh", "投诉单", "应急预案启动时间", ("分派超时", "应急清单未完成")),
        ("en", "Tickets", "Emergency plan started at", ("Routing overdue", "Emergency checklist incomplete")),
    ],
)
def test_the_checklist_and_the_new_flags_are_shown_labelled_and_read_back(
    tmp_path: Path, lang: str, sheet: str, header: str, flags: tuple[str, ...]
) -> None:
    ticket = full_ticket(
        1,
        grade=Grade.MAJOR,
        routed_at=None,
        emergency_plan_at=local(2026, 3, 2, 11),
        legal_review_at=None,
        external_statement_at=None,
        flags=frozenset({Flag.ROUTE_OVERDUE, Flag.CHECKLIST_INCOMPLETE}),
    )
    path = save_filled(tmp_path / "SZ01.xlsx", [ticket], lang)

    ws = load_workbook(path)[sheet]
    assert ws[f"{column_of(path, sheet, header)}2"].value == local(2026, 3, 2, 11).replace(tzinfo=None)
    shown = ws[f"{column_of(path, sheet, 'Flags' if lang == 'en' else '预警标记')}2"].value
    assert all(label in shown for label in flags)
    back = read_workbook(path, now=NOW).tickets[0]
    assert back.emergency_plan_at == ticket.emergency_plan_at
    assert back.flags == ticket.flags


def test_routing_overdue_marks_the_empty_routed_at_cell(tmp_path: Path) -> None:
    path = save_template(tmp_path / "SZ01.xlsx")
    ws = load_workbook(path)["投诉单"]
    routed = column_of(path, "投诉单", "分派时间")
    rules = {str(cf.sqref): [r.formula[0] for r in cf.rules] for cf in ws.conditional_formatting}
    assert any(",ROUTE_OVERDUE," in f and ",分派超时," in f for f in rules[f"{routed}2:{routed}1048576"])
