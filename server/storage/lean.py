"""Lean tickets for the head-office figures: stored rows decoded fast into `Ticket`s of just `KPI_FIELDS`.

The figures read a few fields of every ticket of a period — often hundreds of
thousands. So instead of ORM objects and `rows.row_to_ticket`, the rows come
in batches as plain tuples of those columns and each value is decoded as
`rows.from_db` would, only faster (see `_decoding`); repeated texts
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

_SHARED_TEXT = frozenset(
    ("branch", "department", "root_cause", "improvement", "group_id", "level_basis")
    + ("investigator", "coordinator")
)


def active_condition(period: Period, zone: str) -> ColumnElement[bool]:
    """SQL condition: the ticket has a moment of `MOMENTS` within ``period`` in time zone ``zone``."""
    t = tickets_table.c
    start, end = period.bounds(zone)
    return or_(*(and_(t[m] >= start, t[m] < end) for m in MOMENTS))


def _decoding() -> tuple[list[tuple[str, Any]], list[tuple[str, dict[Any, Any]]]]:
    """How `KPI_FIELDS` are decoded as `rows.from_db` decodes them, without calling it for every value.

    Returns (key, default) of the text, flag-less and number columns, whose
    None becomes the constant default, and (key, known) of the enum and flags
    columns, whose codes are decoded once each into ``known``; the other
    columns are kept as SQLAlchemy gives them.
    """
    defaults: list[tuple[str, Any]] = []
    coded: list[tuple[str, dict[Any, Any]]] = []
    for key in KPI_FIELDS:
        kind = COLUMNS[key].type
        if kind in (ColType.ENUM, ColType.FLAGS):
            coded.append((key, {}))
        elif kind in (ColType.TEXT, ColType.BOOL, ColType.INT):
            defaults.append((key, from_db(key, None)))
    return defaults, coded


def stream_lean_tickets(session: Session, zones: Mapping[str, str], window: Period) -> Iterator[Ticket]:
    """Tickets of the branches of ``zones`` (code → time zone) active in ``window``, fetched in batches.

    Each branch's tickets are those with a moment in ``window`` in its own zone;
    only `KPI_FIELDS` are set.
    """
    t = tickets_table.c
    by_zone: dict[str, list[str]] = {}
    for code, zone in zones.items():
        by_zone.setdefault(zone, []).append(code)
    keys = ("branch", *KPI_FIELDS)
    defaults, coded = _decoding()
    shared_keys = [key for key in keys if key in _SHARED_TEXT]
    shared: dict[str, str] = {}  # one copy of repeated texts (branch codes, departments, causes, measures)
    for zone, codes in by_zone.items():
        stmt = (
            select(BranchRow.code, *(t[f] for f in KPI_FIELDS))
            .join(BranchRow, BranchRow.id == t.branch_id)
            .where(BranchRow.code.in_(codes), active_condition(window, zone))
        )
        result = session.execute(stmt.execution_options(yield_per=BATCH))
        for part in result.partitions():
            for row in part:
                values = dict(zip(keys, row, strict=True))
                for key, default in defaults:
                    if values[key] is None:
                        values[key] = default
                for key, known in coded:
                    raw = values[key]
                    try:
                        values[key] = known[raw]
                    except KeyError:
                        values[key] = known[raw] = from_db(key, raw)
                for key in shared_keys:
                    value = values[key]
                    if value.__class__ is str:
                        values[key] = shared.setdefault(value, value)
                # no sync key: lean tickets are never written back (a fresh uuid each would cost)
                yield Ticket(sync_key="", **values)
