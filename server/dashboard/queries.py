"""The ticket list's filters and search, and everything the ticket page shows, read from the database."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, tuple_
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
    UtcDateTime,
    figures_table,
)
from server.storage.search import (
    Candidates,
    Matches,
    among,
    candidates,
    holding,
    in_place_order,
    moment_of,
    query_terms,
    second_of,
    second_of_place,
    serial,
)
from server.storage.selections import figures_clause, received_within

PAGE_SIZE = 50
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
        )

    def args(self) -> list[tuple[str, str]]:
        """The query arguments that `parse` reads back as this filter (without the position, `Position`)."""
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

    def unsearched(self) -> TicketFilter:
        """The same filter without its search text."""
        return dataclasses.replace(self, q="")

    @property
    def narrowed(self) -> bool:
        """Whether anything but the search narrows the list."""
        return self.unsearched() != TicketFilter()

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


def _searched(pattern: str, *columns: Any) -> ColumnElement[bool]:
    return or_(*(Matches(column, pattern) for column in columns))


def filtered(query: TicketFilter, zones: Sequence[str], *columns: Any) -> Select[Any]:
    """Tickets that pass the filter, unordered (`LIST_ORDER` pages them): ``columns`` of them, by default
    the ticket with its branch's code and zone.

    The criteria are read from each ticket's stored figures (`figures_clause`), whose
    index holds the list's order; the ticket's own row is read only for its columns
    and a search. ``zones`` are the time zones of the branches listed (receipt days
    are local to each).
    """
    f = figures_table.c
    stmt = (
        select(*(columns or (TicketRow, BranchRow.code, BranchRow.timezone)))
        .select_from(figures_table)
        .join(BranchRow, BranchRow.id == f.branch_id)
        .where(figures_clause(query.selection))
    )
    if not columns or query.q:
        stmt = stmt.join(TicketRow, TicketRow.sync_key == f.sync_key)
    if len(query.branches) == 1:
        stmt = stmt.where(BranchRow.code == query.branches[0])
    elif query.branches:  # walk the list's order, not each branch's index then sort them all together
        stmt = stmt.where(
            (f.branch_id + 0).in_(select(BranchRow.id).where(BranchRow.code.in_(query.branches)))
        )
    if query.received_from is not None or query.received_to is not None:
        end = None if query.received_to is None else query.received_to + timedelta(days=1)
        stmt = stmt.where(received_within(query.received_from, end, BranchRow.timezone, zones, figures_table))
    if query.q:
        t = TicketRow
        stmt = stmt.where(
            _searched(search_pattern(query.q), t.ticket_id, t.customer_name, t.contact, t.description)
        )
    return stmt


@dataclass(frozen=True)
class Cursor:
    """A place in the list: the ticket it is next to, by the list's order (receipt time, then sync key)."""

    received_at: datetime
    sync_key: str

    def text(self) -> str:
        """The cursor as a query argument: ``<UTC receipt time>.<sync key>``, as bookmarkable as the page."""
        return f"{self.received_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}.{self.sync_key}"

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        """The cursor ``text`` wrote; None for anything else (the list then starts from its first page)."""
        moment, _, key = raw.strip().partition(".")
        try:
            at = datetime.strptime(moment, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        except ValueError:
            return None
        return cls(at, key) if 0 < len(key) <= 32 else None

    @classmethod
    def of(cls, row: TicketRow) -> Cursor:
        return cls(row.received_at, row.sync_key)


@dataclass(frozen=True)
class Position:
    """Which page of the list: the first, the one after (older) or before (newer) a cursor, or the last."""

    after: Cursor | None = None
    before: Cursor | None = None
    last: bool = False

    @classmethod
    def parse(cls, args: Any) -> Position:
        if args.get("last") == "1":
            return cls(last=True)
        for name in ("after", "before"):
            found = Cursor.parse(args.get(name, ""))
            if found is not None:
                return cls(**{name: found})
        return cls()


LIST_ORDER = (figures_table.c.received_at, figures_table.c.sync_key)
"""The list shows tickets newest first by this key; a page is read from its index in either direction."""
SEARCH_CAP = 2_000
"""A search whose index terms narrow it to at most this many tickets lists them by their keys; a broader
one reads its candidates newest (or oldest) first from the index (`_walked`)."""
WALK_BUDGET = 20_000
"""A broad search reads at most this many candidates for a page or for its count; when the filters leave
too few of them, it walks the list's order with the ``LIKE`` instead."""
COUNT_CAP = 500
"""The list counts its tickets up to this many, then says "more than": counting a million would take longer
than reading any page (the overview has the exact figures)."""


@dataclass
class Page:
    rows: list[tuple[TicketRow, str, str]]
    total: int
    more: bool
    """There are more than ``total`` tickets (the count stops at `COUNT_CAP`)."""
    newer: Cursor | None
    """Where the page before this one ends (None: this is the first page)."""
    older: Cursor | None
    """Where the page after this one starts (None: this is the last page)."""


def _beyond(bound: Cursor, newest_first: bool) -> ColumnElement[bool]:
    """The tickets past ``bound`` in the list's order: older (``newest_first``) or newer."""
    key = tuple_(*LIST_ORDER)
    edge = tuple_(bindparam("at", bound.received_at, type_=UtcDateTime()), bindparam("key", bound.sync_key))
    return key < edge if newest_first else key > edge


def _read(session: Session, stmt: Select[Any], newest_first: bool, bound: Cursor | None) -> list[Any]:
    """Up to a page and one ticket, from ``bound`` (excluded) on, newest or oldest first."""
    if bound is not None:
        stmt = stmt.where(_beyond(bound, newest_first))
    order = [c.desc() for c in LIST_ORDER] if newest_first else list(LIST_ORDER)
    return list(session.execute(stmt.order_by(*order).limit(PAGE_SIZE + 1)).all())


def _paged(
    session: Session, stmt: Select[Any], position: Position
) -> tuple[list[Any], Cursor | None, Cursor | None]:
    """The rows of the page at ``position``, newest first, and the cursors of the pages around it."""
    if position.before is not None:
        rows = _read(session, stmt, False, position.before)
        if rows:  # fewer than a page newer: the top of the list, short, so no ticket shows twice going back
            more = len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE][::-1]
            return rows, Cursor.of(rows[0][0]) if more else None, Cursor.of(rows[-1][0])
        position = Position()  # nothing newer: the first page
    if position.after is not None:
        rows = _read(session, stmt, True, position.after)
        if rows:
            older = Cursor.of(rows[PAGE_SIZE - 1][0]) if len(rows) > PAGE_SIZE else None
            return rows[:PAGE_SIZE], Cursor.of(rows[0][0]), older
        position = Position(last=True)  # nothing older (tickets left the filter): the last page
    if position.last:
        rows = _read(session, stmt, False, None)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        return rows, Cursor.of(rows[0][0]) if more else None, None
    rows = _read(session, stmt, True, None)
    return rows[:PAGE_SIZE], None, Cursor.of(rows[PAGE_SIZE - 1][0]) if len(rows) > PAGE_SIZE else None


def ticket_page(
    session: Session, query: TicketFilter, masked: bool = False, position: Position = Position()
) -> Page:
    """The page of the list ``query`` asks for at ``position``; ``masked``: the viewer sees numbers masked.

    A search is first narrowed by the search index (`server.storage.search`) to the
    tickets holding its terms; the ``LIKE`` then decides, as without the index.
    """
    serial(session)
    zones = select(BranchRow.timezone).distinct()
    if query.branches:
        zones = zones.where(BranchRow.code.in_(query.branches))
    zone_list = list(session.scalars(zones))
    terms = query_terms(query.q) if query.q else []
    found = candidates(session, terms, SEARCH_CAP) if terms else None
    keys = found.keys if found else None
    if keys == []:
        return Page([], 0, False, None, None)
    counted: list[str] | None = None
    walked = found is not None and keys is None and found.by_place
    if walked:
        # broad: the page's tickets and the count from the candidates by place
        look = partial(_walked, session, query, zone_list, masked, found, terms)
        first = position == Position()
        keys, sparse = look(position, COUNT_CAP + 1 if first else PAGE_SIZE + 1)
        if keys == [] and not first and not position.last:  # past either end: the last or the first page
            position = Position(last=True) if position.after is not None else Position()
            keys, sparse = look(position, PAGE_SIZE + 1)
        if position == Position():
            counted = keys
        elif not sparse:
            counted = look(Position(), COUNT_CAP + 1)[0]
        if keys is not None:  # the page's tickets (and one more): read by their keys, not the list's order
            keys = keys[: PAGE_SIZE + 1]
    stmt, matches = _listed(session, query, zone_list, masked, terms, keys)
    if counted is None:
        if walked:  # the page came from the candidates, the count could not: every match counts
            matches = _listed(session, query, zone_list, masked, terms, None)[1]
        if query.narrowed:
            # filtered: in the list's order, its index holding the common filters (else every figures row
            # read until the cap: red + overdue + 宽带 at a million 58 -> 40 ms on SQLite, 84 -> 43 on
            # PostgreSQL); unfiltered, the tables' own order reaches the cap on fewer pages
            matches = matches.order_by(*(c.desc() for c in LIST_ORDER))
        total = session.scalar(select(func.count()).select_from(matches.limit(COUNT_CAP + 1).subquery())) or 0
    else:
        total = len(counted)
    rows, newer, older = _paged(session, stmt, position)
    return Page(
        [(t, code, tz) for t, code, tz in rows], min(total, COUNT_CAP), total > COUNT_CAP, newer, older
    )


def _listed(
    session: Session,
    query: TicketFilter,
    zones: Sequence[str],
    masked: bool,
    terms: Sequence[str],
    keys: list[str] | None,
) -> tuple[Select[Any], Select[Any]]:
    """The list's statement (its rows) and its matches' keys; ``keys``: only those tickets (None: the
    tickets holding the search's terms, or every ticket)."""
    key = figures_table.c.sync_key
    if masked and any(ch.isdigit() for ch in query.q):
        narrowed = keys if keys is not None or not terms else holding(session.get_bind().dialect.name, terms)
        stmt = _searched_as_shown(session, query, zones, narrowed)
        matches = stmt.with_only_columns(key)
    else:
        stmt, matches = filtered(query, zones), filtered(query, zones, key)
    if keys is not None:
        held = among(session, key, keys)
        stmt, matches = stmt.where(held), matches.where(held)
    return stmt, matches


def _walked(
    session: Session,
    query: TicketFilter,
    zones: Sequence[str],
    masked: bool,
    found: Candidates,
    terms: Sequence[str],
    position: Position,
    want: int,
) -> tuple[list[str] | None, bool]:
    """Sync keys of the tickets the search finds from ``position`` on, in the order read, from its
    candidates by place (`in_place_order`) until ``want`` of them are found (or every candidate is read):
    as they are whole seconds of the list, the page at ``position`` is the first of them. None: more than
    `WALK_BUDGET` candidates read first, or filters (branches, criteria, days) leaving so few of the first
    batch that the budget would not reach ``want``.

    With them, whether the filters kept so few of the candidates read that a walk for the count
    (`COUNT_CAP` and one) would give up: the count then goes to the list's order at once."""
    newest_first = not position.last and position.before is None
    bound = position.after or position.before
    kept: list[tuple[datetime, str]] = []
    read = 0
    filtering = query.narrowed
    start = None if bound is None else second_of(bound.received_at)
    first = 2 * want  # a page's walk reads a tenth of what a count's does, most often enough
    for placed in in_place_order(session, found, terms, newest_first, start, first):
        batch = [key for _, key in placed]
        before = len(kept)
        kept += sorted(
            _found_among(session, query, zones, masked, batch, bound, newest_first), reverse=newest_first
        )
        read += len(batch)
        sparse = filtering and len(kept) * WALK_BUDGET < (COUNT_CAP + 1) * read
        if len(kept) >= want:
            return [key for _, key in kept], sparse
        if read >= WALK_BUDGET or (filtering and len(kept) * WALK_BUDGET < want * read):
            return None, sparse  # the filters leave too few candidates: the list's order costs less
        if filtering and read == len(batch) and _list_sooner(session, query, placed, len(kept) - before):
            return None, True
    return [key for _, key in kept], False  # every candidate read: so would a count's walk, as cheaply


CANDIDATE_COST = 60
"""Reading a broad search's candidate (its index entry, its ticket's figures and filters) against passing
a ticket in the list's index (measured at a million tickets on SQLite: ~12 µs against ~0.2 µs)."""
LIKE_COST = 50
"""Checking a ticket's text with the ``LIKE`` (its row read) against passing it in the list's index."""
ROW_COST = 15
"""Reading a ticket's figures row (a filter the list's index does not hold) against passing its entry."""
_IN_LIST_INDEX = frozenset(("cancelled", "status", "levels", "unfinished", "overdue"))


def _list_sooner(session: Session, query: TicketFilter, placed: list[tuple[int, str]], kept: int) -> bool:
    """Whether the list's order, walked with the filters and the ``LIKE``, finds a page sooner than the
    search's candidates read on, judged on the first batch of them: the share of its candidates the
    filters kept, and the share of the tickets received over its seconds that are candidates.

    Reading candidates costs `CANDIDATE_COST` for each; the list's walk costs an index step for each
    ticket (`ROW_COST` when a filter needs the figures row) and `LIKE_COST` for each that passes the
    filters. Red + overdue + 宽带: the filters keep 2% of 宽带's candidates, and 宽带 is in 14% of the
    tickets, so the list's order is about three times cheaper."""
    default, selection = Selection(), query.selection
    asked = {
        f.name
        for f in dataclasses.fields(selection)
        if getattr(selection, f.name) != getattr(default, f.name)
    }
    step = 1 if asked <= _IN_LIST_INDEX else ROW_COST
    enough = int(CANDIDATE_COST * len(placed) / (step + LIKE_COST * kept / len(placed)))
    seconds = [second_of_place(place) for place, _ in (placed[0], placed[-1])]
    f = figures_table.c
    spanned = (
        select(f.sync_key)
        .where(f.received_at >= moment_of(min(seconds)), f.received_at < moment_of(max(seconds) + 1))
        .limit(enough)
    )
    return (session.scalar(select(func.count()).select_from(spanned.subquery())) or 0) < enough


def _found_among(
    session: Session,
    query: TicketFilter,
    zones: Sequence[str],
    masked: bool,
    keys: list[str],
    bound: Cursor | None,
    newest_first: bool,
) -> list[tuple[datetime, str]]:
    """(receipt time, sync key) of the tickets among ``keys`` the search finds past ``bound``, in one read:
    for a viewer who sees numbers masked and searches digits, a match in the text is checked as shown in
    the same read (`_searched_as_shown` reads twice, as it hands a statement on)."""
    shown_digits = masked and any(ch.isdigit() for ch in query.q)
    if shown_digits:
        t = TicketRow
        pattern = search_pattern(query.q)
        texts = (t.customer_name, t.contact, t.description)
        stmt = (
            filtered(query.unsearched(), zones)
            .with_only_columns(*LIST_ORDER, _searched(pattern, t.ticket_id), *texts)
            .where(_searched(pattern, t.ticket_id, *texts))
        )
    else:
        stmt = filtered(query, zones, *LIST_ORDER)
    stmt = stmt.where(among(session, figures_table.c.sync_key, keys))
    if bound is not None:
        stmt = stmt.where(_beyond(bound, newest_first))
    if not shown_digits:
        return [(at, key) for at, key in session.execute(stmt)]
    shown = _shown_match(query.q)
    return [(at, key) for at, key, by_number, *text in session.execute(stmt) if by_number or shown(*text)]


def _shown_match(q: str) -> Callable[[str, str, str], bool]:
    """Whether a ticket's name, contact or description, as a viewer who sees numbers masked sees them,
    hold the search ``q`` (a masked number's digits: those shown, however they are spaced)."""
    found = re.compile(".*".join(re.escape(p) for p in _MASKED_GAP.split(q)), re.IGNORECASE | re.DOTALL)

    def shown(name: str, contact: str, description: str) -> bool:
        return bool(
            found.search(mask_phones(name))
            or found.search(mask_phones(contact, contact=True))
            or found.search(mask_phones(description))
        )

    return shown


def _searched_as_shown(
    session: Session, query: TicketFilter, zones: Sequence[str], keys: list[str] | Select[Any] | None
) -> Select[Any]:
    """The list for digits searched by a viewer who sees numbers masked: matched against the masked text.

    A ticket number is shown as it is, so a match there stands. A match in the
    name, contact or description is checked against the text as the viewer
    sees it, and dropped when it lies in a number's hidden digits: searching
    "0013" never confirms the middle of 138****8000. ``keys``: the search index's
    candidates, listed or as a query (None: not narrowed).
    """
    pattern = search_pattern(query.q)
    shown = _shown_match(query.q)
    base = filtered(query.unsearched(), zones)
    t = TicketRow
    by_number = _searched(pattern, t.ticket_id)
    in_text = base.with_only_columns(t.sync_key, t.customer_name, t.contact, t.description).where(
        ~by_number, _searched(pattern, t.customer_name, t.contact, t.description)
    )
    if keys is not None:
        key = figures_table.c.sync_key
        in_text = in_text.where(key.in_(keys) if isinstance(keys, Select) else among(session, key, keys))
    visible = [key for key, *text in session.execute(in_text) if shown(*text)]
    return base.where(or_(by_number, t.sync_key.in_(visible)))


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
