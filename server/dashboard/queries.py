"""The ticket list's filters and search, and everything the ticket page shows, read from the database."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from complaints.contacts import mask_phones
from complaints.enums import Category, Labelled, Level, Status
from complaints.periods import FIRST_DAY, LAST_DAY, Period
from complaints.selections import Selection
from server.storage.models import (
    BranchRow,
    ConflictRow,
    HistoryRow,
    LogRow,
    TaskRow,
    TicketRow,
    figures_table,
)
from server.storage.selections import figures_clause, received_within, selection_clause

PAGE_SIZE = 50
NEWEST_FIRST = (TicketRow.received_at.desc(), TicketRow.ticket_id, TicketRow.sync_key)
OLDEST_FIRST = (TicketRow.received_at, TicketRow.ticket_id.desc(), TicketRow.sync_key.desc())
"""The list's order and its exact reverse (the sync key settles ties)."""
FLAG_ARGS = ("unfinished", "overdue", "revisit_due", "grouped", "repeat", "training", "major")
"""Check-box criteria of `Selection`, each a query argument of the same name ("1" when ticked)."""
WITH_CANCELLED = "any"
"""The ``status`` argument that lists cancelled tickets among the others."""
UNCATEGORISED = "none"
"""The ``category`` argument of tickets without a category."""


class FilterError(ValueError):
    """A filter value that cannot be used; ``field`` names the form field."""

    def __init__(self, field: str, message_key: str, **values: object) -> None:
        super().__init__(f"{field}: {message_key}")
        self.field = field
        self.message_key = message_key
        self.values = values


@dataclass(frozen=True)
class TicketFilter:
    """What the ticket list shows: a `Selection`, the branches (none: all), local receipt days, a search.

    Receipt days are each branch's own local days, as for the figures; the
    defaults list every live ticket (cancelled ones only on request).
    """

    branches: tuple[str, ...] = ()
    selection: Selection = Selection()
    received_from: date | None = None
    received_to: date | None = None
    """The last day, included."""
    q: str = ""
    """The search text (full-width forms folded) with its phone numbers masked: the list is searched by
    what it shows."""
    page: int = 1

    @classmethod
    def parse(cls, args: Any) -> TicketFilter:
        """Read the filter from query arguments; `FilterError` names the first bad one."""
        status_arg = args.get("status", "").strip()
        status = None if status_arg in ("", WITH_CANCELLED) else _enum(args, "status", Status)
        category_arg = args.get("category", "").strip()
        criteria: dict[str, Any] = {name: _flag(args, name) for name in FLAG_ARGS}
        if status is Status.CANCELLED:
            criteria["cancelled"] = True
        elif status_arg == WITH_CANCELLED:
            criteria["cancelled"] = None
        else:
            criteria["status"] = status
        if category_arg == UNCATEGORISED:
            criteria["uncategorised"] = True
        else:
            criteria["category"] = _enum(args, "category", Category)
        criteria["levels"] = frozenset(_levels(args))
        if "department" in args:
            criteria["department"] = args.get("department", "").strip()
        return cls(
            branches=tuple(dict.fromkeys(code.strip() for code in args.getlist("branch") if code.strip())),
            selection=Selection(**criteria),
            received_from=_receipt_day(args, "received_from"),
            received_to=_receipt_day(args, "received_to"),
            q=mask_phones(unicodedata.normalize("NFKC", args.get("q", "")).strip()),
            page=max(1, _int(args.get("page"), 1)),
        )

    def args(self) -> list[tuple[str, str]]:
        """The query arguments that `parse` reads back as this filter (without the page)."""
        s = self.selection
        found: list[tuple[str, str]] = [("branch", code) for code in self.branches]
        if s.cancelled is True:
            found.append(("status", Status.CANCELLED.value))
        elif s.cancelled is None:
            found.append(("status", WITH_CANCELLED))
        elif s.status is not None:
            found.append(("status", s.status.value))
        found += [("level", lv.value) for lv in Level if lv in s.levels]
        if s.category is not None:
            found.append(("category", s.category.value))
        if s.uncategorised:
            found.append(("category", UNCATEGORISED))
        found += [(name, "1") for name in FLAG_ARGS if getattr(s, name)]
        if s.department is not None:
            found.append(("department", s.department))
        for name, day in (("received_from", self.received_from), ("received_to", self.received_to)):
            if day is not None:
                found.append((name, day.isoformat()))
        if self.q:
            found.append(("q", self.q))
        return found

    @classmethod
    def of_figure(cls, selection: Selection, period: Period, branches: Sequence[str]) -> TicketFilter:
        """The list of the tickets a figure counts: received in ``period`` in ``branches`` (none: all)."""
        return cls(tuple(branches), selection, period.first, period.last)


def _flag(args: Any, name: str) -> bool:
    return args.get(name) in ("1", "on", "true")


def _levels(args: Any) -> list[Level]:
    found = []
    for raw in args.getlist("level"):
        if raw.strip():
            try:
                found.append(Level.parse(raw))
            except ValueError as exc:
                raise FilterError("level", "bad_value", value=raw) from exc
    return found


def _enum(args: Any, name: str, enum: type[Labelled]) -> Any:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return enum.parse(raw)
    except ValueError as exc:
        raise FilterError(name, "bad_value", value=raw) from exc


def parse_date(args: Any, name: str) -> date | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FilterError(name, "bad_date") from exc


def _receipt_day(args: Any, name: str) -> date | None:
    day = parse_date(args, name)
    if day is not None and not FIRST_DAY <= day < LAST_DAY:  # 9999-12-31 + 1 day overflows; 0001 has no zone
        raise FilterError(name, "date_out_of_range", first=FIRST_DAY, last=LAST_DAY)
    return day


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_MASKED_GAP = re.compile(r"[\s\-./·・()（）]*\*+[\s\-./·・()（）]*")


def search_pattern(q: str) -> str:
    """The LIKE pattern of a search: the text anywhere; a masked number matches however it is stored.

    A number is searched by the digits its mask shows (138****8000: 138, then
    8000 further on), so a search never tells anyone more about a number than
    the masked list does, and a full number never has to travel in a URL.
    """
    if "*" not in q:
        return _like(q)
    return "%" + "%".join(_like(piece)[1:-1] for piece in _MASKED_GAP.split(q)) + "%"


def filtered(query: TicketFilter, zones: Sequence[str]) -> Select[Any]:
    """Tickets (with their branch's code and zone) that pass the filter, newest first.

    ``zones`` are the time zones of the branches listed (receipt days are local to each).
    """
    stmt = (
        select(TicketRow, BranchRow.code, BranchRow.timezone)
        .join(BranchRow, BranchRow.id == TicketRow.branch_id)
        .where(selection_clause(query.selection))
    )
    if query.branches:
        stmt = stmt.where(BranchRow.code.in_(query.branches))
    if query.received_from is not None or query.received_to is not None:
        end = None if query.received_to is None else query.received_to + timedelta(days=1)
        stmt = stmt.where(received_within(query.received_from, end, BranchRow.timezone, zones))
    if query.q:
        pattern = search_pattern(query.q)
        stmt = stmt.where(
            or_(
                TicketRow.ticket_id.ilike(pattern, escape="\\"),
                TicketRow.customer_name.ilike(pattern, escape="\\"),
                TicketRow.contact.ilike(pattern, escape="\\"),
                TicketRow.description.ilike(pattern, escape="\\"),
            )
        )
    return stmt.order_by(*NEWEST_FIRST)


@dataclass
class Page:
    rows: list[tuple[TicketRow, str, str]]
    total: int
    page: int
    pages: int


def counted(query: TicketFilter, zones: Sequence[str]) -> Select[Any]:
    """The number of tickets that pass the filter, counted on their stored figures (no search)."""
    f = figures_table.c
    stmt = select(func.count()).select_from(figures_table).where(figures_clause(query.selection))
    if query.branches or query.received_from is not None or query.received_to is not None:
        stmt = stmt.join(BranchRow, BranchRow.id == f.branch_id)
    if query.branches:
        stmt = stmt.where(BranchRow.code.in_(query.branches))
    if query.received_from is not None or query.received_to is not None:
        end = None if query.received_to is None else query.received_to + timedelta(days=1)
        stmt = stmt.where(received_within(query.received_from, end, BranchRow.timezone, zones, figures_table))
    return stmt


def ticket_page(session: Session, query: TicketFilter, masked: bool = False) -> Page:
    """The page of the list that ``query`` asks for; ``masked``: the viewer sees phone numbers masked."""
    zones = select(BranchRow.timezone).distinct()
    if query.branches:
        zones = zones.where(BranchRow.code.in_(query.branches))
    zone_list = list(session.scalars(zones))
    if masked and any(ch.isdigit() for ch in query.q):
        stmt = _searched_as_shown(session, query, zone_list)
    else:
        stmt = filtered(query, zone_list)
    if query.q:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    else:  # the narrow figures table: a million tickets are counted in a fraction of the time
        total = session.scalar(counted(query, zone_list)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(query.page, pages)
    skip = (page - 1) * PAGE_SIZE
    if skip <= total // 2:
        rows = session.execute(stmt.limit(PAGE_SIZE).offset(skip)).all()
    else:  # the far half is read from its end, so the database sorts past fewer rows, then turned round
        size = min(PAGE_SIZE, total - skip)
        oldest_first = stmt.order_by(None).order_by(*OLDEST_FIRST)
        rows = session.execute(oldest_first.limit(size).offset(total - skip - size)).all()[::-1]
    return Page([(t, code, tz) for t, code, tz in rows], total, page, pages)


def _searched_as_shown(session: Session, query: TicketFilter, zones: Sequence[str]) -> Select[Any]:
    """The list for digits searched by a viewer who sees numbers masked: matched against the masked text.

    A ticket number is shown as it is, so a match there stands. A match in the
    name, contact or description is checked against the text as the viewer
    sees it, and dropped when it lies in a number's hidden digits: searching
    "0013" never confirms the middle of 138****8000.
    """
    pattern = search_pattern(query.q)
    found = re.compile(".*".join(re.escape(p) for p in _MASKED_GAP.split(query.q)), re.IGNORECASE | re.DOTALL)
    base = filtered(dataclasses.replace(query, q=""), zones)
    by_number = TicketRow.ticket_id.ilike(pattern, escape="\\")
    in_text = base.with_only_columns(
        TicketRow.sync_key, TicketRow.customer_name, TicketRow.contact, TicketRow.description
    ).where(
        ~by_number,
        or_(
            TicketRow.customer_name.ilike(pattern, escape="\\"),
            TicketRow.contact.ilike(pattern, escape="\\"),
            TicketRow.description.ilike(pattern, escape="\\"),
        ),
    )
    visible = [
        key
        for key, name, contact, description in session.execute(in_text.order_by(None))
        if found.search(mask_phones(name))
        or found.search(mask_phones(contact, contact=True))
        or found.search(mask_phones(description))
    ]
    return base.where(or_(by_number, TicketRow.sync_key.in_(visible)))


def branch_codes(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every branch, by code."""
    return [(b.code, b.name) for b in session.scalars(select(BranchRow).order_by(BranchRow.code))]


@dataclass
class TicketDetail:
    row: TicketRow
    branch: BranchRow
    history: list[HistoryRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    log: list[LogRow] = field(default_factory=list)
    conflicts: list[ConflictRow] = field(default_factory=list)


def ticket_detail(session: Session, sync_key: str) -> TicketDetail | None:
    """A ticket with its full history (its tasks' too), tasks, log and open conflicts."""
    row = session.get(TicketRow, sync_key)
    if row is None:
        return None
    branch = session.get(BranchRow, row.branch_id)
    assert branch is not None
    tasks = list(
        session.scalars(select(TaskRow).where(TaskRow.ticket_key == sync_key).order_by(TaskRow.task_no))
    )
    task_keys = [t.sync_key for t in tasks]
    history = session.scalars(
        select(HistoryRow)
        .where(
            or_(
                (HistoryRow.entity == "ticket") & (HistoryRow.entity_key == sync_key),
                (HistoryRow.entity == "task") & HistoryRow.entity_key.in_(task_keys),
                (HistoryRow.entity == "attachment") & (HistoryRow.entity_key == sync_key),
            )
        )
        .order_by(HistoryRow.at.desc(), HistoryRow.id.desc())
    )
    log = session.scalars(select(LogRow).where(LogRow.ticket_key == sync_key).order_by(LogRow.at.desc()))
    conflicts = session.scalars(
        select(ConflictRow)
        .where(
            ConflictRow.resolved_at.is_(None),
            ConflictRow.entity_key.in_([sync_key, *task_keys]),
        )
        .order_by(ConflictRow.id)
    )
    return TicketDetail(row, branch, list(history), tasks, list(log), list(conflicts))
