"""The appeal register: every ticket on appeal to the regulator, its appeal date, response due and status.

The appeal date is the receipt for a ticket that came in through the regulator
channel, else the moment the "regulator involved" mark was first stored (the
history keeps it), else the receipt. The response due is the ticket's
resolution deadline as the rules computed it at its last write (the standard
sets no separate regulator deadline). Listed newest appeal first, for the
branches asked for (None: all); cumulative, not limited to a period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from complaints.appeals import REGULATOR_FIELD, on_appeal
from complaints.enums import Channel
from server.services.present import local_time, masked, show
from server.storage.models import BranchRow, HistoryRow, TicketRow
from server.storage.rows import from_db, row_to_ticket

HEADERS = {
    "zh": ("分公司", "投诉编号", "客户", "申诉来源", "申诉日期", "答复时限", "状态", "预警等级"),
    "en": (
        "Branch",
        "Ticket",
        "Customer",
        "Appeal through",
        "Appeal date",
        "Response due",
        "Status",
        "Level",
    ),
}
THROUGH = {
    "channel": ("工信部/12300 渠道", "Regulator channel"),
    "mark": ("监管介入标记", "Regulator-involved mark"),
}


@dataclass(frozen=True)
class AppealLine:
    sync_key: str
    branch: str
    ticket_id: str
    customer: str
    through: str
    appeal_date: str
    response_due: str
    status: str
    level: str

    def cells(self) -> list[str]:
        return [
            self.branch,
            self.ticket_id,
            self.customer,
            self.through,
            self.appeal_date,
            self.response_due,
            self.status,
            self.level,
        ]


def register(session: Session, branches: Sequence[str] | None, lang: str, mask: bool) -> list[AppealLine]:
    """The register of ``branches`` (None: all), labels in ``lang``, phone numbers masked when ``mask``."""
    stmt = (
        select(TicketRow, BranchRow.code, BranchRow.timezone)
        .join(BranchRow, BranchRow.id == TicketRow.branch_id)
        .where(or_(TicketRow.regulator_involved.is_(True), TicketRow.channel == Channel.REGULATOR.value))
    )
    if branches:
        stmt = stmt.where(BranchRow.code.in_(branches))
    found = [
        (row, code, zone) for row, code, zone in session.execute(stmt) if on_appeal(row_to_ticket(row, code))
    ]
    marked = dict(
        session.execute(
            select(HistoryRow.entity_key, func.min(HistoryRow.at))
            .where(
                HistoryRow.entity == "ticket",
                HistoryRow.field == REGULATOR_FIELD,
                HistoryRow.new_value == "true",
                HistoryRow.entity_key.in_([row.sync_key for row, _, _ in found]),
            )
            .group_by(HistoryRow.entity_key)
        ).all()
    )
    lines = []
    for row, code, zone in found:
        by_channel = row.channel == Channel.REGULATOR.value
        appealed = row.received_at if by_channel else marked.get(row.sync_key, row.received_at)
        zh, en = THROUGH["channel" if by_channel else "mark"]
        lines.append(
            (
                appealed,
                AppealLine(
                    sync_key=row.sync_key,
                    branch=code,
                    ticket_id=row.ticket_id,
                    customer=masked("customer_name", row.customer_name, mask),
                    through=zh if lang == "zh" else en,
                    appeal_date=local_time(appealed, zone),
                    response_due=local_time(row.resolve_due, zone),
                    status=show("status", from_db("status", row.status), zone, lang),
                    level=show("level", from_db("level", row.level), zone, lang),
                ),
            )
        )
    lines.sort(key=lambda pair: (pair[0], pair[1].ticket_id), reverse=True)
    return [line for _, line in lines]
