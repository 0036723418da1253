"""Which tickets a branch's investigator or department head may see: their branch's, assigned to them.

An investigator sees the tickets of their branch naming them as 调查人, and
those of their department when their account names one; a department head the
tickets of their department. Nobody here sees another branch's tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from complaints.enums import Status
from server.storage.models import TicketRow

DONE = (Status.CLOSED.value, Status.REVISITED.value, Status.CANCELLED.value)
"""Statuses of tickets no longer open for the department: closed, revisited or cancelled."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """What binds a staff account to tickets: its role, branch, staff name and department."""

    role: str
    branch_id: int
    staff_name: str = ""
    department: str = ""


def _assigned(who: Assignment) -> ColumnElement[bool]:
    parts = []
    if who.role == "investigator" and who.staff_name.strip():
        parts.append(TicketRow.investigator == who.staff_name.strip())
    if who.department.strip():
        parts.append(TicketRow.department == who.department.strip())
    return or_(*parts) if parts else false()


def open_tickets(session: Session, who: Assignment) -> Sequence[TicketRow]:
    """The open tickets assigned to ``who`` (not closed, revisited or cancelled), in ticket order."""
    stmt = (
        select(TicketRow)
        .where(
            TicketRow.branch_id == who.branch_id,
            _assigned(who),
            TicketRow.status.not_in(DONE),
            TicketRow.cancelled_at.is_(None),
        )
        .order_by(TicketRow.ticket_id)
    )
    return session.scalars(stmt).all()


def assigned_ticket(session: Session, who: Assignment, sync_key: str) -> TicketRow | None:
    """The ticket ``sync_key`` if it is assigned to ``who`` (open or not); None otherwise."""
    stmt = select(TicketRow).where(
        TicketRow.sync_key == sync_key, TicketRow.branch_id == who.branch_id, _assigned(who)
    )
    return session.scalar(stmt)
