"""Imported history: tickets a branch brings in from the ledger it kept before Complaint Desk.

A ledger holds years of complaints handled by hand, with only some milestones
written down. Judged by today's clocks, every one of them would be overdue:
the overview would drown in old tickets no one can act on any more. So a
ticket imported from a ledger carries the moment it was imported
(`Ticket.imported_at`), and what was due or happened before that moment is
history: no overdue mark or due-soon warning for a deadline that had passed,
no reopening for a dissatisfied revisit the ledger already recorded. A clock
still running at the import runs on as for any other ticket.
"""

from __future__ import annotations

from datetime import datetime

from complaints.model import Ticket


def is_history(ticket: Ticket, moment: datetime | None) -> bool:
    """Whether ``moment`` (a deadline or an event of ``ticket``) lies before the ticket's import."""
    return ticket.imported_at is not None and moment is not None and moment < ticket.imported_at
