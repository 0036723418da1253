"""The tickets whose root-cause measure a change may prove ineffective, read from a branch.

`complaints.rootcause.recurrence` needs, for a ticket whose measure is done, the
later complaints of the same fishbone category and complaint category within the
window. A change can alter that for the changed tickets themselves and for the
earlier tickets whose window covers a changed ticket's receipt (before or after
the change: a category corrected, a ticket cancelled). Those are read here, the
changed tickets taken as they will be stored, and each one's recurrence
computed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from complaints.model import Ticket
from complaints.rootcause import recurrence
from server.storage.models import tickets_table
from server.storage.rows import TICKET_READ, ticket_of

_t = tickets_table.c
Key = tuple[str, str]


def _key(ticket: Ticket | None) -> Key | None:
    if ticket is None or ticket.fishbone is None or ticket.category is None:
        return None
    return ticket.fishbone.value, ticket.category.value


def recurrences(
    session: Session,
    branch_id: int,
    branch_code: str,
    changed: Mapping[str, tuple[Ticket | None, Ticket]],
    days: int,
) -> dict[str, datetime | None]:
    """When each affected ticket's cause recurred (None: it has not), changed or not.

    ``changed``: sync key → (as stored or None, as it will be stored, its measure settled). Every
    changed ticket is in the result; an unchanged one only when its recurrence moved.
    """
    window = timedelta(days=days)
    spans: dict[Key, list[datetime]] = {}
    for before, after in changed.values():
        for ticket in (before, after):
            key = _key(ticket)
            if key is None or ticket is None:
                continue
            moments = [ticket.received_at]
            if ticket.measure_done_at is not None:
                moments.append(ticket.measure_done_at)
            spans.setdefault(key, []).extend(moments)
    found: dict[str, datetime | None] = {}
    for (fishbone, category), moments in spans.items():
        start, end = min(moments) - window, max(moments) + window
        query = select(*TICKET_READ).where(
            _t.branch_id == branch_id,
            _t.fishbone == fishbone,
            _t.category == category,
            or_(
                and_(_t.received_at > start, _t.received_at < end),
                and_(_t.measure_done_at > start, _t.measure_done_at < end),
            ),
        )
        tickets = {
            r.sync_key: ticket_of(r, branch_code) for r in session.execute(query) if r.sync_key not in changed
        }
        tickets.update(
            {key: after for key, (_, after) in changed.items() if _key(after) == (fishbone, category)}
        )
        pool = list(tickets.values())
        for key, ticket in tickets.items():
            if key not in changed and not _watched_over(ticket, moments, window):
                continue
            when = recurrence(ticket, pool, days)
            if when != ticket.recurred_at or key in changed:
                found[key] = when
    for key in changed:  # a changed ticket out of every category: nothing recurs
        found.setdefault(key, None)
    return found


def _watched_over(ticket: Ticket, moments: list[datetime], window: timedelta) -> bool:
    """A receipt among ``moments`` falls in the ticket's watch window (its recurrence may have changed)."""
    done = ticket.measure_done_at
    return done is not None and any(done < m < done + window for m in moments)
