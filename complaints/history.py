"""Imported history: tickets a branch brings in from the ledger it kept before Complaint Desk.

A ledger holds years of complaints handled by hand, with only some milestones
written down. Judged by today's clocks, every one of them would be overdue:
the overview would drown in old tickets no one can act on any more. So a
ticket imported from a ledger carries the moment it was imported
(`Ticket.imported_at`), and what was due or happened before that moment is
history: no overdue mark or due-soon warning for a deadline that had passed,
no reopening for a dissatisfied revisit the ledger already recorded, and no
level raised by the write-time rules (group incident, repeat complaint) for a
complaint received before the import: the ledger's cases were judged when they
happened. A clock still running at the import runs on as for any other ticket,
and an imported complaint still counts as a neighbour of those received since.
"""

from __future__ import annotations

from datetime import datetime

from complaints.model import Ticket


def is_history(ticket: Ticket, moment: datetime | None) -> bool:
    """Whether ``moment`` (a deadline or an event of ``ticket``) lies before the ticket's import."""
    return ticket.imported_at is not None and moment is not None and moment < ticket.imported_at


def imported_history(ticket: Ticket) -> bool:
    """Whether ``ticket`` came in from a ledger, received before its import."""
    return is_history(ticket, ticket.received_at)
