"""Time the dashboard's pages on a database of generated tickets; print cold and warm milliseconds.

    python bench/dashboard.py                                  # 100,000 tickets, SQLite
    python bench/dashboard.py --tickets 1000000 --db /tmp/cd-1m.db
    python bench/dashboard.py --tickets 1000000 --database postgresql --url postgresql+psycopg://…/bench
    python bench/dashboard.py --tickets 1000000 --db /tmp/cd-1m.db --lists-only   # the ticket list only

The tickets (10 branches, November 2026, at every stage: `bench.consolidate.generate`)
are generated once into the database and kept for the next run (SQLite: ``--db``;
PostgreSQL: ``--url``, generated when its count differs); they are loaded
around the one service, so their figure rows are written as migration 0006's
backfill does. Each page is requested through Flask's test client
(server time: queries, figures, template). The overview is timed **cold** — as
after any branch's Sync: the figures cache emptied and each branch's last day of
November marked stale in the rollup (`server.storage.rollup`), so that day is
counted again from ``ticket_figures`` and stored — and warm; the database-counted
analysis once more with every day rolled up, and its **first read** (no day
rolled up yet, as after the upgrade to 0016: every day of the window counted and
stored); the ticket list's pages (first, middle, last, filtered, searched) cold and
warm with the OFFSET queries they replaced (`bench.ticket_list`). The baseline, in the
same run: the per-ticket analysis (`server.services.analysis.reference_analysis`)
that the overview used before, for the same period — on one branch when there are
more than ``--reference-limit`` tickets, then scaled to all (printed as such).

At 1,000,000 tickets on a quiet 2-core machine, cold overview of November, all
branches: SQLite 1,064 ms, PostgreSQL 679 ms (per ticket: 22,966 and 6,855);
10-20 November 1,094 / 714 ms; one branch 131 / 91 ms; the first read after a
bulk load (every day rolled up once) 32 s / 20 s. Details: docs/consolidated.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from bench.consolidate import generate  # noqa: E402
from bench.ticket_list import time_lists  # noqa: E402
from complaints.periods import Period  # noqa: E402
from server import create_app  # noqa: E402
from server.auth import HEAD_OFFICE, hash_password  # noqa: E402
from server.dashboard.figures import FiguresCache  # noqa: E402
from server.services.analysis import analyse, reference_analysis  # noqa: E402
from server.storage.db import Database, get_db  # noqa: E402
from server.storage.figures import fill_figure_rows  # noqa: E402
from server.storage.models import (  # noqa: E402
    BranchRow,
    TicketRow,
    UserRow,
    figures_table,
    search_marks_table,
    search_table,
    tickets_table,
)
from server.storage.rollup import forget_days, mark_days  # noqa: E402
from server.storage.search import fill_search_rows  # noqa: E402

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
MONTH = Period.month(2026, 11)
PART = Period.days(date(2026, 11, 10), date(2026, 11, 20))


CPU: list[float] = []
"""CPU milliseconds of the last `best` (this process: with SQLite, the database's work too)."""


def best(repeat: int, work: Callable[[], object], before: Callable[[], None] | None = None) -> float:
    """Best of ``repeat`` wall-clock milliseconds; its CPU time goes to `CPU` (a shared machine waits)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start, cpu = time.perf_counter(), time.process_time()
        work()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    wall, cpu = min(times)
    CPU[:] = [cpu * 1000]
    return wall * 1000


def prepare(url: str, tickets: int) -> None:
    """The database at the newest schema holding ``tickets`` generated tickets (generated if not)."""
    db = Database(url)
    db.upgrade()
    with db.read() as session:
        have = session.scalar(select(func.count()).select_from(tickets_table))
    if have != tickets:
        with db.write() as session:
            forget_days(session.connection())
            session.execute(search_table.delete())
            session.execute(search_marks_table.delete())
            session.execute(figures_table.delete())
            session.execute(tickets_table.delete())
            session.execute(BranchRow.__table__.delete())
        started = time.perf_counter()
        generate(db, tickets)
        with db.write() as session:
            fill_figure_rows(session.connection(), None)
            fill_search_rows(session.connection())
        if db.engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum would gather
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        print(f"generated {tickets:,} tickets in {time.perf_counter() - started:.0f} s")
    with db.write() as session:
        if session.scalar(select(UserRow.id).where(UserRow.username == "bench")) is None:
            session.add(
                UserRow(username="bench", password_hash=hash_password("b"), role=HEAD_OFFICE, created_at=NOW)
            )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db", type=Path, default=Path("/tmp/complaint-desk-bench-dashboard.db"))
    parser.add_argument("--url", help="PostgreSQL: the database to fill and use (SQLAlchemy URL)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-limit", type=int, default=200_000)
    parser.add_argument("--lists-only", action="store_true", help="time the ticket list's pages only")
    args = parser.parse_args()
    if args.database == "postgresql":
        if not args.url:
            parser.error("--database postgresql needs --url")
        url = args.url
    else:
        url = f"sqlite:///{args.db}"
    prepare(url, args.tickets)
    app = create_app({"DATABASE_URL": url, "CLOCK": lambda: NOW, "SECRET_KEY": "b"})
    client = app.test_client()
    page = client.get("/dashboard/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]
    client.post("/dashboard/signin", data={"username": "bench", "password": "b", "csrf_token": token})

    def get(url: str) -> Callable[[], object]:
        def fetch() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return fetch

    def cold() -> None:
        """As after a branch's Sync: the figures cache emptied, each branch's last day of November marked."""
        app.extensions["dashboard_figures"] = FiguresCache()
        with app.app_context(), get_db().write() as session:
            for branch_id in session.scalars(select(BranchRow.id)):
                mark_days(session.connection(), branch_id, [MONTH.last])

    def first() -> None:
        """No day rolled up yet (after the upgrade, or a bulk load)."""
        with app.app_context(), get_db().write() as session:
            forget_days(session.connection())

    if args.lists_only:
        with app.app_context(), get_db().read() as session:
            codes = list(session.scalars(select(BranchRow.code).order_by(BranchRow.code)))
        print(f"{args.tickets:,} tickets, {len(codes)} branches, {args.database}")
        time_lists(app, client, codes[0], codes[1], args.repeat, best, CPU)
        return

    with app.app_context(), get_db().read() as session:
        codes = list(session.scalars(select(BranchRow.code).order_by(BranchRow.code)))
        one = codes[0]
        sample = None if args.tickets <= args.reference_limit else [one]
        ref_ms = best(1, lambda: reference_analysis(session, sample, MONTH))
        ref_cpu = CPU[0]
        key = session.scalar(select(TicketRow.sync_key).limit(1))
        in_sample = session.scalar(
            select(func.count()).select_from(TicketRow).join(BranchRow).where(BranchRow.code == one)
        )

    def analysed() -> None:
        with app.app_context(), get_db().read() as session:  # a snapshot of its own: it sees the days stored
            analyse(session, None, MONTH)

    build_ms = best(1, analysed, first)
    build_cpu = CPU[0]
    sql_ms = best(1, analysed)
    sql_cpu = CPU[0]
    scale = 1.0 if sample is None else args.tickets / max(1, in_sample or 0)
    print(
        f"{args.tickets:,} tickets, {len(codes)} branches, {args.database}; period {MONTH.label()}\n"
        f"baseline: per-ticket analysis of the month "
        f"{'(all branches)' if sample is None else f'(branch {one}, x{scale:.1f} by tickets)'}: "
        f"{ref_ms:,.0f} ms ({ref_cpu:,.0f} CPU)"
        f"{'' if sample is None else f' -> ~{ref_cpu * scale:,.0f} CPU for all'}; "
        f"database-counted analysis (all branches, days rolled up): {sql_ms:,.0f} ms ({sql_cpu:,.0f} CPU), "
        f"x{ref_cpu * scale / sql_cpu:,.1f} less CPU;\nits first read (no day rolled up yet: "
        f"every day counted and stored) {build_ms:,.0f} ms ({build_cpu:,.0f} CPU)"
    )
    month = f"?from={MONTH.first}&to={MONTH.last}"
    part = f"?from={PART.first}&to={PART.last}"
    overviews = [
        ("overview, November, all branches", f"/dashboard/{month}"),
        ("overview, 10-20 Nov, all branches", f"/dashboard/{part}"),
        (f"overview, November, branch {one}", f"/dashboard/{month}&branch={one}"),
    ]
    print(f"{'page':40s} {'cold ms':>9s} {'(CPU)':>7s} {'warm ms':>9s} {'(CPU)':>7s}")
    for name, path, before in ((n, p, cold) for n, p in overviews):
        c = best(args.repeat if before else 1, get(path), before)
        c_cpu = CPU[0]
        w = best(args.repeat, get(path))
        print(f"{name:40s} {c:9.0f} {c_cpu:7.0f} {w:9.0f} {CPU[0]:7.0f}")
    print(f"{'ticket page':40s} {'':9s} {best(args.repeat, get(f'/dashboard/tickets/{key}')):9.0f}")
    time_lists(app, client, one, codes[1], args.repeat, best, CPU)
    with app.app_context():
        get_db().dispose()


if __name__ == "__main__":
    main()
