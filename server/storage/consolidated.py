"""The consolidated workbook's ticket queries: which tickets each ticket sheet holds, read in ordered runs.

Tickets are those of the chosen branches *received* in ``[start, end)``;
flags are as stored by the last flag scan. The All sheet is read in runs of
consecutive ticket ids (`Run`), so that each run can be read and encoded on its
own, by another process with its own connection if need be.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from complaints.enums import Flag, Level
from server.storage.models import BranchRow, UtcDateTime, tickets_table


@dataclass(frozen=True, slots=True)
class Scope:
    """Tickets of ``branches`` — (id, code, time zone), by code — received in ``[start, end)``."""

    branches: tuple[tuple[int, str, str], ...]
    start: datetime
    end: datetime


def scope_of(session: Session, zones: dict[str, str], start: datetime, end: datetime) -> Scope:
    """The scope of the branches in ``zones`` (code → time zone, every code known) over ``[start, end)``."""
    ids = dict(session.execute(select(BranchRow.code, BranchRow.id)).all())
    return Scope(tuple((ids[code], code, zone) for code, zone in zones.items()), start, end)


def sheet_condition(sheet: str) -> ColumnElement[bool] | None:
    """The SQL condition selecting a ticket sheet's rows (None for the All sheet).

    `server.xlsx.consolidate.row_selectors` picks the same rows from the All sheet's.
    """
    t = tickets_table.c
    if sheet == "all":
        return None

    def has_flag(flag: Flag) -> ColumnElement[bool]:
        return ("," + t.flags + ",").contains(f",{flag.value},", autoescape=True)

    if sheet == "overdue":
        return or_(*(has_flag(f) for f in Flag if f.is_overdue))
    if sheet == "warning":
        return t.level.in_([Level.RED.value, Level.YELLOW.value])
    if sheet == "revisit":
        return or_(has_flag(Flag.REVISIT_DUE), has_flag(Flag.REVISIT_OVERDUE))
    if sheet == "training":
        return t.training_case.is_(True)
    raise ValueError(f"unknown ticket sheet {sheet!r}")


def _where(sheet: str, branch_id: int, scope: Scope) -> ColumnElement[bool]:
    t = tickets_table.c
    parts = [t.branch_id == branch_id, t.received_at >= scope.start, t.received_at < scope.end]
    condition = sheet_condition(sheet)
    if condition is not None:
        parts.append(condition)
    return and_(*parts)


def count_sheet_rows(session: Session, scope: Scope, sheets: Iterable[str]) -> int:
    """Rows of ``sheets`` together (a ticket counts once in each sheet that holds it)."""
    total = 0
    for sheet in sheets if scope.branches else ():
        condition = or_(*(_where(sheet, branch_id, scope) for branch_id, _, _ in scope.branches))
        total += session.scalar(select(func.count()).select_from(tickets_table).where(condition)) or 0
    return total


def count_up_to(session: Session, scope: Scope, limit: int) -> int:
    """How many tickets the All sheet has, counting no further than ``limit``."""
    if not scope.branches:
        return 0
    condition = or_(*(_where("all", branch_id, scope) for branch_id, _, _ in scope.branches))
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
        stmt = select(t.ticket_id).where(_where("all", branch_id, scope)).order_by(t.ticket_id)
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
    condition = _where("all", run.branch_id, scope)
    if run.after is not None:
        condition = and_(condition, t.ticket_id > run.after)
    if run.upto is not None:
        condition = and_(condition, t.ticket_id <= run.upto)
    stmt = select(*columns).where(condition).order_by(t.ticket_id)
    return session.execute(stmt.execution_options(yield_per=1000))
