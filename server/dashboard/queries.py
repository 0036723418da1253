"""The ticket list's filters and search, and everything the ticket page shows, read from the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, literal, or_, select
from sqlalchemy.orm import Session

from complaints.enums import Category, Flag, Labelled, Level, Status
from server.storage.models import BranchRow, ConflictRow, HistoryRow, LogRow, TaskRow, TicketRow

PAGE_SIZE = 50
OVERDUE_FLAGS = tuple(f for f in Flag if f.is_overdue)


class FilterError(ValueError):
    """A filter value that cannot be used; ``field`` names the form field."""

    def __init__(self, field: str, message_key: str, **values: object) -> None:
        super().__init__(f"{field}: {message_key}")
        self.field = field
        self.message_key = message_key
        self.values = values


@dataclass(frozen=True)
class TicketFilter:
    """What the ticket list shows: every field optional; dates are local (the head office's zone)."""

    branch: str = ""
    status: Status | None = None
    level: Level | None = None
    category: Category | None = None
    overdue: bool = False
    received_from: date | None = None
    received_to: date | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def parse(cls, args: Any) -> TicketFilter:
        """Read the filter from query arguments; `FilterError` names the first bad one."""
        return cls(
            branch=args.get("branch", "").strip(),
            status=_enum(args, "status", Status),  # type: ignore[arg-type]
            level=_enum(args, "level", Level),  # type: ignore[arg-type]
            category=_enum(args, "category", Category),  # type: ignore[arg-type]
            overdue=args.get("overdue") in ("1", "on", "true"),
            received_from=parse_date(args, "received_from"),
            received_to=parse_date(args, "received_to"),
            q=args.get("q", "").strip(),
            page=max(1, _int(args.get("page"), 1)),
        )


def _enum(args: Any, name: str, enum: type[Labelled]) -> Labelled | None:
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


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def day_start(day: date, zone: str) -> datetime:
    """Midnight at the start of ``day`` in ``zone``, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def overdue_clause() -> ColumnElement[bool]:
    """The ticket carries at least one overdue flag (flags are stored comma-separated)."""
    padded = literal(",") + func.coalesce(TicketRow.flags, "") + literal(",")
    return or_(*(padded.like(f"%,{f.value},%") for f in OVERDUE_FLAGS))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(query: TicketFilter, zone: str) -> Select[Any]:
    """Tickets (with their branch's code and zone) that pass the filter, newest first."""
    stmt = select(TicketRow, BranchRow.code, BranchRow.timezone).join(
        BranchRow, BranchRow.id == TicketRow.branch_id
    )
    if query.branch:
        stmt = stmt.where(BranchRow.code == query.branch)
    if query.status is not None:
        stmt = stmt.where(TicketRow.status == query.status.value)
    if query.level is not None:
        stmt = stmt.where(TicketRow.level == query.level.value)
    if query.category is not None:
        stmt = stmt.where(TicketRow.category == query.category.value)
    if query.overdue:
        stmt = stmt.where(overdue_clause())
    if query.received_from is not None:
        stmt = stmt.where(TicketRow.received_at >= day_start(query.received_from, zone))
    if query.received_to is not None:
        stmt = stmt.where(TicketRow.received_at < day_start(query.received_to + timedelta(days=1), zone))
    if query.q:
        pattern = _like(query.q)
        stmt = stmt.where(
            or_(
                TicketRow.ticket_id.ilike(pattern, escape="\\"),
                TicketRow.customer_name.ilike(pattern, escape="\\"),
                TicketRow.description.ilike(pattern, escape="\\"),
            )
        )
    return stmt.order_by(TicketRow.received_at.desc(), TicketRow.ticket_id)


@dataclass
class Page:
    rows: list[tuple[TicketRow, str, str]]
    total: int
    page: int
    pages: int


def ticket_page(session: Session, query: TicketFilter, zone: str) -> Page:
    stmt = filtered(query, zone)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(query.page, pages)
    rows = session.execute(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Page([(t, code, tz) for t, code, tz in rows], total, page, pages)


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
