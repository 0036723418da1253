"""Import a 10,000-row ledger (.xlsx) and import it again; print rows/s and peak memory.

    python bench/ledger.py                      # SQLite (temporary file)
    python bench/ledger.py --rows 20000 --db postgresql+psycopg://postgres@127.0.0.1:5432/test

The ledger is built as branches keep them (a title row, two header rows under
merged cells, text dates, ticks, a spacer every 50 rows and a totals row); a
tenth of the rows have no result (they stay open, as imported history). Three
steps are timed: reading and mapping the file with the preview (nothing
written), the import through the one service, and importing the same file
again (nothing to write). Peak memory is Python's own allocations during the
step with ``--trace`` (tracemalloc, a separate run: tracing slows it), else the
process's peak resident size after the step.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import Workbook  # noqa: E402

from server import create_app  # noqa: E402
from server.auth import ADMIN  # noqa: E402
from server.services.changes import Actor  # noqa: E402
from server.services.ledger import import_plan, plan_ledger  # noqa: E402
from server.storage.db import get_db  # noqa: E402
from server.storage.models import BranchRow  # noqa: E402

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
CATEGORIES = ("宽带故障", "资费争议", "服务态度", "办理差错", "套餐条款", "号码问题")


def ledger(rows: int) -> bytes:
    """A ledger of ``rows`` complaints over the 600 days before NOW, written with openpyxl."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(["SZ01分公司投诉台账"])
    ws.append(
        ["序号", "日期", "客户信息", "客户信息", "投诉内容", "处理结果", "处理人", "是否满意", "类别", "渠道"]
    )
    ws.append(
        ["序号", "日期", "姓名", "联系电话", "投诉内容", "处理结果", "处理人", "是否满意", "类别", "渠道"]
    )
    for n in range(1, rows + 1):
        day = NOW - timedelta(days=600 * n // rows + 3)
        done = day + timedelta(days=2)
        result = "" if n % 10 == 0 else f"{done:%Y.%m.%d} 已处理，客户认可"
        tick = "" if n % 10 == 0 else ("√" if n % 7 else "×")
        ws.append([n, f"{day:%Y.%m.%d}", f"客户{n}", f"138{n:08d}", f"第{n}号投诉：晚上宽带经常断线",
                   result, "李工", tick, CATEGORIES[n % 6], "10000号"])  # fmt: skip
        if n % 50 == 0:
            ws.append([])
    ws.append(["合计", None, None, None, rows])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def measured(step: Callable[[], Any], trace: bool) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB) of one step: Python's allocations with ``trace`` (tracemalloc, which
    slows the step several times, so its time is not the figure), else the process's peak resident size."""
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", default="", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--trace", action="store_true", help="peak memory by tracemalloc (slow: not timed)")
    args = parser.parse_args()
    data = ledger(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = create_app({"DATABASE_URL": url, "CLOCK": lambda: NOW})
        with app.app_context():
            db = get_db()
            db.upgrade()
            with db.write() as session:
                session.add(BranchRow(code="SZ01", name="SZ01", timezone="Asia/Shanghai", change_seq=0,
                                      created_at=NOW))  # fmt: skip
            actor = Actor("bench", ADMIN, "ledger")
            print(
                f"ledger: {args.rows:,} rows, {len(data) / 2**20:.1f} MiB .xlsx; database {url.split(':')[0]}"
            )

            def preview() -> Any:
                return plan_ledger(db, "SZ01", data, "SZ01.xlsx", now=NOW)

            def imported() -> Any:
                return import_plan(db, preview(), actor=actor, now=NOW)

            for label, step in (("preview", preview), ("import", imported), ("import again", imported)):
                result, seconds, peak = measured(step, args.trace)
                plan = result if label == "preview" else result.plan
                counts = (
                    f"new {len(plan.new):,}, changed {len(plan.changed):,}, unchanged {len(plan.unchanged):,}"
                )
                if label != "preview":
                    counts += f"; created {result.created:,}"
                memory = f"peak {'allocated' if args.trace else 'resident'} {peak:6.1f} MiB"
                print(
                    f"{label:>13}: {seconds:6.2f} s, {args.rows / seconds:8,.0f} rows/s, {memory} ({counts})"
                )
        db.dispose()


if __name__ == "__main__":
    main()
