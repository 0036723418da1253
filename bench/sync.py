"""Push 5,000 changed rows through the sync endpoint; print server time and rows/s per database.

    python bench/sync.py                       # SQLite (temporary file) and PostgreSQL (127.0.0.1, db test)
    python bench/sync.py --rows 20000 --only sqlite
    python bench/sync.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/other   # another database

Three pushes per database and workload, each of ``--rows`` rows in one request:
new tickets, edits on a current base (applied directly), and edits on a stale
base (merged field by field against the history). Timed in-process around the
request, so the figure is the server's own time (JSON, validation, the rules
with the branch-wide group and repeat rules, the database, the notices); the
process's CPU time is printed beside it, as a busy machine disturbs it less (on
SQLite it includes the database's work, on PostgreSQL not the server's). The
cursor lies past the end, so the pull half of the round trip returns nothing.

Two workloads: *spread* — a branch's tickets of three months, in 40 estates of
up to 29 phases (期: places apart, where buildings 栋 of one estate are one place
for the group rule) — a few group incidents form; *one compound* — every ticket
received the same hour at the same place: one group incident of ``--rows``
tickets, each raised to yellow with a notice to its department head (the worst
case of the write-time level rules).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import create_app  # noqa: E402
from server.auth import BRANCH, issue_token  # noqa: E402
from server.storage.db import get_db  # noqa: E402
from server.storage.models import BranchRow  # noqa: E402

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
COMPOUNDS = [
    f"{name}小区" for name in ("阳光花园", "翠湖", "锦绣", "金地", "华侨城", "碧桂园", "万科城", "龙湖")
] + [f"第{n}工业园" for n in range(1, 33)]
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fields(n: int, spread: bool) -> dict[str, object]:
    received = NOW - timedelta(days=n % 90, hours=n % 11 + 1) if spread else NOW - timedelta(hours=1)
    place = f"{COMPOUNDS[n % len(COMPOUNDS)]}{n % 29 + 1}期" if spread else "阳光花园小区"
    return {
        "ticket_id": f"SZ01-{received:%Y%m%d}-{n:05d}",
        "received_at": received.isoformat(),
        "channel": "hotline",
        "customer_name": f"客户{n}",
        "contact": f"138{n:08d}",
        "category": "network_fault",
        "place": place,
        "problem_time": "每晚",
        "service": "宽带",
        "description": "晚上八点到十一点宽带经常断线，重启光猫后十分钟又断",
        "expectation": "一周内恢复",
        "grade": "moderate",
    }


def measure(url: str, rows: int, spread: bool) -> list[tuple[str, tuple[float, float]]]:
    app = create_app({"DATABASE_URL": url, "CLOCK": lambda: NOW})
    with app.app_context():
        db = get_db()
        db.upgrade()
        with db.write() as session:
            code = f"B{uuid.uuid4().hex[:6]}"
            branch = BranchRow(code=code, timezone="Asia/Shanghai", change_seq=0, created_at=NOW)
            session.add(branch)
            session.flush()
            token = issue_token(session, BRANCH, NOW, branch=branch)[1]
    client = app.test_client()
    keys = [uuid.uuid4().hex for _ in range(rows)]

    def push(body: dict[str, object]) -> tuple[float, float]:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        began, cpu = time.perf_counter(), time.process_time()
        response = client.post("/api/sync", json=body, headers=headers)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert response.status_code == 200, response.json
        return elapsed, cpu

    def rows(extra: dict[str, object], base: int | None) -> dict[str, object]:
        tickets = [
            {"sync_key": k, "base_version": base, "fields": {**fields(n, spread), **extra}}
            for n, k in enumerate(keys)
        ]
        return {"tickets": tickets, "cursor": 10**9}

    created = push(rows({}, None))
    current = push(rows({"cause": "A"}, 1))
    stale = push(rows({"solution": "B"}, 1))
    with app.app_context():
        get_db().dispose()
    return [("new tickets", created), ("edits, current base", current), ("edits, stale base (merge)", stale)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg", default=PG, help="the PostgreSQL database (SQLAlchemy URL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": f"sqlite:///{tmp}/bench.db", "postgresql": args.pg}
        for name, url in targets.items():
            if args.only and name != args.only:
                continue
            for workload, spread in (("spread", True), ("one compound", False)):
                for label, (seconds, cpu) in measure(url, args.rows, spread):
                    rate = args.rows / seconds
                    print(
                        f"{name:<10} {workload:<13} {label:<27} {args.rows:>6} rows  {seconds:6.2f} s  "
                        f"{rate:8,.0f} rows/s  {cpu:6.2f} s CPU"
                    )


if __name__ == "__main__":
    main()
