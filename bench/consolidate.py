"""Benchmark: the consolidated workbook for 1,000,000 tickets against openpyxl write-only, same rows and run.

    python bench/consolidate.py                       # 1,000,000 tickets in 10 branches
    python bench/consolidate.py --tickets 100000 --baseline-rows 20000

The tickets are generated once into a SQLite file (Core executemany in
batches; kept for the next run, ``--db``), so that the figures include reading
the database as the server does. Each measurement runs in its own child
process, so its peak resident memory (``ru_maxrss``, which counts worker
processes separately) is its own:

* ``consolidated``   - `build_consolidated`: every ticket sheet (All, Overdue,
                        Red & yellow, Revisit due, Training cases) streamed with
                        two worker processes, then the KPI, analysis and staff
                        sheets (`server.services.analysis` and
                        `server.services.people.staff_figures`: counted by the
                        database, from the days rolled up by the analysis timed
                        before); each phase after the ticket sheets is timed;
* ``one process``     - the same ticket sheets without worker processes;
* ``openpyxl``        - openpyxl write-only writing the same rows (same columns,
                        fills, number formats) read from the same database, on the
                        first ``--baseline-rows`` rows (it is too slow for a million).

At 1,000,000 tickets (SQLite, idle 2-core machine): 34 s whole (was 273 s), of
which 0.7 s after the ticket sheets (was 139 s); 67 CPU seconds in all (was
138); peak 119 MB main, 120 MB per worker. Details: docs/consolidated.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, insert, select  # noqa: E402

from complaints.enums import Category, Channel, Flag, Grade, Level, Satisfaction, Status  # noqa: E402
from complaints.periods import Period  # noqa: E402
from server.storage.db import Database  # noqa: E402
from server.storage.figures import fill_figure_rows  # noqa: E402
from server.storage.models import BranchRow, figures_table, tickets_table  # noqa: E402
from server.storage.rollup import forget_days  # noqa: E402

PERIOD = Period.month(2026, 11)
ZONE = "Asia/Shanghai"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
BRANCHES = 10
SAMPLES = REPO / "data" / "sample_complaints.csv"
CHANNELS = {c.value for c in Channel}
CATEGORIES = {**{c.value: c.value for c in Category}, "service_attitude": Category.STAFF_ATTITUDE.value}


def _samples() -> list[list[str]]:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",") for line in lines if line.count(",") == 4]


def generate(db: Database, count: int, seed: int = 2026) -> None:
    """``count`` tickets received in November 2026, spread over ``BRANCHES`` branches, at every stage."""
    rng = random.Random(seed)
    samples = _samples()
    start, end = PERIOD.bounds(ZONE)
    span = int((end - start).total_seconds())
    start = start.astimezone(UTC)
    overdue = [f.value for f in Flag if f.is_overdue]
    departments = ("网络部", "市场部", "服务管理部", "投诉管理岗")
    with db.write() as session:
        ids = []
        for b in range(BRANCHES):
            row = BranchRow(code=f"B{b:03d}", name=f"分公司{b}", timezone=ZONE, change_seq=0, created_at=NOW)
            session.add(row)
            session.flush()
            ids.append(row.id)
    batch: list[dict[str, object]] = []
    per_branch = -(-count // BRANCHES)
    for n in range(count):
        branch = n // per_branch
        category, channel, place, description, expectation = rng.choice(samples)
        received = start + timedelta(seconds=rng.randrange(span))
        stage = rng.randrange(8)
        at = received

        def later(hours: int) -> datetime:
            nonlocal at
            at = at + timedelta(minutes=rng.randrange(30, hours * 60))
            return at

        level = rng.choices((Level.BLUE, Level.YELLOW, Level.RED), (85, 10, 5))[0]
        flags = sorted(rng.sample(overdue, rng.choice((0, 0, 1, 2)))) + (
            ["REVISIT_DUE"] if stage == 6 else []
        )
        ticket = {
            "sync_key": uuid.UUID(int=rng.getrandbits(128)).hex,
            "branch_id": ids[branch],
            "version": 1,
            "change_seq": n,
            "updated_at": NOW,
            "updated_by": "bench",
            "ticket_id": f"B{branch:03d}-{received:%Y%m%d}-{n:07d}",
            "received_at": received,
            "channel": channel if channel in CHANNELS else Channel.OTHER.value,
            "customer_name": rng.choice("王李张刘陈杨黄赵吴周") + rng.choice(("先生", "女士")),
            "contact": f"1{rng.randrange(30, 99)}{rng.randrange(10**8):08d}",
            "category": CATEGORIES.get(category, Category.OTHER.value),
            "place": place,
            "problem_time": "近一周",
            "service": "家庭宽带",
            "description": f"{description}（第{n}号）",
            "expectation": expectation,
            "grade": rng.choice(list(Grade)).value,
            "level": level.value,
            "level_reason": "" if level is Level.BLUE else "同一客户多次投诉未解决",
            "status": list(Status)[stage].value,
            "flags": ",".join(flags),
            "ack_due": received + timedelta(days=1),
            "plan_due": received + timedelta(days=3),
            "resolve_due": received + timedelta(days=7),
            "appeal_risk_at": received + timedelta(days=15),
            "training_case": rng.random() < 0.01,
        }
        if stage >= 1:
            ticket["acknowledged_at"] = later(20)
        if stage >= 2:
            ticket.update(routed_at=later(3), department=rng.choice(departments), investigator="调查员1")
        if stage >= 3:
            ticket["plan_at"] = later(70)
        if stage >= 4:
            ticket.update(resolved_at=later(150), cause="设备老化", solution="已更换设备")
            ticket["feedback_due"] = ticket["resolved_at"] + timedelta(hours=24)  # type: ignore[operator]
        if stage >= 5:
            ticket.update(feedback_at=later(30), safeguards="纳入月度巡检")
        if stage >= 6:
            ticket.update(closed_at=later(24), root_cause=rng.choice(("老旧设备容量不足", "培训不到位")))
            ticket.update(improvement="扩容并建立预警机制", improvement_done=rng.random() < 0.6)
        if stage >= 7:
            ticket.update(revisited_at=later(140), satisfaction=rng.choice(list(Satisfaction)).value)
        batch.append(ticket)
        if len(batch) == 10_000:
            _insert(db, batch)
    _insert(db, batch)


def _insert(db: Database, batch: list[dict[str, object]]) -> None:
    if not batch:
        return
    keys = [c.name for c in tickets_table.columns]
    rows = [{k: row.get(k) for k in keys} for row in batch]
    for row in rows:
        for key in ("objection_count",):
            row[key] = 0
        for key, column in tickets_table.c.items():
            if row[key] is None and not column.nullable:
                row[key] = False if str(column.type) == "BOOLEAN" else ""
    with db.write() as session:
        session.execute(insert(tickets_table), rows)
    batch.clear()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_mb() -> tuple[float, float]:
    """Peak resident MB of this process and of its largest finished child (a worker process).

    This process's peak is VmHWM, which starts afresh at exec: ``ru_maxrss`` would
    keep the parent's size at fork time. A worker's figure is ``ru_maxrss`` and
    so includes that of this process when the pool started (~100 MB).
    """
    status = Path("/proc/self/status").read_text()
    own = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return own / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child_consolidated(url: str, out: str, workers: int) -> dict[str, object]:
    from server.services import consolidated
    from server.services.consolidated import ConsolidateOptions, build_consolidated
    from server.xlsx.consolidate import ConsolidatedWorkbook

    db = Database(url)
    marks: dict[str, float] = {}
    phases: dict[str, float] = {}

    def timed(name: str, work: Any) -> Any:
        """``work`` that adds its wall-clock seconds to ``phases[name]``."""

        def run(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            try:
                return work(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - begun

        return run

    consolidated.analyse = timed("KPI and analysis figures", consolidated.analyse)  # type: ignore[assignment]
    consolidated.staff_figures = timed("staff figures", consolidated.staff_figures)  # type: ignore[assignment]
    consolidated.appeals.register = timed("appeal register", consolidated.appeals.register)  # type: ignore[assignment]
    ConsolidatedWorkbook.finish = timed("KPI, analysis and staff sheets written", ConsolidatedWorkbook.finish)  # type: ignore[method-assign]
    rows = 0
    started = time.perf_counter()

    def progress(n: int) -> None:
        nonlocal rows
        rows += n
        marks["sheets_done"] = time.perf_counter() - started
        marks["sheets_peak"] = peak_mb()[0]
        marks["sheets_cpu"] = cpu_seconds()  # exact without workers (theirs count only once they end)

    with open(out, "wb") as target:
        options = ConsolidateOptions(None, PERIOD, "zh", generated_at=NOW, workers=workers)
        summary = build_consolidated(db, target, options, progress=progress)
    total = time.perf_counter() - started
    main, children = peak_mb()
    return {
        "cpu_seconds": cpu_seconds(),
        "sheets_cpu_seconds": marks["sheets_cpu"],
        "rows": rows,
        "sheet_rows": summary.rows,
        "sheets_seconds": marks["sheets_done"],
        "total_seconds": total,
        "main_peak_sheets_mb": marks["sheets_peak"],
        "main_peak_mb": main,
        "workers_peak_mb": children,
        "bytes": Path(out).stat().st_size,
        "phases": phases,
    }


def child_openpyxl(url: str, out: str, limit: int) -> dict[str, object]:
    """openpyxl write-only: the same columns, level fills and formats, rows read from the database."""
    from zoneinfo import ZoneInfo

    from openpyxl import Workbook
    from openpyxl.cell.cell import WriteOnlyCell
    from openpyxl.styles.cell_style import StyleArray

    from server.xlsx import styles as look
    from server.xlsx.cellformat import DATETIME_FORMAT
    from server.xlsx.consolidate import ticket_columns

    zone = ZoneInfo("Asia/Shanghai")
    columns = ticket_columns("zh", False)
    keys = [c.key for c in columns[1:]]
    db = Database(url)
    started = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("全部投诉")
    ws.freeze_panes = "C2"
    ws.append([c.header for c in columns])
    # one style per level and kind, copied onto each cell (the fast idiom of server.xlsx.template)
    text_styles, date_styles = {}, {}
    for lv in Level:
        cell = WriteOnlyCell(ws, "")
        cell.fill = look.solid(look.LEVEL_FILL[lv])
        text_styles[lv.value] = StyleArray(cell._style)
        cell.number_format = DATETIME_FORMAT
        date_styles[lv.value] = StyleArray(cell._style)
    level_at = keys.index("level")
    t = tickets_table.c
    stmt = (
        select(BranchRow.code, *(t[k] for k in keys))
        .join(BranchRow, BranchRow.id == t.branch_id)
        .order_by(t.branch_id, t.ticket_id)
        .limit(limit)
    )
    rows = 0
    with db.read() as session:
        for row in session.execute(stmt.execution_options(yield_per=5000)):
            text, date = text_styles[row[level_at + 1]], date_styles[row[level_at + 1]]
            cells = []
            for value in row:
                if isinstance(value, datetime):
                    cell = WriteOnlyCell(ws, value.astimezone(zone).replace(tzinfo=None))
                    cell._style = StyleArray(date)
                else:
                    cell = WriteOnlyCell(ws, value if value != "" else None)
                    cell._style = StyleArray(text)
                cells.append(cell)
            ws.append(cells)
            rows += 1
    wb.save(out)
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "total_seconds": seconds,
        "cpu_seconds": cpu_seconds(),
        "main_peak_mb": peak_mb()[0],
        "bytes": Path(out).stat().st_size,
    }


def analysis_times(db: Database, tickets: int, limit: int) -> None:
    """The KPI and analysis sheets' data: counted by the database, and ticket by ticket (the old way)."""
    from server.services.analysis import analyse, reference_analysis
    from server.services.people import staff_figures

    def timed(work: Any) -> tuple[float, float]:
        """Wall-clock and CPU seconds of ``work`` in a read session of its own (its own snapshot)."""
        wall, cpu = time.perf_counter(), time.process_time()
        with db.read() as session:
            work(session)
        return time.perf_counter() - wall, time.process_time() - cpu

    rolled = timed(lambda session: analyse(session, None, PERIOD))  # rolls up the days not rolled up yet
    staff = timed(lambda session: staff_figures(session, None, PERIOD))
    new = timed(lambda session: analyse(session, None, PERIOD))
    print(
        f"figures' first reads (days not rolled up yet are counted and stored): analysis {rolled[0]:.1f} s "
        f"({rolled[1]:.1f} s CPU here), staff {staff[0]:.1f} s ({staff[1]:.1f} s CPU here)"
    )
    with db.read() as session:
        codes = list(session.scalars(select(BranchRow.code).order_by(BranchRow.code)))
        sample = None if tickets <= limit else codes[:1]
        wall, cpu = time.perf_counter(), time.process_time()
        reference_analysis(session, sample, PERIOD)
        old = time.perf_counter() - wall, time.process_time() - cpu
    scale = "" if sample is None else f" (branch {codes[0]} only, of {len(codes)})"
    print(f"analysis (KPI and analysis sheets), database-counted: {new[0]:.1f} s ({new[1]:.1f} s CPU here)")
    print(f"analysis per ticket (the old way){scale}: {old[0]:.1f} s ({old[1]:.1f} s CPU)")


def run_child(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/complaint-desk-bench-consolidate.db"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/complaint-desk-bench-consolidated.xlsx"))
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL: the database to fill and use (SQLAlchemy URL)")
    parser.add_argument("--reference-limit", type=int, default=200_000, help="baseline sample above")
    parser.add_argument("--one-process", action="store_true", help="also run without worker processes")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, out, number = args.child
        if kind == "consolidated":
            result = child_consolidated(url, out, int(number))
        else:
            result = child_openpyxl(url, out, int(number))
        print(json.dumps(result))
        return
    if args.database == "postgresql":
        if not args.url:
            parser.error("--database postgresql needs --url (a database it may fill)")
        url = args.url
    else:
        url = f"sqlite:///{args.db}"
    db = Database(url)
    db.upgrade()
    with db.read() as session:
        have = session.scalar(select(func.count()).select_from(tickets_table))
    if have != args.tickets:
        with db.write() as session:
            forget_days(session.connection())
            session.execute(figures_table.delete())
            session.execute(tickets_table.delete())
            session.execute(BranchRow.__table__.delete())
        started = time.perf_counter()
        generate(db, args.tickets)
        with db.write() as session:  # loaded around the one service: write the figure rows
            fill_figure_rows(session.connection(), None)
        print(f"generated {args.tickets:,} tickets into {url} in {time.perf_counter() - started:.0f} s")
    analysis_times(db, args.tickets, args.reference_limit)
    load = os.getloadavg()
    runs = [("consolidated (2 workers)", run_child("consolidated", url, str(args.out), "2"))]
    if args.one_process:
        runs.append(("one process", run_child("consolidated", url, str(args.out), "0")))
    base = run_child("openpyxl", url, str(args.out.with_suffix(".openpyxl.xlsx")), str(args.baseline_rows))
    print(f"{args.tickets:,} tickets, {BRANCHES} branches, period {PERIOD.label()}; "
          f"{len(tickets_table.c)} stored columns, 61 written")  # fmt: skip
    print(
        f"load average before the runs: {load[0]:.1f} on {os.cpu_count()} cores (other work slows the runs)"
    )
    print(
        f"{'writer':<26}{'rows':>10}{'seconds':>9}{'rows/s':>9}{'peak MB':>9}{'workers MB':>11}{'file MB':>9}"
    )
    base_rate = base["rows"] / base["total_seconds"]  # type: ignore[operator]
    for name, r in runs:
        rate = r["rows"] / r["sheets_seconds"]  # type: ignore[operator]
        print(
            f"{name + ' sheets':<26}{r['rows']:>10,}{r['sheets_seconds']:>9.1f}{rate:>9,.0f}"
            f"{r['main_peak_sheets_mb']:>9.0f}{r['workers_peak_mb']:>11.0f}{r['bytes'] / 1e6:>9.0f}"  # type: ignore[operator]
            f"   {rate / base_rate:.1f}x openpyxl"
        )
        print(f"{name + ' + analysis':<26}{'':>10}{r['total_seconds']:>9.1f}{'':>9}{r['main_peak_mb']:>9.0f}")
        if r["workers_peak_mb"] == 0:
            per_cpu = r["rows"] / r["sheets_cpu_seconds"]  # type: ignore[operator]
            print(f"    ticket sheets: {per_cpu:,.0f} rows per CPU second")
        print(f"    rows per sheet: {r['sheet_rows']}; CPU seconds in all: {r['cpu_seconds']:.0f}")
        print("    after the ticket sheets: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items()))  # type: ignore[attr-defined]
    print(
        f"{'openpyxl write-only':<26}{base['rows']:>10,}{base['total_seconds']:>9.1f}{base_rate:>9,.0f}"
        f"{base['main_peak_mb']:>9.0f}{'':>11}{base['bytes'] / 1e6:>9.0f}"  # type: ignore[operator]
        f"   ({base['rows'] / base['cpu_seconds']:,.0f} rows per CPU second)"  # type: ignore[operator]
    )
    print(f"load average after the runs: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
