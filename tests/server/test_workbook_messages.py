"""The compensation promised and the two message flags in the branch workbook, in either language."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaints.enums import Flag
from server.xlsx.reader import read_workbook
from tests.server.workbook_factories import NOW, column_of, full_ticket, save_filled


@pytest.mark.parametrize(
    ("lang", "sheet", "header", "flags"),
    [
        ("zh", "投诉单", "补偿承诺", ("承诺未书面确认", "未经首选渠道反馈")),
        ("en", "Tickets", "Compensation promised", ("Commitment not confirmed in writing",
                                                     "Feedback not via preferred channel")),
    ],
)  # fmt: skip
def test_the_compensation_and_the_message_flags_are_shown_labelled_and_read_back(
    tmp_path: Path, lang: str, sheet: str, header: str, flags: tuple[str, ...]
) -> None:
    ticket = full_ticket(
        1,
        compensation="赠送3个月提速",
        flags=frozenset({Flag.UNCONFIRMED_COMMITMENT, Flag.FEEDBACK_CHANNEL}),
    )
    path = save_filled(tmp_path / "SZ01.xlsx", [ticket], lang)

    ws = load_workbook(path)[sheet]
    assert ws[f"{column_of(path, sheet, header)}2"].value == "赠送3个月提速"
    shown = ws[f"{column_of(path, sheet, 'Flags' if lang == 'en' else '预警标记')}2"].value
    assert all(label in shown for label in flags)
    back = read_workbook(path, now=NOW).tickets[0]
    assert back.compensation == "赠送3个月提速"
    assert back.flags == ticket.flags
