"""Daily notices: a digest per branch coordinator and per department head, and overdue reminders.

The digest lists a branch's open work from the stored flags (kept current by
the flag scan): overdue, due within 24 hours, red/yellow, revisits due. The
coordinator gets the whole branch; each department head the tickets of their
departments. A yellow or red ticket still overdue a day after its escalation
reminds its head again, once a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import Flag, Level, Status
from complaints.model import Ticket
from complaints.routing import head_rule
from server.services.notices import Notice, enqueue, flag_labels, render, ticket_context
from server.storage.models import BranchRow, TicketRow, tickets_table
from server.storage.routing import branch_contact, routing_table
from server.storage.rows import from_db, row_to_ticket

SECTIONS = ("overdue", "due_soon", "escalated", "revisits")
REMIND_AFTER = timedelta(hours=20)
"""An escalation younger than this is not reminded yet: its notice went out recently."""
_DONE = (Status.REVISITED.value, Status.CANCELLED.value)
_t = tickets_table.c
_COLUMNS = (
    _t.ticket_id,
    _t.category,
    _t.department,
    _t.investigator,
    _t.level,
    _t.flags,
    _t.status,
    _t.received_at,
    _t.sync_key,
)


@dataclass
class Digest:
    """The sections of one recipient's digest: lists of display rows."""

    recipient: str
    to_addr: str
    role: str
    sections: dict[str, list[dict[str, str]]] = field(default_factory=lambda: {s: [] for s in SECTIONS})

    @property
    def empty(self) -> bool:
        return not any(self.sections.values())


def _sections(flags: frozenset[Flag], level: Level, status: Status) -> list[str]:
    found = []
    if any(f.is_overdue for f in flags):
        found.append("overdue")
    if any(f.value.endswith("_SOON") for f in flags):
        found.append("due_soon")
    if level is not Level.BLUE and status is not Status.CLOSED:
        found.append("escalated")
    if Flag.REVISIT_DUE in flags:
        found.append("revisits")
    return found


def branch_digests(session: Session, branch: BranchRow, lang: str) -> list[Digest]:
    """The coordinator's digest and one per department head (by e-mail address, or name when none)."""
    table = routing_table(session, branch.id)
    contact = branch_contact(session, branch.id)
    coordinator = Digest(contact.coordinator, contact.email, "coordinator")
    heads: dict[str, Digest] = {}
    query = (
        select(*_COLUMNS)
        .where(_t.branch_id == branch.id, _t.status.not_in(_DONE))
        .where((_t.flags != "") | (_t.level != Level.BLUE.value))
        .order_by(_t.received_at, _t.ticket_id)
    )
    for row in session.execute(query):
        flags = from_db("flags", row.flags)
        level = from_db("level", row.level) or Level.BLUE
        status = from_db("status", row.status) or Status.NEW
        sections = _sections(flags, level, status)
        if not sections:
            continue
        category = from_db("category", row.category)
        ticket = Ticket(row.ticket_id, row.received_at, category=category, department=row.department or "")
        rule = head_rule(table, ticket)
        key = (rule.head_email or rule.head) if rule else ""
        head = heads.get(key)
        if head is None:
            head = heads[key] = Digest(rule.head if rule else "", rule.head_email if rule else "", "head")
        item = {
            "ticket_id": row.ticket_id,
            "category": category.label(lang) if category else "",
            "department": row.department or "",
            "investigator": row.investigator or "",
            "level": level.label(lang),
            "status": status.label(lang),
            "flags": flag_labels(flags, lang),
        }
        for name in sections:
            coordinator.sections[name].append(item)
            head.sections[name].append(item)
    return [coordinator, *heads.values()]


def enqueue_digests(session: Session, branch: BranchRow, now: datetime) -> int:
    """Queue today's digests of the branch (none for an empty one); the number queued."""
    lang = branch_contact(session, branch.id).language
    today = now.astimezone(ZoneInfo(branch.timezone)).date()
    queued = 0
    for digest in branch_digests(session, branch, lang):
        if digest.empty:
            continue
        subject, body = render(
            "digest", lang, branch=branch, digest=digest, today=today.isoformat(), limit=100
        )
        who = digest.to_addr or digest.recipient or "-"
        notice = Notice(
            kind="digest",
            dedupe_key=f"digest:{branch.code}:{digest.role}:{who}:{today.isoformat()}",
            recipient=digest.recipient,
            to_addr=digest.to_addr,
            lang=lang,
            subject=subject,
            body=body,
            branch_id=branch.id,
        )
        queued += enqueue(session, notice, now)
    return queued


def enqueue_overdue_reminders(session: Session, branch: BranchRow, now: datetime) -> int:
    """Remind heads, once a day, of their yellow and red tickets that are still overdue."""
    lang = branch_contact(session, branch.id).language
    table = routing_table(session, branch.id)
    today = now.astimezone(ZoneInfo(branch.timezone)).date().isoformat()
    query = select(TicketRow).where(
        TicketRow.branch_id == branch.id,
        TicketRow.level.in_([Level.YELLOW.value, Level.RED.value]),
        TicketRow.status.not_in([s.value for s in (Status.CLOSED, Status.REVISITED, Status.CANCELLED)]),
        tickets_table.c.flags.like("%OVERDUE%") | tickets_table.c.flags.like(f"%{Flag.APPEAL_RISK.value}%"),
    )
    queued = 0
    for row in session.scalars(query):
        ticket = row_to_ticket(row, branch.code)
        if not any(f.is_overdue for f in ticket.flags):
            continue
        if ticket.escalated_at is not None and now - ticket.escalated_at < REMIND_AFTER:
            continue
        rule = head_rule(table, ticket)
        head = (rule.head if rule else "") or ticket.escalated_to
        context: dict[str, Any] = ticket_context(branch, ticket, lang)
        subject, body = render("overdue", lang, head=head, reason=ticket.level_reason, **context)
        notice = Notice(
            kind="overdue",
            dedupe_key=f"overdue:{ticket.sync_key}:{today}",
            recipient=head,
            to_addr=rule.head_email if rule else "",
            lang=lang,
            subject=subject,
            body=body,
            branch_id=branch.id,
            ticket_key=ticket.sync_key,
        )
        queued += enqueue(session, notice, now)
    return queued


def per_branch(session: Session) -> list[BranchRow]:
    return list(session.scalars(select(BranchRow).order_by(BranchRow.code)))
