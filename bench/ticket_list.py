"""The ticket list's pages, timed against the OFFSET paging they replaced (the baseline, in the same run).

Used by `bench/dashboard.py`. Each page is requested through Flask's test client
(server time: queries and template) **cold** — the connection pool emptied
before each request, so SQLite starts with an empty page cache and PostgreSQL
with a new server process (the operating system's file cache stays warm;
PostgreSQL keeps its shared buffers) — and warm, each the best of ``repeat``.
Beside it, the database work of the same page: the keyset query
(`server.dashboard.queries.ticket_page`) and the OFFSET query the list ran
before (``offset_page`` below, a copy of it: ``COUNT`` then ``LIMIT/OFFSET``
over the tickets newest first, the far half read from its end). The OFFSET
queries run after every page is timed: a far OFFSET reads most of the tables,
and run between two pages it would evict from PostgreSQL's buffers what the
next page's cold read finds there in a server that only serves the list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from complaints.contacts import mask_phones
from complaints.enums import Level
from complaints.selections import Selection
from server.dashboard.queries import (
    LIST_ORDER,
    PAGE_SIZE,
    Cursor,
    Position,
    TicketFilter,
    filtered,
    search_pattern,
    ticket_page,
)
from server.storage.db import get_db
from server.storage.models import BranchRow, TicketRow, figures_table
from server.storage.selections import figures_clause, received_within, selection_clause

NEWEST_FIRST = (TicketRow.received_at.desc(), TicketRow.ticket_id, TicketRow.sync_key)
OLDEST_FIRST = (TicketRow.received_at, TicketRow.ticket_id.desc(), TicketRow.sync_key.desc())
MIDDLE = "middle"
Best = Callable[..., float]


def counted(query: TicketFilter, zones: list[str]) -> Select[Any]:
    """The OFFSET list's count: every ticket passing the filter, on their stored figures (no search)."""
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


def offset_page(session: Session, query: TicketFilter, page: int | str) -> int:
    """The list's page as the OFFSET paging read it (``page``: a number, or `MIDDLE`); returns its rows."""
    zones = select(BranchRow.timezone).distinct()
    if query.branches:
        zones = zones.where(BranchRow.code.in_(query.branches))
    zone_list = list(session.scalars(zones))
    stmt = (
        select(TicketRow, BranchRow.code, BranchRow.timezone)
        .join(BranchRow, BranchRow.id == TicketRow.branch_id)
        .where(selection_clause(query.selection))
    )
    if query.branches:
        stmt = stmt.where(BranchRow.code.in_(query.branches))
    if query.received_from is not None or query.received_to is not None:
        end = None if query.received_to is None else query.received_to + timedelta(days=1)
        stmt = stmt.where(received_within(query.received_from, end, BranchRow.timezone, zone_list))
    if query.q:
        pattern = search_pattern(query.q)
        t = TicketRow
        stmt = stmt.where(
            or_(
                *(
                    c.ilike(pattern, escape="\\")
                    for c in (t.ticket_id, t.customer_name, t.contact, t.description)
                )
            )
        )
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    else:
        total = session.scalar(counted(query, zone_list)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(pages // 2 if page == MIDDLE else int(page), pages)
    skip = (page - 1) * PAGE_SIZE
    if skip <= total // 2:
        rows = session.execute(stmt.order_by(*NEWEST_FIRST).limit(PAGE_SIZE).offset(skip)).all()
    else:
        size = min(PAGE_SIZE, total - skip)
        rows = session.execute(stmt.order_by(*OLDEST_FIRST).limit(size).offset(total - skip - size)).all()
    return len(rows)


def cases(session: Session, one: str, two: str) -> list[tuple[str, TicketFilter, str]]:
    """(name, filter, where) of each page timed; where: first, last, middle, or a page number."""
    key, contact, ticket_id, description = session.execute(
        select(TicketRow.sync_key, TicketRow.contact, TicketRow.ticket_id, TicketRow.description)
        .order_by(TicketRow.sync_key)
        .limit(1)
    ).one()
    unique = description[description.rindex("第") : -1]  # the generator's "（第n号）": in one ticket only
    red = Selection(levels=frozenset({Level.RED}))
    week = (date(2026, 11, 10), date(2026, 11, 16))
    return [
        ("first page", TicketFilter(), "first"),
        ("page in the middle", TicketFilter(), MIDDLE),
        ("last page", TicketFilter(), "last"),
        (f"overdue + {one}, first", TicketFilter((one,), Selection(overdue=True)), "first"),
        ("red, last page", TicketFilter((), red), "last"),
        (
            f"{one}+{two}, unfinished, 10-16 Nov, middle",
            TicketFilter((one, two), Selection(unfinished=True), *week),
            MIDDLE,
        ),
        ("search 宽带 (2 chars, common)", TicketFilter(q="宽带"), "first"),
        ("search 宽带, page in the middle", TicketFilter(q="宽带"), MIDDLE),
        ("search 宽带, last page", TicketFilter(q="宽带"), "last"),
        ("search 王 (1 char)", TicketFilter(q="王"), "first"),
        (f"search {unique} (one ticket)", TicketFilter(q=unique), "first"),
        ("search a ticket id", TicketFilter(q=ticket_id), "first"),
        (f"search {ticket_id[:12]} (its branch, 10 days)", TicketFilter(q=ticket_id[:12]), "first"),
        ("search a phone (masked as sent)", TicketFilter(q=mask_phones(contact)), "first"),
        ("search 火箭 (no ticket)", TicketFilter(q="火箭"), "first"),
        (
            "search red + 宽带 + overdue",
            TicketFilter((), Selection(overdue=True, levels=red.levels), q="宽带"),
            "last",
        ),
    ]


def _position(session: Session, query: TicketFilter, where: str) -> Position:
    """The keyset position of ``where``; the middle: the page after the middle ticket (as a reader comes)."""
    if where == "last":
        return Position(last=True)
    if where != MIDDLE:
        return Position()
    zones = list(session.scalars(select(BranchRow.timezone).distinct()))
    stmt = filtered(query, zones).with_only_columns(*LIST_ORDER)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    newest_first = stmt.order_by(*(c.desc() for c in LIST_ORDER))
    at, key = session.execute(newest_first.offset(total // 2).limit(1)).one()
    return Position(after=Cursor(at, key))


def _keyset(session: Session, query: TicketFilter, position: Position, rows: list[int]) -> None:
    rows.append(len(ticket_page(session, query, True, position).rows))


def _in_session(app: Flask, work: Callable[[Session], object]) -> Callable[[], object]:
    def run() -> object:
        with app.app_context(), get_db().read() as session:
            return work(session)

    return run


def time_lists(
    app: Flask, client: FlaskClient, one: str, two: str, repeat: int, best: Best, cpu: list[float]
) -> None:
    """Print each list page's time: the page (cold, warm), its keyset query, the OFFSET query it replaced."""
    with app.app_context(), get_db().read() as session:
        timed = [(n, q, w, _position(session, q, w)) for n, q, w in cases(session, one, two)]

    def get(url: str) -> Callable[[], object]:
        def fetch() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return fetch

    def cold() -> None:
        with app.app_context():
            get_db().dispose()

    def timed_as(work: Callable[[], object], runs: int, before: Callable[[], None] | None) -> str:
        wall = best(runs, work, before)
        return f"{wall:5.0f} ({cpu[0]:3.0f})"

    results = []
    for name, query, _, position in timed:
        args: list[tuple[str, str]] = query.args()
        if position.last:
            args.append(("last", "1"))
        elif position.after is not None:
            args.append(("after", position.after.text()))
        url = "/dashboard/tickets?" + urlencode(args)
        rows: list[int] = []
        keyset = _in_session(app, partial(_keyset, query=query, position=position, rows=rows))
        times = [timed_as(get(url), repeat, cold), timed_as(get(url), repeat, None)]
        times.append(timed_as(keyset, repeat, None))
        results.append((name, times, rows[-1]))
    # the baseline after every page: its far OFFSETs read most of the tables, and between two pages they
    # would leave the next page's cold read the buffers they emptied
    for (_, times, _), (_, query, where, _) in zip(results, timed, strict=True):
        old_page = 10**9 if where == "last" else MIDDLE if where == MIDDLE else 1
        old = _in_session(app, partial(offset_page, query=query, page=old_page))
        times += [timed_as(old, 1, cold), timed_as(old, repeat, None)]
    print(f"\n{'ticket list page':40s} {'page cold':>11s} {'page warm':>11s} {'keyset SQL':>11s}", end=" ")
    print(f"{'OFFSET cold':>11s} {'OFFSET warm':>11s} {'rows':>5s}   (ms wall, CPU ms in brackets)")
    for name, times, shown in results:
        print(f"{name:40s}", *(f"{t:>11s}" for t in times), f"{shown:5d}")
