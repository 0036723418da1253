"""The figures' counts kept per branch and local day: rolled up when read, marked stale when written.

`server.storage.figures` counts ``ticket_figures`` rows grouped by what the
figures tell apart (its `Count`s). Counting a million rows whenever the overview
is opened takes seconds, so the counts are kept per branch and local day
(``figure_days``). A write through the one service marks the local days that
its tickets' moments fall on, before and after the change
(``figure_day_marks``, `mark_days`). A read (`DayCounts.read`) takes the days
rolled up and not marked, counts the other days of its window from
``ticket_figures`` in the same snapshot — so the figures are exact whatever
was written meanwhile — and then stores those days for the next read
(`DayCounts.store`).

Storing is a compare-and-swap per day: a day is stored only if its token is
still the one the reader saw, and only the marks the reader saw are deleted. A
reader with an older snapshot therefore never overwrites a newer reader's day,
and a write committed after a reader's snapshot leaves its mark behind (the day
is counted again). Every gunicorn worker reads the same tables: none keeps
figures of its own.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from complaints.periods import Period
from server.storage.models import (
    FIGURE_MOMENTS,
    figure_days_table,
    figure_dekads_table,
    figure_done_table,
    figure_marks_table,
    figure_months_table,
    figures_table,
)
from server.storage.writes import insert_rows

logger = logging.getLogger(__name__)

f = figures_table.c
days_c, done_c, marks_c = figure_days_table.c, figure_done_table.c, figure_marks_table.c
MARKED = (*FIGURE_MOMENTS, "group_answered_at")
"""The moments that place a ticket in a day of some count."""
LONGEST_RUN = 31
"""Days counted by one query (a CASE over their bounds)."""
_LOCK = 170_017
"""PostgreSQL advisory lock of `DayCounts.store` (SQLite: the write transaction is the lock)."""
_WORK_MEM = "32MB"
"""PostgreSQL's memory for each grouping of a figures read: a day's counts at a million tickets are hashed
in memory (the default 4MB sorted them through temporary files, 2-3 times slower)."""
_QUARTER = 900
"""Seconds of a quarter hour: local midnight falls on one in every time zone in use."""

Key = tuple[int, date]
"""A branch id and a local day."""
Span = tuple[date, date]
"""Consecutive days: the first, and the day after the last."""


FAMILIES = (0, 1)
"""The counts by department (0) and by person (1): each family's days are rolled up on their own."""


@dataclass(frozen=True)
class Count:
    """One GROUP BY of `server.storage.figures`: tickets whose ``moment`` falls in a day, by ``columns``.

    ``group``: the department, or a person's column (the coordinator or the investigator).
    """

    kind: int
    moment: Any
    columns: tuple[Any, ...]
    where: tuple[Any, ...] = ()
    group: Any = f.department


Row = tuple[int, str, str, int]
"""A count of a day: its kind, department, key (the JSON list of the columns' values) and tickets."""
_DayRow = tuple[int, date, int, str, str]
"""A row of ``figure_days``: branch id, day, kind, department and key."""
Summed = tuple[int, int, str, str]
"""What `DayCounts.summed` tells apart: branch id, kind, department and key."""


def _runs(days: Iterable[date]) -> list[list[date]]:
    """``days`` in runs of consecutive days, at most `LONGEST_RUN` long."""
    found: list[list[date]] = []
    for day in sorted(set(days)):
        if found and found[-1][-1] + timedelta(days=1) == day and len(found[-1]) < LONGEST_RUN:
            found[-1].append(day)
        else:
            found.append([day])
    return found


def count_days(
    session: Session | Connection,
    counts: Sequence[Count],
    ids: Sequence[int],
    zone: str,
    days: Iterable[date],
) -> dict[Key, list[Row]]:
    """The `Row`s of each branch of ``ids`` (one ``zone``) and day of ``days``, from ``ticket_figures``.

    A GROUP BY per count; on PostgreSQL the counts placed by the same moment share one read of the day's
    rows (`_count_together`: GROUPING SETS), which SQLite has not.
    """
    found: dict[Key, list[Row]] = defaultdict(list)
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    groups = [[count] for count in counts]
    if dialect.name == "postgresql":
        by_moment: dict[str, list[Count]] = defaultdict(list)
        for count in counts:
            by_moment[_text(count.moment)].append(count)
        groups = list(by_moment.values())
    for run in _runs(days):
        starts = [Period(day, day + timedelta(days=1)).bounds(zone)[0] for day in run]
        starts.append(Period(run[-1], run[-1] + timedelta(days=1)).bounds(zone)[1])
        for same in groups:
            at = same[0].moment
            whens = [(at < starts[i + 1], literal(i)) for i in range(len(run) - 1)]
            day = case(*whens, else_=literal(len(run) - 1)) if whens else literal(len(run) - 1)
            within = (f.branch_id.in_(list(ids)), at >= starts[0], at < starts[-1])
            if len(same) > 1:
                rows = _count_together(session, same, day, within)
            else:
                rows = _count_alone(session, same[0], day, within)
            for kind, branch_id, index, dept, values, n in rows:
                key = _key_of(tuple(values))
                found[(branch_id, run[index])].append((kind, dept, key, n))
    return found


@lru_cache(maxsize=65_536)
def _key_of(values: tuple[Any, ...]) -> str:
    """The key (JSON list) of a count's values: the same values recur in every branch and day."""
    return json.dumps(list(values), ensure_ascii=False)


def _text(expression: Any) -> str:
    return str(expression.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


_GROUPING_MOST = 31
"""PostgreSQL's GROUPING() takes at most 31 columns (a bit each)."""
CountedRow = tuple[int, int, int, str, list[Any], int]
"""A count's kind, branch id, day (index in its run), department, the values it tells apart, tickets."""


def _count_alone(
    session: Session | Connection, count: Count, day: Any, within: Sequence[Any]
) -> Iterator[CountedRow]:
    grouped = (f.branch_id, day, count.group, *count.columns)
    stmt = (
        select(*grouped, literal_column("count(*)"))
        .where(*within, *count.where)
        .group_by(*(literal_column(str(i + 1)) for i in range(len(grouped))))
    )
    for branch_id, index, dept, *values, n in session.execute(stmt).all():
        yield count.kind, branch_id, index, dept, values, n


def _count_together(
    session: Session | Connection, counts: Sequence[Count], day: Any, within: Sequence[Any]
) -> Iterator[CountedRow]:
    """The counts of one moment from one read: a grouping set per count (its department, columns and, as
    one more column, its condition; groups whose condition fails are dropped), told apart by GROUPING()."""
    exprs: dict[str, Any] = {}

    def place(expression: Any) -> int:
        key = _text(expression)
        exprs.setdefault(key, expression)
        return list(exprs).index(key)

    sets: dict[tuple[int, ...], list[tuple[int, list[int], int | None]]] = defaultdict(list)
    for count in counts:
        columns = [place(c) for c in (count.group, *count.columns)]
        condition = place(and_(*count.where)) if count.where else None
        members = tuple(sorted({*columns, *([] if condition is None else [condition])}))
        sets[members].append((count.kind, columns, condition))
    if len(exprs) > _GROUPING_MOST:
        for count in counts:
            yield from _count_alone(session, count, day, within)
        return
    inner = (
        select(
            f.branch_id.label("b"), day.label("d"), *(e.label(f"e{i}") for i, e in enumerate(exprs.values()))
        )
        .where(*within)
        .subquery()
    )
    every = [inner.c[f"e{i}"] for i in range(len(exprs))]
    last = len(every) - 1
    masks = {sum(1 << (last - i) for i in range(len(every)) if i not in members): members for members in sets}
    stmt = select(inner.c.b, inner.c.d, func.grouping(*every), *every, func.count()).group_by(
        inner.c.b, inner.c.d, func.grouping_sets(*(tuple_(*(every[i] for i in members)) for members in sets))
    )
    for branch_id, index, mask, *values, n in session.execute(stmt).all():
        for kind, columns, condition in sets[masks[mask]]:
            if condition is None or values[condition]:
                yield kind, branch_id, index, values[columns[0]], [values[i] for i in columns[1:]], n


@dataclass
class DayCounts:
    """The `Row`s of every branch and day of a window, and what to store of them (`store`)."""

    family: int
    ids: list[int] = field(default_factory=list)
    """The branches read; each day of the window is rolled up and not marked (clean: the database sums
    its counts in ``figure_days``) or fresh."""
    fresh: dict[Key, list[Row]] = field(default_factory=dict)
    """The days counted from ``ticket_figures`` (not rolled up, or marked)."""
    tokens: dict[Key, str | None] = field(default_factory=dict)
    """The token of each fresh day when read (None: not rolled up)."""
    marks: dict[Key, list[int]] = field(default_factory=dict)
    """The marks seen on each fresh day."""

    @classmethod
    def read(
        cls,
        session: Session,
        family: int,
        counts: Sequence[Count],
        zones: Mapping[str, Sequence[int]],
        window: Period,
    ) -> DayCounts:
        """The ``family``'s days of ``window`` (local days) of the branches of ``zones`` (zone → ids)."""
        ids = [branch_id for group in zones.values() for branch_id in group]
        found = cls(family)
        if not ids:
            return found
        if session.get_bind().dialect.name == "postgresql":  # for the rest of the read's transaction
            session.execute(text("SELECT set_config('work_mem', :size, true)"), {"size": _WORK_MEM})

        def within(c: Any) -> list[Any]:
            return [c.branch_id.in_(ids), c.family == family, c.day >= window.first, c.day < window.end]

        marked: dict[Key, list[int]] = defaultdict(list)
        for mark_id, branch_id, day in session.execute(
            select(marks_c.id, marks_c.branch_id, marks_c.day).where(*within(marks_c))
        ):
            marked[(branch_id, day)].append(mark_id)
        tokens = select(done_c.branch_id, done_c.day, done_c.token).where(*within(done_c))
        done = {(b, d): token for b, d, token in session.execute(tokens)}
        clean = {key for key in done if key not in marked}
        found.ids = ids
        every = [window.first + timedelta(days=i) for i in range((window.end - window.first).days)]
        for zone, group in zones.items():
            need = {(b, d) for b in group for d in every if (b, d) not in clean}
            if not need:
                continue
            counted = count_days(session, counts, group, zone, {d for _, d in need})
            for key in need:
                found.fresh[key] = counted.get(key, [])
                found.tokens[key] = done.get(key)
                found.marks[key] = marked.get(key, [])
        return found

    def summed(
        self, session: Session, period: Period, kinds: Container[int], apart: Container[int] | None = None
    ) -> Counter[tuple[int, int, str, str]]:
        """Tickets per branch id, kind (of ``kinds``), department and key over the days of ``period``.

        ``apart``: only the kinds whose departments are told apart, and no branch (id 0): the database
        sums every branch and department of the other kinds into one row per key.

        The database sums the rolled-up days: whole calendar months from ``figure_months``, the dekads
        of the rest that lie mostly in the period from ``figure_dekads`` (less the stored rows of their
        days outside the period and of their fresh days: a sum holds every day stored), the days left
        over from ``figure_days``; the fresh days are added here. So at most five days of each end are
        read day by day.
        """
        found: Counter[Summed] = Counter()
        for (branch_id, day), rows in self.fresh.items():
            if period.first <= day < period.end:
                for kind, dept, key, n in rows:
                    if kind in kinds:
                        if apart is None:
                            found[(branch_id, kind, dept, key)] += n
                        else:
                            found[(0, kind, dept if kind in apart else "", key)] += n
        if not self.ids:
            return found
        kinds_in = list(kinds)  # type: ignore[call-overload]
        whole = (period.first, period.end)
        months = [
            (m.first, m.end) for m in period.months() if period.first <= m.first and m.end <= period.end
        ]
        dekads = [d for span in _less(whole, months) for d in _mostly_within(*span)]
        blocks = [*months, *dekads]
        if blocks:  # one statement: the sums, less the stored rows of the days not to count from them
            parts = [
                select(c.branch_id, c.kind, c.department, c.key, c.n).where(
                    c.branch_id.in_(self.ids),
                    c.family == self.family,
                    c[name].in_([first for first, _ in spans]),
                    c.kind.in_(kinds_in),
                )
                for (table, name, _), spans in zip(_SUMS, (months, dekads), strict=True)
                if spans
                for c in [table.c]
            ]
            beyond = [
                first + timedelta(days=i)
                for first, end in dekads
                for i in range((end - first).days)
                if not period.first <= first + timedelta(days=i) < period.end
            ]
            fresh_in = _by_branch(
                key for key in self.fresh if period.first <= key[1] < period.end and _within(key[1], blocks)
            )
            back = [and_(days_c.branch_id == b, days_c.day.in_(d)) for b, d in fresh_in.items()]
            if beyond:
                back.append(and_(days_c.branch_id.in_(self.ids), days_c.day.in_(beyond)))
            if back:
                taken = select(days_c.branch_id, days_c.kind, days_c.department, days_c.key, -days_c.n)
                parts.append(taken.where(or_(*back), days_c.family == self.family, days_c.kind.in_(kinds_in)))
            both = union_all(*parts).subquery()
            grouped = _grouped(both.c[0], both.c[1], both.c[2], both.c[3], apart)
            stmt = select(*grouped, func.sum(both.c[4])).group_by(*grouped)
            for branch_id, kind, dept, key, n in session.execute(stmt).all():
                found[(branch_id, kind, dept, key)] += n
        spans = _less(whole, [(max(a, period.first), min(b, period.end)) for a, b in blocks])
        if spans:
            found.update(self._days_summed(session, spans, kinds_in, apart))
        return +found  # no zero left by a stale day's rows taken back

    def _days_summed(
        self, session: Session, spans: Sequence[Span], kinds: list[int], apart: Container[int] | None
    ) -> Counter[Summed]:
        """Sums of the clean days of ``spans`` (first, end) from ``figure_days``."""
        found: Counter[Summed] = Counter()
        # each branch's clean days are the spans less its fresh days (branches with the same fresh days
        # share a clause; few days are fresh after a Sync)
        inside = [key for key in self.fresh if any(a <= key[1] < b for a, b in spans)]
        fresh_days = _by_branch(inside)
        length = sum((b - a).days for a, b in spans)
        by_fresh: dict[frozenset[date], list[int]] = defaultdict(list)
        for branch_id in self.ids:
            fresh = frozenset(fresh_days.get(branch_id, ()))
            if len(fresh) < length:
                by_fresh[fresh].append(branch_id)
        days = [
            and_(
                days_c.branch_id.in_(ids),
                or_(*(and_(days_c.day >= a, days_c.day < b) for a, b in spans)),
                *([days_c.day.not_in(sorted(fresh))] if fresh else []),
            )
            for fresh, ids in by_fresh.items()
        ]
        if days:
            grouped = _grouped(days_c.branch_id, days_c.kind, days_c.department, days_c.key, apart)
            stmt = select(*grouped, func.sum(days_c.n)).where(
                or_(*days), days_c.family == self.family, days_c.kind.in_(kinds)
            )
            for branch_id, kind, dept, key, n in session.execute(stmt.group_by(*grouped)).all():
                found[(branch_id, kind, dept, key)] += n
        return found

    def store(self, engine: Engine) -> int:
        """Keep the fresh days for the next read, those no other reader stored meanwhile; returns how many."""
        if not self.fresh:
            return 0
        try:
            with Session(engine.execution_options(immediate=True)) as session, session.begin():
                return self._store(session)
        except OperationalError as exc:  # the database busy: the next read counts these days again
            logger.warning("figure days not stored: %s", exc)
            return 0

    def _store(self, session: Session) -> int:
        """Write each kept day's rows that differ from those stored (after a Sync most of a day's counts
        are as they were), its new token, and the difference to its month's sums."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        by_branch: dict[int, list[date]] = defaultdict(list)
        for branch_id, day in self.fresh:
            by_branch[branch_id].append(day)
        now: dict[Key, str] = {}
        for branch_id, days in by_branch.items():
            where = and_(done_c.branch_id == branch_id, done_c.family == self.family, done_c.day.in_(days))
            tokens = select(done_c.branch_id, done_c.day, done_c.token).where(where)
            now.update({(b, d): t for b, d, t in session.execute(tokens)})
        keep = [key for key in self.fresh if now.get(key) == self.tokens[key]]
        stored: dict[_DayRow, int] = {}
        for branch_id, days in _by_branch(key for key in keep if self.tokens[key] is not None).items():
            old = select(days_c.day, days_c.kind, days_c.department, days_c.key, days_c.n).where(
                days_c.branch_id == branch_id, days_c.family == self.family, days_c.day.in_(days)
            )
            stored.update(
                {(branch_id, d, kind, dept, k): n for d, kind, dept, k, n in session.execute(old).all()}
            )
        counted = {(b, d, kind, dept, k): n for b, d in keep for kind, dept, k, n in self.fresh[(b, d)]}
        self._write_days(session, stored, counted)
        token = uuid.uuid4().hex
        again = [{"at_branch": b, "at_day": d} for b, d in keep if self.tokens[(b, d)] is not None]
        if again:
            session.execute(
                update(figure_done_table)
                .where(
                    done_c.branch_id == bindparam("at_branch"),
                    done_c.family == self.family,
                    done_c.day == bindparam("at_day"),
                )
                .values(token=token),
                again,
            )
        first = [{"branch_id": b, "family": self.family, "day": d, "token": token} for b, d in keep]
        first = [row for row in first if self.tokens[(row["branch_id"], row["day"])] is None]
        if first:
            session.execute(insert(figure_done_table), first)
        change = Counter(counted)
        change.subtract(stored)
        add_to_sums(session.connection(), self.family, change)
        seen = [mark_id for key in keep for mark_id in self.marks[key]]
        for part in range(0, len(seen), 5_000):
            session.execute(delete(figure_marks_table).where(marks_c.id.in_(seen[part : part + 5_000])))
        return len(keep)

    def _write_days(
        self, session: Session, stored: Mapping[_DayRow, int], counted: Mapping[_DayRow, int]
    ) -> None:
        """Make ``figure_days`` hold ``counted`` where it held ``stored``: only the rows that differ."""
        where = (
            days_c.branch_id == bindparam("at_branch"),
            days_c.family == self.family,
            days_c.day == bindparam("at_day"),
            days_c.kind == bindparam("at_kind"),
            days_c.department == bindparam("at_dept"),
            days_c.key == bindparam("at_key"),
        )
        names = ("at_branch", "at_day", "at_kind", "at_dept", "at_key")
        gone = [dict(zip(names, row, strict=True)) for row in stored if row not in counted]
        moved = [
            {**dict(zip(names, row, strict=True)), "to_n": n}
            for row, n in counted.items()
            if row in stored and stored[row] != n
        ]
        if gone:
            session.execute(delete(figure_days_table).where(*where), gone)
        if moved:
            session.execute(update(figure_days_table).where(*where).values(n=bindparam("to_n")), moved)
        added = [
            {
                "branch_id": b,
                "family": self.family,
                "day": d,
                "kind": k,
                "department": dept,
                "key": key,
                "n": n,
            }
            for (b, d, k, dept, key), n in counted.items()
            if (b, d, k, dept, key) not in stored
        ]
        insert_rows(session.connection(), figure_days_table, added)


def _grouped(branch_id: Any, kind: Any, department: Any, key: Any, apart: Container[int] | None) -> list[Any]:
    """What `DayCounts.summed` groups by: every branch and department, or (``apart``) only the
    departments of those kinds."""
    if apart is None:
        return [branch_id, kind, department, key]
    told = case((kind.in_(list(apart)), department), else_=literal(""))  # type: ignore[call-overload]
    return [literal(0).label("b"), kind, told.label("d"), key]


def _within(day: date, spans: Sequence[Span]) -> bool:
    return any(a <= day < b for a, b in spans)


def _less(span: Span, blocks: Sequence[Span]) -> list[Span]:
    """The days of ``span`` outside ``blocks`` (spans inside it), in consecutive spans, oldest first."""
    found, at = [], span[0]
    for first, end in sorted(blocks):
        if at < first:
            found.append((at, first))
        at = max(at, end)
    if at < span[1]:
        found.append((at, span[1]))
    return found


def dekad_of(day: date) -> date:
    """The first day of ``day``'s dekad (旬): the 1st, the 11th or the 21st (to the month's end)."""
    return day.replace(day=min(21, day.day - (day.day - 1) % 10))


def _dekad_end(first: date) -> date:
    if first.day == 21:
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first + timedelta(days=10)


def _mostly_within(first: date, end: date) -> list[Span]:
    """The dekads with more than half their days between ``first`` and ``end`` (excluded)."""
    found = []
    start = dekad_of(first)
    while start < end:
        stop = _dekad_end(start)
        if 2 * (min(stop, end) - max(start, first)).days > (stop - start).days:
            found.append((start, stop))
        start = stop
    return found


_SUMS: tuple[tuple[Table, str, Callable[[date], date]], ...] = (
    (figure_months_table, "month", lambda day: day.replace(day=1)),
    (figure_dekads_table, "dekad", dekad_of),
)
"""The tables summing ``figure_days`` over longer spans: each with its column of the span's first day and
the first day of a day's span."""


def add_to_sums(connection: Connection, family: int, change: Mapping[_DayRow, int]) -> None:
    """Add ``change`` (branch id, day, kind, department, key → tickets) to the month and dekad sums."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for table, name, first_of in _SUMS:
        summed: Counter[tuple[int, date, int, str, str]] = Counter()
        for (b, day, kind, dept, key), n in change.items():
            if n:
                summed[(b, first_of(day), kind, dept, key)] += n
        rows = [
            {"branch_id": b, "family": family, name: first, "kind": k, "department": d, "key": key, "n": n}
            for (b, first, k, d, key), n in summed.items()
            if n
        ]
        if not rows:
            continue
        c: Any = table.c
        stmt = dialect.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(table.primary_key.columns), set_={"n": c.n + stmt.excluded.n}
        )
        connection.execute(stmt, rows)
        for b, firsts in _by_branch({(r["branch_id"], r[name]) for r in rows}).items():
            connection.execute(
                delete(table).where(c.branch_id == b, c.family == family, c[name].in_(firsts), c.n == 0)
            )


def _by_branch(keys: Iterable[Key]) -> dict[int, list[date]]:
    found: dict[int, list[date]] = defaultdict(list)
    for branch_id, day in keys:
        found[branch_id].append(day)
    return found


def local_days(moments: Iterable[datetime | None], zone: str) -> set[date]:
    """The local days in ``zone`` of ``moments`` (UTC), converted once per quarter hour."""
    quarters = {int(at.timestamp()) // _QUARTER for at in moments if at is not None}
    tz = ZoneInfo(zone)
    return {datetime.fromtimestamp(q * _QUARTER, tz).date() for q in quarters}


def mark_days(connection: Connection, branch_id: int, days: Iterable[date]) -> None:
    """Mark ``days`` of the branch stale: a write changed their counts (the one service, at every write)."""
    rows = [
        {"branch_id": branch_id, "family": family, "day": day}
        for day in sorted(set(days))
        for family in FAMILIES
    ]
    if rows:
        connection.execute(insert(figure_marks_table), rows)


def forget_days(connection: Connection, branch_ids: Sequence[int] | None = None) -> None:
    """Drop the rolled-up days (of ``branch_ids``; None: all): after ``ticket_figures`` was written around
    the one service (the backfill, a bulk load), the next read counts them again."""
    tables = (
        figure_days_table,
        figure_done_table,
        figure_marks_table,
        figure_months_table,
        figure_dekads_table,
    )
    for table in tables:
        stmt = delete(table)
        if branch_ids is not None:
            stmt = stmt.where(table.c.branch_id.in_(list(branch_ids)))
        connection.execute(stmt)
