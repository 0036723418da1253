"""The root-cause columns in the branch workbook: drop-downs, and a round trip through the /branch upload."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select

from complaints.enums import Effect, Fishbone, Flag, MeasureStatus
from complaints.schema import TICKETS
from server.storage.db import get_db
from server.storage.models import TicketRow
from server.xlsx import read_workbook
from tests.factories import local
from tests.server.api.conftest import NOW
from tests.server.api.test_branch_portal import download, portal, ticket, upload, workbook_bytes  # noqa: F401


def _column(ws, header: str) -> str:
    row = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
    return ws.cell(1, list(row).index(header) + 1).column_letter


def test_the_fishbone_category_and_the_measure_status_are_drop_downs_in_either_language() -> None:
    for lang, sheet, labels in (
        ("zh", "投诉单", ["网络", "系统", "流程", "人员", "政策", "合作方", "客户理解"]),
        ("en", "Tickets", [b.en for b in Fishbone]),
    ):
        ws = load_workbook(io.BytesIO(workbook_bytes([], lang=lang)))[sheet]
        headers = {c.key: c.header(lang) for c in TICKETS.columns}
        lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
        fishbone = _column(ws, headers["fishbone"])
        assert lists[f"{fishbone}2"] == '"' + ",".join(labels) + '"'
        status = _column(ws, headers["measure_status"])
        assert lists[f"{status}2"] == '"' + ",".join(s.label(lang) for s in MeasureStatus) + '"'


def test_an_uploaded_root_cause_and_measure_come_back_merged_with_their_flag_and_effect(portal, app):  # noqa: F811
    client, _ = portal
    measured = ticket(
        1,
        received_at=local(2026, 10, 1, 9),
        fishbone=Fishbone.NETWORK,
        root_cause="老旧光交箱过载",
        improvement="光交箱扩容",
        measure_owner="网络部王工",
        measure_status=MeasureStatus.DONE,
        measure_done_at=local(2026, 10, 10, 10),
    )
    again = ticket(2, received_at=local(2026, 11, 20, 9), fishbone=Fishbone.NETWORK)
    late = ticket(
        3,
        fishbone=Fishbone.PROCESS,
        improvement="修订装机流程",
        measure_due=date(2026, 11, 20),
        measure_status=MeasureStatus.IN_PROGRESS,
    )
    data = workbook_bytes([measured, again, late])

    merged = download(client, upload(client, data).get_data(as_text=True))

    back = {t.ticket_id: t for t in read_workbook(merged, now=NOW).tickets}
    first = back[measured.ticket_id]
    assert (first.fishbone, first.measure_status, first.effect) == (
        Fishbone.NETWORK,
        MeasureStatus.DONE,
        Effect.RECURRED,
    )
    assert first.recurred_at == again.received_at and first.measure_done_at == measured.measure_done_at
    assert Flag.MEASURE_OVERDUE in back[late.ticket_id].flags
    assert back[late.ticket_id].measure_due == date(2026, 11, 20)
    ws = load_workbook(io.BytesIO(merged))["投诉单"]
    shown = {row[0]: row for row in ws.iter_rows(min_row=2, values_only=True) if row[0]}
    headers = [c.value for c in ws[1]]
    at = {h: i for i, h in enumerate(headers)}
    assert shown[late.ticket_id][at["根因类别"]] == "流程"
    assert shown[late.ticket_id][at["措施状态"]] == "进行中"
    assert shown[measured.ticket_id][at["改进成效"]] == "原因复发"
    with app.app_context(), get_db().read() as session:
        stored = dict(session.execute(select(TicketRow.ticket_id, TicketRow.fishbone)).all())
    assert stored[late.ticket_id] == "process"  # the code, whatever language the workbook was in


def test_a_label_typed_in_the_other_language_is_understood(portal, app):  # noqa: F811
    client, _ = portal
    data = workbook_bytes([ticket(1)])
    book = load_workbook(io.BytesIO(data))
    ws = book["投诉单"]
    ws[f"{_column(ws, '根因类别')}2"] = "Customer understanding"
    ws[f"{_column(ws, '改进措施')}2"] = "营业厅张贴资费说明"
    out = io.BytesIO()
    book.save(out)

    merged = download(client, upload(client, out.getvalue()).get_data(as_text=True))

    [back] = read_workbook(merged, now=NOW).tickets
    assert back.fishbone is Fishbone.CUSTOMER and back.measure_status is MeasureStatus.PLANNED
