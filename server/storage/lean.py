"""Lean tickets for the head-office figures: stored rows decoded fast into `Ticket`s of just `KPI_FIELDS`.

The figures read a few fields of every ticket of a period — often hundreds of
thousands. So instead of ORM objects and `rows.row_to_ticket`, the rows come
in batches as plain tuples of those columns and each value is decoded as
`rows.from_db` would, only faster (see `_lean_converters`); repeated texts
(departments, causes, measures) are shared.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from complaints.kpis import KPI_FIELDS, MOMENTS
from complaints.model import Ticket
from complaints.periods import Period
from complaints.schema import ColType
from complaints.wire import COLUMNS
from server.storage.models import BranchRow, tickets_table
from server.storage.rows import from_db

BATCH = 5_000
"""Rows fetched from the database per round trip."""

_SHARED_TEXT = frozenset(("department", "root_cause", "improvement", "group_id", "level_basis"))


def active_condition(period: Period, zone: str) -> ColumnElement[bool]:
    """SQL condition: the ticket has a moment of `MOMENTS` within ``period`` in time zone ``zone``."""
    t = tickets_table.c
    start, end = period.bounds(zone)
    return or_(*(and_(t[m] >= start, t[m] < end) for m in MOMENTS))


def _lean_converters() -> list[Any]:
    """Per `KPI_FIELDS` key, what turns a stored value into the model's (as `rows.from_db`).

    Enum and flag codes are decoded once per distinct code; empty text and
    numbers get their constant default; the rest is kept as SQLAlchemy gives it.
    """
    converters: list[Any] = []
    for key in KPI_FIELDS:
        kind = COLUMNS[key].type
        if kind in (ColType.ENUM, ColType.FLAGS):
            known: dict[Any, Any] = {}

            def decoded(value: Any, key: str = key, known: dict[Any, Any] = known) -> Any:
                if value not in known:
                    known[value] = from_db(key, value)
                return known[value]

            converters.append(decoded)
        elif kind in (ColType.TEXT, ColType.BOOL, ColType.INT):
            default = from_db(key, None)
            converters.append(lambda value, default=default: default if value is None else value)
        else:
            converters.append(None)
    return converters


def stream_lean_tickets(session: Session, zones: Mapping[str, str], window: Period) -> Iterator[Ticket]:
    """Tickets of the branches of ``zones`` (code → time zone) active in ``window``, fetched in batches.

    Each branch's tickets are those with a moment in ``window`` in its own zone;
    only `KPI_FIELDS` are set.
    """
    t = tickets_table.c
    by_zone: dict[str, list[str]] = {}
    for code, zone in zones.items():
        by_zone.setdefault(zone, []).append(code)
    shared: dict[str, str] = {}  # one copy of repeated texts (departments, causes, measures)
    steps = [
        (key, convert, key in _SHARED_TEXT)
        for key, convert in zip(KPI_FIELDS, _lean_converters(), strict=True)
    ]
    for zone, codes in by_zone.items():
        stmt = (
            select(BranchRow.code, *(t[f] for f in KPI_FIELDS))
            .join(BranchRow, BranchRow.id == t.branch_id)
            .where(BranchRow.code.in_(codes), active_condition(window, zone))
        )
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
