"""The emergency path of a major case (standard §2.3): who is on it and what it must show.

A ticket graded 重大 (major) takes the emergency path: its plan is due within
24 hours of elapsed time, progress is reported daily (`complaints.sla.SlaPolicy`),
senior management, legal and public relations are told once (the server's
notices), and the checklist below is kept on the ticket.

A detected group incident is yellow, not major, by default: the standard calls
several customers asking the same thing 群体质疑 (yellow, §4.1) and grades a
group *dispute* (群体性纠纷) major (§2.3), a judgement the coordinator makes by
grading the ticket. ``groups=True`` (``SlaPolicy.emergency_groups``) puts every
group incident on the emergency path instead.
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


def on_emergency_path(ticket: Ticket, groups: bool = False) -> bool:
    """Graded major, or (``groups``) linked to a group incident."""
    return ticket.grade is Grade.MAJOR or (groups and bool(ticket.group_id.strip()))


def handling_grade(ticket: Ticket, groups: bool = False) -> Grade:
    """The grade whose intervals apply: major on the emergency path, the ticket's own grade otherwise."""
    return Grade.MAJOR if on_emergency_path(ticket, groups) else ticket.grade


def checklist_missing(ticket: Ticket, groups: bool = False) -> list[str]:
    """The checklist fields not yet done (empty when the ticket is not on the emergency path)."""
    if not on_emergency_path(ticket, groups):
        return []
    return [key for key, _, _ in CHECKLIST if getattr(ticket, key) is None]
