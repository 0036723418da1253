"""Lean tickets for the head-office figures: stored rows decoded fast into `Ticket`s of just `KPI_FIELDS`.

The figures read a few fields of every ticket of a period — often hundreds of
thousands. So instead of ORM objects and `rows.row_to_ticket`, the rows come
in batches as plain tuples of those columns and each value is decoded as
`rows.from_db` would, only faster (see `_lean_converters`); repeated texts
(departments, causes, measures) are shared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from complaints.model import Ticket
from complaints.schema import ColType
from complaints.wire import COLUMNS
from server.storage.models import BranchRow, tickets_table
from server.storage.rows import from_db

BATCH = 5_000
"""Rows fetched from the database per round trip."""

MOMENTS: tuple[str, ...] = (
    "received_at",
    "acknowledged_at",
    "plan_at",
    "resolved_at",
    "feedback_at",
    "closed_at",
    "revisited_at",
)
"""A ticket with any of these in a period takes part in that period's KPIs (as in `complaints.kpis`)."""

KPI_FIELDS: tuple[str, ...] = (
    *MOMENTS,
    "ticket_id",
    "status",
    "cancelled_at",
    "category",
    "satisfaction",
    "root_cause",
    "improvement",
    "improvement_done",
    "department",
    "contact",
    "group_id",
    "level",
    "grade",
    "reopened_at",
    "routed_at",
    "promised_at",
    "dept_feedback_due",
    "extension_requested_at",
    "extension_until",
    "extension_reason",
    "extension_customer_informed",
)
"""The ticket fields the KPI and deadline rules read; the rest stays in the database."""


def active_condition(start: datetime, end: datetime) -> ColumnElement[bool]:
    """SQL condition: the ticket has a moment of `MOMENTS` within ``[start, end)``."""
    t = tickets_table.c
    return or_(*(and_(t[m] >= start, t[m] < end) for m in MOMENTS))


def _lean_converters() -> list[Any]:
    """Per `KPI_FIELDS` key, what turns a stored value into the model's (as `rows.from_db`).

    Enum codes are decoded once per distinct code; empty text, flags and
    numbers get their constant default; the rest is kept as SQLAlchemy gives it.
    """
    converters: list[Any] = []
    for key in KPI_FIELDS:
        kind = COLUMNS[key].type
        if kind is ColType.ENUM:
            known: dict[Any, Any] = {}

            def enum(value: Any, key: str = key, known: dict[Any, Any] = known) -> Any:
                if value not in known:
                    known[value] = from_db(key, value)
                return known[value]

            converters.append(enum)
        elif kind in (ColType.TEXT, ColType.BOOL, ColType.INT):
            default = from_db(key, None)
            converters.append(lambda value, default=default: default if value is None else value)
        elif kind is ColType.FLAGS:
            converters.append(lambda value, key=key: from_db(key, value))
        else:
            converters.append(None)
    return converters


_SHARED_TEXT = frozenset(("department", "root_cause", "improvement", "group_id"))


def stream_lean_tickets(
    session: Session, branches: Sequence[str], start: datetime, end: datetime
) -> Iterator[Ticket]:
    """Tickets of ``branches`` active in ``[start, end)``, with only `KPI_FIELDS` set, fetched in batches."""
    t = tickets_table.c
    stmt = (
        select(BranchRow.code, *(t[f] for f in KPI_FIELDS))
        .join(BranchRow, BranchRow.id == t.branch_id)
        .where(BranchRow.code.in_(list(branches)), active_condition(start, end))
    )
    shared: dict[str, str] = {}  # one copy of repeated texts (departments, causes, measures)
    steps = [
        (key, convert, key in _SHARED_TEXT)
        for key, convert in zip(KPI_FIELDS, _lean_converters(), strict=True)
    ]
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    for part in result.partitions():
        for row in part:
            values = {}
            for (key, convert, share), raw in zip(steps, row[1:], strict=True):
                value = raw if convert is None else convert(raw)
                if share and value.__class__ is str:
                    value = shared.setdefault(value, value)
                values[key] = value
            # no sync key: lean tickets are never written back (a fresh uuid each would cost)
            yield Ticket(branch=shared.setdefault(row[0], row[0]), sync_key="", **values)
