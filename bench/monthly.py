"""Benchmark: the scheduler's monthly analysis on a generated database, the old way and the new, alternating.

    python bench/monthly.py --url sqlite:////tmp/cd-1m.db          # a database bench/consolidate.py filled
    python bench/monthly.py --url postgresql+psycopg://postgres@127.0.0.1/bench1m_b --rounds 1

Each build runs in its own child process, so its peak resident memory is its own:

* ``old``  - as the job did before 0019_reportfiles: the workbook built in one
             process (no worker pool) into memory, then stored as one value in ``reports``;
* ``new``  - `server.scheduling.jobs.monthly_analysis` itself: worker processes
             as the consolidated export, streamed to a file kept in the evidence store.

The month is November 2026 (the job run on 1 December). The figures' rolled-up
days are read once before the first build, so neither build pays for their
first read. Each kept report (row and file) is deleted after its build.

At 1,000,000 tickets (SQLite, idle 2-core machine): old 63.3 s, peak 1,327 MB;
new 33.0 s, 63.9 CPU s, peak 123 MB main and 120 MB per worker (421 MB
workbook). Details: docs/consolidated.md.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import delete  # noqa: E402

from complaints.periods import Period  # noqa: E402
from server.storage.db import Database  # noqa: E402
from server.storage.models import ReportRow  # noqa: E402

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PERIOD = Period.month(2026, 11)
ZONE = "Asia/Shanghai"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_mb() -> tuple[float, float]:
    """Peak resident MB of this process (VmHWM) and of its largest finished child (a worker process)."""
    status = Path("/proc/self/status").read_text()
    own = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return own / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child_old(url: str) -> dict[str, object]:
    """The job before 0019_reportfiles: one process, the whole workbook in memory and in the database."""
    from server.services.consolidated import ConsolidateOptions, build_consolidated

    db = Database(url)
    options = ConsolidateOptions(None, PERIOD, "zh", generated_at=NOW, timezone=ZONE, workers=0)
    out = io.BytesIO()
    build_consolidated(db, out, options)
    content = out.getvalue()
    with db.write() as session:
        row = ReportRow(kind="bench", period="2026-11", filename="b.xlsx", content=content, created_at=NOW)
        session.add(row)
    return {"bytes": len(content)}


def child_new(url: str) -> dict[str, object]:
    """The job itself, in an app whose evidence store is a temporary folder."""
    from server import create_app
    from server.scheduling.jobs import monthly_analysis

    with tempfile.TemporaryDirectory(dir="/tmp") as files:
        app = create_app({"DATABASE_URL": url, "EVIDENCE_DIR": files, "TIMEZONE": ZONE})
        with app.app_context():
            result = monthly_analysis(NOW)
        kept = [p.stat().st_size for p in Path(files).glob("??/*")]
    return {"bytes": sum(kept), "detail": result.detail}


def child_warm(url: str) -> dict[str, object]:
    """Read the month's figures once (their days rolled up and stored), as both builds then read them."""
    from server.services.analysis import analyse, branch_zones
    from server.services.people import staff_figures

    db = Database(url)
    with db.read() as session:
        zones = branch_zones(session, None)
        analyse(session, list(zones), PERIOD)
        staff_figures(session, list(zones), PERIOD, None)
    return {}


def run_child(kind: str, url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, url], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(kind: str, url: str) -> None:
    started, cpu = time.perf_counter(), cpu_seconds()
    result = {"old": child_old, "new": child_new, "warm": child_warm}[kind](url)
    seconds = time.perf_counter() - started
    main, workers = peak_mb()
    result.update(seconds=seconds, cpu=cpu_seconds() - cpu, main_mb=main, workers_mb=workers)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="SQLAlchemy URL of a filled database")
    parser.add_argument("--rounds", type=int, default=1, help="old/new pairs")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.url:
        parser.error("--url is required")
    db = Database(args.url)
    db.upgrade()
    warm = run_child("warm", args.url)
    print(f"figures read once first: {warm['seconds']:.1f} s")
    for _ in range(args.rounds):
        for kind in ("old", "new"):
            with db.write() as session:
                session.execute(delete(ReportRow).where(ReportRow.period == "2026-11"))
            r = run_child(kind, args.url)
            print(
                f"{kind}: {r['seconds']:.1f} s, {r['cpu']:.1f} CPU s (all processes), "
                f"peak {r['main_mb']:.0f} MB main / {r['workers_mb']:.0f} MB per worker, "
                f"{int(r['bytes']) / 1e6:.0f} MB workbook",
                flush=True,
            )
    with db.write() as session:
        session.execute(delete(ReportRow).where(ReportRow.period == "2026-11"))


if __name__ == "__main__":
    main()
