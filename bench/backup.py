"""Time a backup and a restore of a database of generated tickets; print size and seconds.

    python bench/backup.py                                       # 100,000 tickets, SQLite
    python bench/backup.py --database postgresql \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/cd_bench --restore-url …/cd_bench_restored

The tickets (10 branches, November 2026, at every stage: `bench.consolidate.generate`)
are generated once and kept for the next run, as `bench.dashboard` does. The
backup is `server.storage.backup.backup` (what ``flask --app server backup``
calls); the restore goes into an empty database (``--restore-url``, or a file
beside the SQLite one), which is emptied first on every run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.dashboard import prepare  # noqa: E402
from server.storage.backup import backup, restore  # noqa: E402
from server.storage.db import Database  # noqa: E402


def emptied(url: str) -> Database:
    """The database at ``url`` with nothing in it (its SQLite file deleted; its PostgreSQL schema reset)."""
    db = Database(url)
    if db.is_sqlite:
        Path(db.engine.url.database or "").unlink(missing_ok=True)
    else:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    return db


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db", type=Path, default=Path("/tmp/complaint-desk-bench-dashboard.db"))
    parser.add_argument("--url", help="PostgreSQL: the database to fill and back up (SQLAlchemy URL)")
    parser.add_argument("--restore-url", help="PostgreSQL: an existing database to restore into (emptied)")
    args = parser.parse_args()
    if args.database == "postgresql":
        if not (args.url and args.restore_url):
            parser.error("--database postgresql needs --url and --restore-url")
        url, target = args.url, args.restore_url
    else:
        url, target = f"sqlite:///{args.db}", f"sqlite:///{args.db.with_suffix('.restored.db')}"
    prepare(url, args.tickets)
    source = Database(url)
    with tempfile.TemporaryDirectory() as folder:
        made = backup(source, Path(folder) / f"bench.{args.database}")
        print(
            f"{args.tickets:,} tickets, {args.database}: backup {made.size / 2**20:,.1f} MiB "
            f"in {made.seconds:.2f} s"
        )
        into = emptied(target)
        started = time.perf_counter()
        done = restore(into, made.path)
        print(
            f"restore into an empty database: {time.perf_counter() - started:.2f} s "
            f"(checking the file, then restoring); it holds {done.now_holds['tickets']:,} tickets"
        )
        into.dispose()
    source.dispose()


if __name__ == "__main__":
    main()
