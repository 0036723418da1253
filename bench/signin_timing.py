"""Time a password check for a known user name and an unknown one; print the medians and their ratio.

    python bench/signin_timing.py              # 11 pairs
    python bench/signin_timing.py --pairs 31

An unknown name must cost as much as a known one (one scrypt run each), or the
answer's time tells a guesser which names exist. Pairs alternate known and
unknown, so a machine busy with other work disturbs both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import create_app  # noqa: E402
from server.auth import HEAD_OFFICE, check_user, hash_password  # noqa: E402
from server.storage.db import get_db  # noqa: E402
from server.storage.models import UserRow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=11)
    pairs = parser.parse_args().pairs
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder}/timing.db"})
        with app.app_context():
            db = get_db()
            db.upgrade()
            with db.write() as session:
                digest = hash_password("right")
                session.add(
                    UserRow(
                        username="hq", password_hash=digest, role=HEAD_OFFICE, created_at=datetime.now(UTC)
                    )
                )
            known, unknown = [], []
            with db.read() as session:
                check_user(session, "nobody", "warm-up")
                for _ in range(pairs):
                    for name, times in (("hq", known), ("nobody", unknown)):
                        start = time.perf_counter()
                        check_user(session, name, "wrong")
                        times.append(time.perf_counter() - start)
            db.dispose()
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"known {k * 1000:.0f} ms, unknown {u * 1000:.0f} ms, ratio {u / k:.2f} ({pairs} pairs)")


if __name__ == "__main__":
    main()
