"""The emergency path of a major case (standard §2.3): who is on it and what it must show.

A ticket graded 重大 (major), or a member of a detected group incident (the
standard's own example of a major case, 群体性纠纷), takes the emergency path:
its plan is due within 24 hours of elapsed time, progress is reported daily
(`complaints.sla.SlaPolicy`), senior management, legal and public relations are
told once (the server's notices), and the checklist below is kept on the ticket.
"""

from __future__ import annotations

from complaints.enums import Grade
from complaints.model import Ticket

CHECKLIST: tuple[tuple[str, str, str], ...] = (
    ("emergency_plan_at", "应急预案启动", "emergency plan started"),
    ("legal_review_at", "法务审核", "legal review"),
    ("external_statement_at", "对外口径", "external statement"),
)
"""The emergency checklist: ticket field (the moment it was done), zh and en labels."""


def on_emergency_path(ticket: Ticket) -> bool:
    """Graded major, or linked to a group incident."""
    return ticket.grade is Grade.MAJOR or bool(ticket.group_id)


def handling_grade(ticket: Ticket) -> Grade:
    """The grade whose intervals apply: major on the emergency path, the ticket's own grade otherwise."""
    return Grade.MAJOR if on_emergency_path(ticket) else ticket.grade


def checklist_missing(ticket: Ticket) -> list[str]:
    """The checklist fields not yet done (empty when the ticket is not on the emergency path)."""
    if not on_emergency_path(ticket):
        return []
    return [key for key, _, _ in CHECKLIST if getattr(ticket, key) is None]
