"""`complaints.selections.Selection` and periods as SQL over the tickets table, for lists and ticket sheets.

Each criterion is the stored-column form of the same criterion in
`Selection.admits` / `profile_of`, so a list shows exactly the tickets its
figure counts: a missing status or level reads as new or blue, flags are
whole codes of the stored comma-separated list, blank means only white space
(the characters `str.strip` removes).
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, true

from complaints.enums import Grade, Level, Status
from complaints.levels import Basis
from complaints.periods import midnight
from complaints.selections import FINISHED, OVERDUE_FLAGS, REVISIT_FLAGS, Selection
from server.storage.models import figures_table, tickets_table

WHITE_SPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
"""Every character `str.strip` removes."""


def _stripped(column: ColumnElement[str]) -> ColumnElement[str]:
    return func.rtrim(func.ltrim(func.coalesce(column, ""), WHITE_SPACE), WHITE_SPACE)


def _has_any(column: ColumnElement[str], codes: Collection[str]) -> ColumnElement[bool]:
    """The comma-separated ``column`` holds one of ``codes`` as a whole item."""
    padded = literal(",") + func.coalesce(column, "") + literal(",")
    return or_(*(padded.contains(f",{code},", autoescape=True) for code in sorted(codes)))


def _status() -> ColumnElement[str]:
    return func.coalesce(tickets_table.c.status, Status.NEW.value)


def is_cancelled() -> ColumnElement[bool]:
    """Never NULL (a missing status reads as new), so that its negation holds the live tickets."""
    return or_(_status() == Status.CANCELLED.value, tickets_table.c.cancelled_at.is_not(None))


def selection_clause(selection: Selection) -> ColumnElement[bool]:
    """SQL condition of every criterion of ``selection`` (not the period nor the branches)."""
    t = tickets_table.c
    s = selection
    status = _status()
    parts: list[ColumnElement[bool]] = []
    if s.cancelled is True:
        parts.append(is_cancelled())
    elif s.cancelled is False:
        parts.append(~is_cancelled())
    if s.status is not None:
        parts.append(status == s.status.value)
    if s.levels:
        parts.append(func.coalesce(t.level, Level.BLUE.value).in_(sorted(lv.value for lv in s.levels)))
    if s.category is not None:
        parts.append(t.category == s.category.value)
    if s.uncategorised:
        parts.append(t.category.is_(None))
    if s.unfinished:
        parts.append(status.not_in(sorted(st.value for st in FINISHED)))
    if s.overdue:
        parts.append(_has_any(t.flags, [f.value for f in OVERDUE_FLAGS]))
    if s.revisit_due:
        parts.append(_has_any(t.flags, [f.value for f in REVISIT_FLAGS]))
    if s.grouped:
        parts.append(_stripped(t.group_id) != "")
    if s.repeat:
        parts.append(_has_any(t.level_basis, [Basis.REPEAT]))
    if s.training:
        parts.append(t.training_case.is_(True))
    if s.major:
        parts.append(t.grade == Grade.MAJOR.value)
    if s.department is not None:
        parts.append(_stripped(t.department) == s.department)
    return and_(true(), *parts)


def figures_clause(selection: Selection) -> ColumnElement[bool]:
    """`selection_clause` over the stored profile of each ticket (``ticket_figures``, `kpis.Facts`).

    The profile holds what `Selection.admits` reads, so no flag or text is parsed: counting is cheap.
    """
    f = figures_table.c
    s = selection
    parts: list[ColumnElement[bool]] = []
    if s.cancelled is not None:
        parts.append(f.cancelled.is_(s.cancelled))
    if s.status is not None:
        parts.append(f.status == s.status.value)
    if s.levels:
        parts.append(f.level.in_(sorted(lv.value for lv in s.levels)))
    if s.category is not None:
        parts.append(f.category == s.category.value)
    if s.uncategorised:
        parts.append(f.category.is_(None))
    if s.unfinished:
        parts.append(f.status.not_in(sorted(st.value for st in FINISHED)))
    for name in ("overdue", "revisit_due", "grouped", "repeat", "training", "major"):
        if getattr(s, name):
            parts.append(f[name].is_(True))
    if s.department is not None:
        parts.append(_stripped(f.department) == s.department)
    return and_(true(), *parts)


def received_within(
    first: date | None,
    end: date | None,
    zone_column: ColumnElement[str],
    zones: Collection[str],
    table: Any = tickets_table,
) -> ColumnElement[bool]:
    """Received on the local days ``first`` to ``end`` (excluded; None: open) of each ticket's branch.

    ``zone_column`` is the (joined) branch time zone column; ``zones`` the zones it may hold;
    ``table`` the tickets or their figures.
    """
    if first is None and end is None:
        return true()
    t = table.c
    terms = []
    for zone in sorted(set(zones)):
        parts = [zone_column == zone]
        if first is not None:
            parts.append(t.received_at >= midnight(first, zone))
        if end is not None:
            parts.append(t.received_at < midnight(end, zone))
        terms.append(and_(*parts))
    return or_(false(), *terms)
