"""Stored figure columns computed again for tickets already in the database (migration 0006, benchmarks).

The one service writes ``close_workdays`` with every change; this fills it for
rows written before the column existed, or written around the service (bulk
loads), with the calendar the server uses.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, bindparam, or_, select, update

from complaints.kpis import workdays_between
from server.storage.models import BranchRow, tickets_table
from server.storage.rows import clock_for

logger = logging.getLogger(__name__)

BATCH = 5_000


def fill_close_workdays(connection: Connection, calendar_path: str | None) -> int:
    """Set ``close_workdays`` of every ticket from its receipt and closure; returns how many changed."""
    t = tickets_table.c
    changed = 0
    branches = connection.execute(select(BranchRow.id, BranchRow.timezone)).all()
    for branch_id, zone in branches:
        clock = clock_for(zone, calendar_path)
        query = select(t.sync_key, t.received_at, t.closed_at, t.close_workdays).where(
            t.branch_id == branch_id, or_(t.closed_at.is_not(None), t.close_workdays.is_not(None))
        )
        rows = connection.execute(query).all()
        updates = []
        for key, received_at, closed_at, stored in rows:
            days = workdays_between(received_at, closed_at, clock)
            if days != stored:
                updates.append({"k": key, "days": days})
        statement = (
            update(tickets_table).where(t.sync_key == bindparam("k")).values(close_workdays=bindparam("days"))
        )
        for start in range(0, len(updates), BATCH):
            connection.execute(statement, updates[start : start + BATCH])
        changed += len(updates)
        logger.info("close_workdays of %d tickets of branch %d filled", len(updates), branch_id)
    return changed
