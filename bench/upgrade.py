"""Benchmark: the first figures read after an upgrade, before (counted on that read) and now (at the upgrade).

    python bench/upgrade.py --url sqlite:////tmp/cd-1m.db --old-tree /tmp/c-old
    python bench/upgrade.py --url postgresql+psycopg://postgres@127.0.0.1/bench1m_b --old-tree /tmp/c-old

The database is one bench/consolidate.py filled (November 2026). Its rolled-up
days are dropped first, as after an upgrade from before the rollup, and the
schema is taken back to 0019_reportfiles. Then, each in its own child process:

* ``old first read`` - with the code of ``--old-tree`` (a checkout at
                       0019_reportfiles): the month's figures (`analyse`, trends
                       included) and staff figures, every day counted on this read
                       (the staff counts joined with the tickets for the names);
                       the days it stored are dropped again;
* ``upgrade``        - `Database.upgrade()` of this code: 0020_staffnames copies
                       the two names into ``ticket_figures``, then every day is
                       rolled up;
* ``first read``     - the same figures after it.

Each line gives seconds and CPU seconds of its process (the database's own CPU
on PostgreSQL is not in them).

At 1,000,000 tickets (shared 2-core machine, load 4-5): the old first read
149.0 s on SQLite (staff figures 117.6 s of it), 33.7 s on PostgreSQL; the
upgrade 158.7 s / 135.6 s; the first read after it 1.1 s / 2.4 s.
Details: docs/consolidated.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def child(kind: str, url: str) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    from complaints.periods import Period
    from server.storage.db import Database, alembic_config
    from server.storage.rollup import forget_days

    db = Database(url)
    started, cpu = time.perf_counter(), time.process_time()
    result: dict[str, object] = {}
    if kind == "reset":
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision() or ""
        move = command.downgrade if current >= "0019" else command.upgrade  # ids sort by their number
        move(alembic_config(url), "0019_reportfiles")
        with db.engine.begin() as connection:
            forget_days(connection)
    elif kind == "upgrade":
        db.upgrade()
    else:  # a first read
        from server.services.analysis import analyse, branch_zones
        from server.services.people import staff_figures

        period = Period.month(2026, 11)
        with db.read() as session:
            zones = branch_zones(session, None)
            begun = time.perf_counter()
            analyse(session, list(zones), period)
            result["figures"] = time.perf_counter() - begun
            begun = time.perf_counter()
            staff_figures(session, list(zones), period, None)
            result["staff"] = time.perf_counter() - begun
        if kind == "old":
            with db.engine.begin() as connection:
                forget_days(connection)
    result.update(seconds=time.perf_counter() - started, cpu=time.process_time() - cpu)
    print(json.dumps(result))


def run_child(kind: str, url: str, tree: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, url],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        cwd=tree,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url")
    parser.add_argument("--old-tree", type=Path, help="a checkout of the code at 0019_reportfiles")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(Path.cwd()))
        child(*args.child)
        return
    if not args.url:
        parser.error("--url is required")
    run_child("reset", args.url, REPO)
    steps = [("old", args.old_tree)] if args.old_tree else []
    steps += [("upgrade", REPO), ("first", REPO)]
    for kind, tree in steps:
        r = run_child(kind, args.url, tree)
        parts = f" (figures {r['figures']:.1f} s, staff figures {r['staff']:.1f} s)" if "staff" in r else ""
        label = {"old": "old first read", "upgrade": "upgrade", "first": "first read"}[kind]
        print(f"{label}: {r['seconds']:.1f} s, {r['cpu']:.1f} CPU s{parts}", flush=True)


if __name__ == "__main__":
    main()
