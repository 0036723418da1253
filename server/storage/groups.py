"""The records of group incidents handled as one (``incident_groups``) and their member tickets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.storage.models import GroupRow, TaskRow, tickets_table
from server.storage.rows import chunks, read_tickets, task_of

_t = tickets_table.c


def ensure_groups(session: Session, branch_id: int, group_ids: Iterable[str], now: datetime, by: str) -> int:
    """Give every detected group incident of the branch its record; returns how many were new."""
    wanted = {g for g in group_ids if g}
    if not wanted:
        return 0
    known: set[str] = set()
    for chunk in chunks(sorted(wanted)):
        query = select(GroupRow.group_id).where(GroupRow.branch_id == branch_id, GroupRow.group_id.in_(chunk))
        known.update(session.scalars(query))
    fresh = sorted(wanted - known)
    session.add_all(
        GroupRow(
            branch_id=branch_id,
            group_id=g,
            representative="",
            plan="",
            compensation="",
            created_at=now,
            updated_at=now,
            updated_by=by,
        )
        for g in fresh
    )
    session.flush()
    return len(fresh)


def group_row(session: Session, branch_id: int, group_id: str, lock: bool = False) -> GroupRow | None:
    query = select(GroupRow).where(GroupRow.branch_id == branch_id, GroupRow.group_id == group_id)
    return session.scalar(query.with_for_update() if lock else query)


def member_rows(session: Session, branch_id: int, group_id: str, lock: bool = False) -> dict[str, Any]:
    """The `TICKET_READ` rows of the group's tickets (cancelled ones too), by sync key."""
    keys = session.scalars(select(_t.sync_key).where(_t.branch_id == branch_id, _t.group_id == group_id))
    return read_tickets(session, list(keys), lock=lock)


def member_tasks(session: Session, keys: Iterable[str]) -> list[Any]:
    """The tasks of the tickets ``keys`` as domain values."""
    found = []
    for chunk in chunks(sorted(set(keys))):
        found += [task_of(r) for r in session.scalars(select(TaskRow).where(TaskRow.ticket_key.in_(chunk)))]
    return found
