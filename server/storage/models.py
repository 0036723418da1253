"""Database tables (SQLAlchemy 2). Times are stored in UTC.

The tickets table takes its domain columns from `complaints.schema.TICKETS`, so
the workbook, the API and the database share one list of fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from complaints.schema import TASKS, TICKETS, ColType


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC; read back aware in UTC on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], datetime | None]:
        """The driver's value (parsed as the plain type does) as an aware UTC datetime.

        One function per value instead of `TypeDecorator`'s two (``process_result_value`` around the
        plain type's parser): a flag scan reads tens of thousands of these.
        """
        parse = self.impl_instance.result_processor(dialect, coltype)
        if parse is None:
            return lambda value: None if value is None else value.replace(tzinfo=UTC)
        return lambda value: None if value is None else parse(value).replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sql_type(kind: ColType) -> Any:
    return {
        ColType.TEXT: Text,
        ColType.DATETIME: UtcDateTime,
        ColType.DATE: Date,
        ColType.INT: Integer,
        ColType.BOOL: Boolean,
        ColType.ENUM: String(32),
        ColType.FLAGS: Text,
    }[kind]


class BranchRow(Base):
    __tablename__ = "branches"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    change_seq: Mapped[int] = mapped_column(Integer, default=0)
    """Counter of changes in this branch; incremented under a row lock so pulls never skip a change."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    """Raised by sign-out (and a new password): dashboard sessions signed in under an older one end."""
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    """The branch of an investigator or a department head (None for head office and admin)."""
    staff_name: Mapped[str] = mapped_column(String(200), default="")
    """An investigator's name as the tickets' 调查人 column spells it."""
    department: Mapped[str] = mapped_column(String(200), default="")
    """The department (责任部门) an investigator works in or a department head runs."""


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    role: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


_ticket_fixed = [
    Column("sync_key", String(32), primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("change_seq", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False, default=""),
]
_fixed_names = {c.name for c in _ticket_fixed}
FIGURE_MOMENTS: tuple[str, ...] = (
    "received_at",
    "acknowledged_at",
    "plan_at",
    "resolved_at",
    "feedback_at",
    "closed_at",
    "revisited_at",
)
"""The moments a figure places in its period (`complaints.kpis.MOMENTS`), each indexed per branch."""

tickets_table = Table(
    "tickets",
    Base.metadata,
    *_ticket_fixed,
    *[
        Column(c.key, _sql_type(c.type), nullable=c.type not in (ColType.TEXT, ColType.BOOL, ColType.INT))
        for c in TICKETS.columns
        if c.key not in _fixed_names
    ],
    UniqueConstraint("branch_id", "ticket_id", name="uq_tickets_branch_ticket_id"),
    Index("ix_tickets_branch_change", "branch_id", "change_seq"),
    Index("ix_tickets_status", "status"),
    Index("ix_tickets_received_at", "received_at"),
)


class TicketRow(Base):
    __table__ = tickets_table


figures_table = Table(
    "ticket_figures",
    Base.metadata,
    Column("sync_key", ForeignKey("tickets.sync_key"), primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("department", Text, nullable=False),
    *(Column(moment, UtcDateTime, nullable=moment != "received_at") for moment in FIGURE_MOMENTS),
    *(Column(name, Boolean, nullable=False) for name in ("cancelled", "overdue", "revisit_due")),
    *(Column(name, Boolean, nullable=False) for name in ("grouped", "repeat", "training", "resolved")),
    Column("status", String(32), nullable=False),
    Column("level", String(32), nullable=False),
    Column("category", String(32)),
    *(Column(f"{m}_met", SmallInteger) for m in ("acknowledge", "plan", "resolve", "feedback", "revisit")),
    Column("closed_loop_met", SmallInteger),
    Column("close_workdays", Integer),
    Column("satisfaction", String(32)),
    Column("root_cause", Text, nullable=False),
    Column("improvement", Text, nullable=False),
    Column("improvement_done", Boolean, nullable=False),
    Column("customer", Text, nullable=False),
    Column("group_id", Text, nullable=False),
    Column("group_answered_at", UtcDateTime),
    Column("fishbone", String(32)),
    Column("measure_status", String(32)),
    Column("measure_overdue", Boolean, nullable=False, default=False),
    Column("improved", SmallInteger),
    Column("major", Boolean, nullable=False, default=False),
    *(Column(name, Text, nullable=False) for name in ("coordinator", "investigator")),
    *(Index(f"ix_ticket_figures_{moment}", "branch_id", moment) for moment in FIGURE_MOMENTS),
)
"""What the head-office figures read of each ticket (`complaints.kpis.Facts`), written with it by the one
service: a narrow row the database counts without reading the ticket (`server.storage.figures`).
Outcomes (``*_met``) are 1 on time, 0 late, NULL unknown or not reached; ``improved`` is 1 when the
root cause's measure was effective, 0 when not, NULL while it is watched (`complaints.rootcause.improved`);
``major``: graded major (`complaints.major`); ``coordinator`` and ``investigator``: the ticket's people, whose
staff figures count these rows without reading the tickets."""
_cancelled = figures_table.c.cancelled.is_(True)
Index(  # only the few cancelled tickets: an index on the flag would lure the planner from the moments'
    "ix_ticket_figures_cancelled",
    figures_table.c.branch_id,
    sqlite_where=_cancelled,
    postgresql_where=_cancelled,
)


_answered = figures_table.c.group_answered_at.is_not(None)
Index(  # only the members of group incidents who answered: the group revisit's count of a day
    "ix_ticket_figures_group_answered_at",
    figures_table.c.branch_id,
    figures_table.c.group_answered_at,
    sqlite_where=_answered,
    postgresql_where=_answered,
)
LIST_COVERED = ("received_at", "sync_key", "branch_id", "cancelled", "level", "status", "overdue")
Index(
    "ix_ticket_figures_list",
    *(figures_table.c[name] for name in LIST_COVERED),
)
"""The ticket list's order (newest first, the sync key settling ties), read from either end (keyset pages),
with the filters the list is most often read by: a filtered page or count is walked in the index alone,
and a ticket's rows are read only for those that pass them (migration 0025)."""

figure_days_table = Table(
    "figure_days",
    Base.metadata,
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("family", SmallInteger, nullable=False),
    Column("day", Date, nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("department", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Index("ix_figure_days_branch_day", "branch_id", "family", "day"),
)
"""The counts of `server.storage.figures` per branch and local day (a rollup, `server.storage.rollup`):
``family`` the counts by department (0) or by person (1), ``kind`` the count, ``department`` the
department or person, ``key`` the values it tells apart (a JSON list), ``n`` how many tickets."""


def _sums_table(name: str, span: str) -> Table:
    """A table of the sums of ``figure_days`` per branch, family and span of days (``span``: its first
    day), one row per count: the rows of ``figure_days`` with the span in place of the day."""
    return Table(
        name,
        Base.metadata,
        Column("branch_id", ForeignKey("branches.id"), primary_key=True),
        Column("family", SmallInteger, primary_key=True),
        Column(span, Date, primary_key=True),
        Column("kind", SmallInteger, primary_key=True),
        Column("department", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("n", Integer, nullable=False),
    )


figure_months_table = _sums_table("figure_months", "month")
"""The sums of ``figure_days`` per calendar month (``month``: its first day) of every day stored, kept with
each day stored: a whole month is read from one row per count instead of thirty."""

figure_dekads_table = _sums_table("figure_dekads", "dekad")
"""The same sums per dekad (旬: the 1st to the 10th, the 11th to the 20th, the 21st to the month's end;
``dekad``: its first day): a period of part of a month reads its whole dekads from here and only the days
left over from ``figure_days`` (a day holds a third of a dekad's rows)."""

figure_done_table = Table(
    "figure_days_done",
    Base.metadata,
    Column("branch_id", ForeignKey("branches.id"), primary_key=True),
    Column("family", SmallInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("token", String(32), nullable=False),
)
"""The local days whose counts ``figure_days`` holds; ``token`` changes with every rewrite of the day."""

figure_marks_table = Table(
    "figure_day_marks",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("family", SmallInteger, nullable=False),
    Column("day", Date, nullable=False),
    Index("ix_figure_day_marks_branch_day", "branch_id", "family", "day"),
)
"""Local days whose counts a write changed since they were rolled up (written by the one service)."""

PLACE = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit id; on SQLite ``INTEGER`` (64-bit there too), so that it stays the table's rowid."""
search_table = Table(
    "ticket_search",
    Base.metadata,
    Column("id", PLACE, primary_key=True, autoincrement=False),
    Column("sync_key", ForeignKey("tickets.sync_key"), nullable=False, unique=True),
    Column("terms", Text, nullable=False),
)
"""Each ticket's search terms (`server.storage.search`), caught up before a search; the id is the
ticket's place (its receipt second, then a slot), so the indexes list candidates newest first. Migration 0014
indexes them: on SQLite in the FTS5 table ``ticket_search_fts`` (kept by triggers on this table), on
PostgreSQL in the GIN index ``ix_ticket_search_terms`` over ``string_to_array(terms, ' ')``."""
search_marks_table = Table(
    "search_marks",
    Base.metadata,
    Column("branch_id", ForeignKey("branches.id"), primary_key=True),
    Column("change_seq", Integer, nullable=False),
)
"""Per branch, the change number up to which ``ticket_search`` holds every ticket's terms: the index is
brought up to date before a search (`server.storage.search.catch_up`), not by each write. No row: 0."""
UNMAPPED = ("ticket_search_fts", "ix_ticket_search_terms")
"""What the migrations make that no model maps (by name prefix): the FTS5 table with its shadow tables,
the GIN index (an expression index Alembic cannot compare on every database)."""


class TaskRow(Base):
    __tablename__ = "tasks"
    sync_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_key: Mapped[str] = mapped_column(ForeignKey("tickets.sync_key"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    ticket_id: Mapped[str] = mapped_column(Text)
    task_no: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[date | None] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    change_seq: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_tasks_branch_change", "branch_id", "change_seq"),)


TASK_FIELDS: tuple[str, ...] = tuple(c.key for c in TASKS.columns if not c.computed and c.key != "ticket_id")


class LogRow(Base):
    __tablename__ = "log_entries"
    sync_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_key: Mapped[str] = mapped_column(ForeignKey("tickets.sync_key"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    ticket_id: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(16), default="")
    """The author's role as authenticated (branch, head_office, admin, system), whatever ``author`` says."""
    channel: Mapped[str] = mapped_column(Text, default="")
    change_seq: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_log_branch_change", "branch_id", "change_seq"),)


class HistoryRow(Base):
    """Every change of a ticket or task field: who, when, old, new (values as JSON text)."""

    __tablename__ = "history"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_key: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(200))
    """The authenticated principal (never a client's header)."""
    role: Mapped[str] = mapped_column(String(16), default="")
    source: Mapped[str] = mapped_column(String(32))
    """The door: api, upload, addin, dashboard, scheduler."""
    device: Mapped[str] = mapped_column(String(200), default="")
    """The client's own label (``X-Device``), kept beside the principal."""
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_history_entity", "entity", "entity_key", "version"),)


class ConflictRow(Base):
    """A field changed on both sides: both values kept until the coordinator decides."""

    __tablename__ = "conflicts"
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_key: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(64))
    branch_value: Mapped[str | None] = mapped_column(Text)
    server_value: Mapped[str | None] = mapped_column(Text)
    base_version: Mapped[int] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution: Mapped[str] = mapped_column(String(16), default="")
    resolved_by: Mapped[str] = mapped_column(String(200), default="")
    change_seq: Mapped[int] = mapped_column(Integer)


class IdempotencyRow(Base):
    """A claimed Idempotency-Key with the response it produced."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (
        UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),  # the purge of expired keys
    )


class SigninFailureRow(Base):
    """Wrong passwords in the current window for one account or one client address (`server.throttle`)."""

    __tablename__ = "signin_failures"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    """``user`` (the user name as typed, case-folded) or ``addr`` (the client's IP address)."""
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """When the window began: its first wrong password."""


# --- scheduler, notifications, routing (DESIGN §6) -------------------------------------------------


class JobRunRow(Base):
    """One run of a scheduled job; unique per (job, slot): no slot runs twice, even on a stale leader."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    slot: Mapped[datetime] = mapped_column(UtcDateTime)
    """The scheduled fire time this run stands for (the start time of a manual run)."""
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    runner: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts by another scheduler to run the same slot (refused); stays 0 while leadership works."""
    __table_args__ = (
        UniqueConstraint("job_id", "slot", name="uq_job_runs_job_slot"),
        Index("ix_job_runs_job_started", "job_id", "started_at"),
    )


class SchedulerLeaseRow(Base):
    """Who leads the scheduler. On SQLite the row is the lease (renewed until ``expires_at``);
    on PostgreSQL a session advisory lock is the lease and the row only says who holds it."""

    __tablename__ = "scheduler_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TicketCheckRow(Base):
    """The flag scan's plan for one ticket: the next instant its flags can change with time alone."""

    __tablename__ = "ticket_checks"
    sync_key: Mapped[str] = mapped_column(ForeignKey("tickets.sync_key"), primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_ticket_checks_branch_next", "branch_id", "next_check_at"),)


class ScanCursorRow(Base):
    """The branch change number up to which the flag scan has seen every change."""

    __tablename__ = "scan_cursors"
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), primary_key=True)
    change_seq: Mapped[int] = mapped_column(Integer)
    scanned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxRow(Base):
    """A notice waiting to be sent, sent, or refused; ``dedupe_key`` makes enqueueing idempotent."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    ticket_key: Mapped[str | None] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(200), default="")
    to_addr: Mapped[str] = mapped_column(String(320), default="")
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    """How it is sent: ``email`` (SMTP) or ``sms`` (the SMS gateway), `server.services.notices` senders."""
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class RoutingRuleRow(Base):
    """A branch's routing rule: category → department, its head (named, e-mailed) and investigators."""

    __tablename__ = "branch_routing"
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    category: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(200))
    head: Mapped[str] = mapped_column(String(200), default="")
    head_email: Mapped[str] = mapped_column(String(320), default="")
    investigators: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("branch_id", "category", name="uq_branch_routing_branch_category"),)


class BranchContactRow(Base):
    """The branch's complaint coordinator, who gets the branch digest, and the language of its notices."""

    __tablename__ = "branch_contacts"
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), primary_key=True)
    coordinator: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    language: Mapped[str] = mapped_column(String(8), default="zh")


class EmergencyContactRow(Base):
    """Who a branch tells when a ticket takes the emergency path: senior management, legal, PR."""

    __tablename__ = "emergency_contacts"
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")


class GroupRow(Base):
    """A group incident handled as one (`complaints.groups`): its representative, plan and compensation.

    Members are the branch's tickets carrying ``group_id`` (the first ticket's number);
    the plan and compensation here are the group's decision, applied to every member.
    """

    __tablename__ = "incident_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    group_id: Mapped[str] = mapped_column(String(64))
    representative: Mapped[str] = mapped_column(String(32), default="")
    """The sync key of the member speaking for the group; "" is the first ticket received."""
    plan: Mapped[str] = mapped_column(Text, default="")
    plan_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    compensation: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (UniqueConstraint("branch_id", "group_id", name="uq_incident_groups_branch_group"),)


class ReportRow(Base):
    """A generated workbook kept for download (the monthly analysis).

    Its file is in the evidence store under ``sha256``; ``content`` holds those kept before 0019_reportfiles.
    """

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("kind", "period", name="uq_reports_kind_period"),)


# the flag scan finds a changed ticket's group-incident and repeat-complaint neighbours through these
_t = tickets_table.c
Index("ix_tickets_branch_category_place", _t.branch_id, _t.category, _t.place)
Index("ix_tickets_branch_resolved", _t.branch_id, _t.resolved_at)
Index("ix_tickets_branch_status", _t.branch_id, _t.status, _t.ticket_id)  # its first walk: unfinished ones
Index(  # the repeat rule's customers, read from the index alone (without it, from every row of the branch)
    "ix_tickets_branch_contacts", _t.branch_id, _t.cancelled_at, _t.contact, _t.resolved_at, _t.sync_key
)


class LedgerMappingRow(Base):
    """The column mapping a branch confirmed for its own ledger, offered again at its next import."""

    __tablename__ = "ledger_mappings"
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), primary_key=True)
    mapping: Mapped[str] = mapped_column(Text)
    """JSON: `complaints.ledger.Mapping.to_json`."""
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_by: Mapped[str] = mapped_column(String(200), default="")


class AttachmentRow(Base):
    """Evidence on a ticket: its metadata; the content is kept once per hash (`storage.evidence`)."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_key: Mapped[str] = mapped_column(ForeignKey("tickets.sync_key"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    """The file name as uploaded (without folders)."""
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(100))
    """The type its first bytes show (`complaints.evidence.sniff`), never the client's claim."""
    kind: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    door: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("ticket_key", "sha256", name="uq_attachments_ticket_sha256"),)
