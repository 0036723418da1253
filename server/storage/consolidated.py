"""The consolidated workbook's ticket queries: which tickets each ticket sheet holds, read in ordered runs.

Tickets are those of the chosen branches *received* in the period, each in
its own branch's local days (`complaints.periods.Period.bounds`); a ticket
sheet holds those of its `complaints.selections.Selection`, in SQL by
`server.storage.selections.selection_clause` (the same as the dashboard's
lists); flags are as stored by the last flag scan. The All sheet — every
ticket received, cancelled ones too — is read in runs of consecutive ticket
ids (`Run`), so that each run can be read and encoded on its own, by another
process with its own connection if need be.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from complaints import selections
from complaints.periods import Period
from complaints.selections import Selection
from server.storage.models import BranchRow, UtcDateTime, tickets_table
from server.storage.selections import selection_clause


@dataclass(frozen=True, slots=True)
class Scope:
    """Tickets of ``branches`` — (id, code, time zone), by code — received on the local days of ``period``."""

    branches: tuple[tuple[int, str, str], ...]
    period: Period


def scope_of(session: Session, zones: dict[str, str], period: Period) -> Scope:
    """The scope of the branches in ``zones`` (code → time zone, every code known) over ``period``."""
    ids = dict(session.execute(select(BranchRow.code, BranchRow.id)).all())
    return Scope(tuple((ids[code], code, zone) for code, zone in zones.items()), period)


def _where(
    branch_id: int, zone: str, scope: Scope, selection: Selection = selections.EVERY
) -> ColumnElement[bool]:
    """Tickets of the branch received in the scope's period (its local days) that ``selection`` admits."""
    t = tickets_table.c
    start, end = scope.period.bounds(zone)
    return and_(
        t.branch_id == branch_id, t.received_at >= start, t.received_at < end, selection_clause(selection)
    )


def count_selected(session: Session, scope: Scope, chosen: Iterable[Selection]) -> int:
    """Tickets of the scope in each of ``chosen`` together (a ticket counts once in each that admits it)."""
    total = 0
    for selection in chosen if scope.branches else ():
        condition = or_(*(_where(branch_id, zone, scope, selection) for branch_id, _, zone in scope.branches))
        total += session.scalar(select(func.count()).select_from(tickets_table).where(condition)) or 0
    return total


def count_up_to(session: Session, scope: Scope, limit: int) -> int:
    """How many tickets the All sheet has, counting no further than ``limit``."""
    if not scope.branches:
        return 0
    condition = or_(*(_where(branch_id, zone, scope) for branch_id, _, zone in scope.branches))
    capped = select(tickets_table.c.sync_key).where(condition).limit(limit).subquery()
    return session.scalar(select(func.count()).select_from(capped)) or 0


@dataclass(frozen=True, slots=True)
class Run:
    """A run of the All sheet's rows: one branch, ticket ids in ``(after, upto]`` (None: open end)."""

    branch_id: int
    code: str
    zone: str
    after: str | None
    upto: str | None


def plan_runs(session: Session, scope: Scope, size: int) -> Iterator[Run]:
    """Runs of at most ``size`` rows covering the All sheet, in order: branch code, then ticket id.

    Only ticket ids are read here; the rows themselves are read by `run_rows`.
    """
    t = tickets_table.c
    for branch_id, code, zone in scope.branches:
        stmt = select(t.ticket_id).where(_where(branch_id, zone, scope)).order_by(t.ticket_id)
        after: str | None = None
        count = 0
        for (ticket_id,) in session.execute(stmt.execution_options(yield_per=10_000)):
            count += 1
            if count == size:
                yield Run(branch_id, code, zone, after, ticket_id)
                after, count = ticket_id, 0
        if count:
            yield Run(branch_id, code, zone, after, None)


def run_rows(session: Session, scope: Scope, run: Run, keys: Sequence[str]) -> Iterable[Sequence[Any]]:
    """The run's tickets as rows of the ``keys`` columns, by ticket id.

    Datetimes come as the driver returns them — naive UTC, as text on SQLite —
    which the sheet writer converts faster than SQLAlchemy's per-value processing.
    """
    t = tickets_table.c
    columns = [type_coerce(t[k], String) if isinstance(t[k].type, UtcDateTime) else t[k] for k in keys]
    condition = _where(run.branch_id, run.zone, scope)
    if run.after is not None:
        condition = and_(condition, t.ticket_id > run.after)
    if run.upto is not None:
        condition = and_(condition, t.ticket_id <= run.upto)
    stmt = select(*columns).where(condition).order_by(t.ticket_id)
    return session.execute(stmt.execution_options(yield_per=1000))
