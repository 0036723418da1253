"""Visible ticket numbers: the rule lives in `complaints.ids` (the add-in's New ticket button shares it)."""

from complaints.ids import TICKET_ID, next_ticket_id, ticket_id

__all__ = ["TICKET_ID", "next_ticket_id", "ticket_id"]
