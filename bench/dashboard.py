"""Time the dashboard's pages on a database of demo tickets; print milliseconds and ratios.

    python bench/dashboard.py                    # 3 branches x 5,000 demo tickets, SQLite
    python bench/dashboard.py --per-branch 20000

Each page is requested through Flask's test client (server time: queries,
figures, template), best of ``--repeat`` runs; the overview also cold (first
request: the figures are cached until the data changes). Baselines measured in the same
run: the overview against `server.services.analysis.analyse` alone for the same period
(the data layer it calls), and each list page against a bare ``count(*)`` of
all tickets.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from complaints.periods import Period  # noqa: E402
from server import create_app  # noqa: E402
from server.auth import HEAD_OFFICE, hash_password  # noqa: E402
from server.services import demo  # noqa: E402
from server.services.analysis import analyse  # noqa: E402
from server.storage.db import get_db  # noqa: E402
from server.storage.models import TicketRow, UserRow  # noqa: E402

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-branch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "CLOCK": lambda: NOW, "SECRET_KEY": "b"}
        )
        with app.app_context():
            get_db().upgrade()
            started = time.perf_counter()
            demo.load(args.per_branch)
            print(f"loaded {3 * args.per_branch:,} demo tickets in {time.perf_counter() - started:.0f} s")
            with get_db().write() as session:
                session.add(
                    UserRow(username="b", password_hash=hash_password("b"), role=HEAD_OFFICE, created_at=NOW)
                )
        client = app.test_client()
        page = client.get("/dashboard/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        client.post("/dashboard/signin", data={"username": "b", "password": "b", "csrf_token": token})

        def get(url: str) -> Callable[[], object]:
            def fetch() -> object:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return response

            return fetch

        def analysis_only() -> object:
            with app.app_context(), get_db().read() as session:
                period = Period.days(date(2026, 11, 1), date(2026, 11, 25))  # this month so far
                return analyse(session, None, period, trend_months=6)

        def count_all() -> object:
            with app.app_context(), get_db().read() as session:
                return session.scalar(select(func.count()).select_from(TicketRow))

        base_overview = best(args.repeat, analysis_only)
        base_count = best(args.repeat, count_all)
        rows = [
            ("overview, this month, cached", get("/dashboard/"), base_overview),
            ("ticket list, page 1", get("/dashboard/tickets"), base_count),
            ("ticket list, overdue + branch", get("/dashboard/tickets?overdue=1&branch=SZ01"), base_count),
            ("ticket list, search 宽带", get("/dashboard/tickets?q=%E5%AE%BD%E5%B8%A6"), base_count),
            ("ticket list, last page", get("/dashboard/tickets?page=100000"), base_count),
        ]
        print(f"baseline analyse() {base_overview:.0f} ms; count(*) {base_count:.1f} ms")
        cold = best(1, get("/dashboard/"))
        print(f"{'overview, this month, cold':32s} {cold:8.0f} ms   x{cold / base_overview:6.1f} of baseline")
        for name, work, baseline in rows:
            ms = best(args.repeat, work)
            print(f"{name:32s} {ms:8.0f} ms   x{ms / baseline:6.1f} of baseline")
        with app.app_context(), get_db().read() as session:
            key = session.scalar(select(TicketRow.sync_key).limit(1))
        print(f"{'ticket page':32s} {best(args.repeat, get(f'/dashboard/tickets/{key}')):8.0f} ms")
        tracemalloc.start()
        get("/dashboard/?from=2026-11-02")()  # a period not cached yet
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"overview peak Python memory {peak / 2**20:.0f} MB (tracemalloc)")
        with app.app_context():
            get_db().dispose()


if __name__ == "__main__":
    main()
