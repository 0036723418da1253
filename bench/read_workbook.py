"""Benchmark: parse a large branch workbook with our reader and with openpyxl read-only, same file, same run.

    python bench/read_workbook.py                 # 100,000 tickets, generated with the template
    python bench/read_workbook.py --rows 20000 --path /tmp/SZ01-20k.xlsx --keep

Each reader runs in its own child process, so that its peak memory (the
process's maximum resident set size, which counts calamine's Rust allocations
too) is its own; the figure shown is the peak above the child's baseline
after imports. Readers compared:

* ``ours``               - `server.xlsx.reader.read_workbook` (calamine engine): every
                           cell parsed into Ticket / Task / LogEntry, validated.
* ``ours (openpyxl)``    - the same reader on its openpyxl read-only engine.
* ``openpyxl read-only`` - `load_workbook(read_only=True)` iterating the Tickets
                           sheet's values and nothing more (the baseline).
* ``calamine raw``       - python-calamine iterating the Tickets sheet's values.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from complaints.enums import Category, Channel, Flag, Grade, Level, Status  # noqa: E402
from complaints.model import Ticket  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI)
TICKETS_SHEET = "投诉单"
READERS = {
    "ours": "ours",
    "ours-openpyxl": "ours (openpyxl)",
    "openpyxl-readonly": "openpyxl read-only",
    "calamine-raw": "calamine raw",
}
DESCRIPTIONS = (
    "晚上八点到十一点宽带经常断线，重启光猫后十分钟又断",
    "手机在地下停车场完全没有信号，打不出电话",
    "套餐外流量费用不合理，没有收到任何提醒短信",
    "营业员态度冷淡，办理携号转网时反复让我排队",
    '=A2&"x" 客户原话',
    "+86 138 0013 8000 回电",
)


def tickets(count: int, seed: int = 7) -> Iterator[Ticket]:
    """``count`` realistic tickets, milestones in order, streamed one by one."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, 0, tzinfo=SHANGHAI)
    for n in range(1, count + 1):
        received = start + timedelta(minutes=4 * n + rng.randint(0, 3))
        at = received
        stage: dict[str, datetime] = {}
        for name in ("acknowledged_at", "plan_at", "resolved_at", "feedback_at", "closed_at")[
            : rng.randint(0, 5)
        ]:
            at += timedelta(minutes=rng.randint(10, 1800))
            stage[name] = at
        yield Ticket(
            ticket_id=f"SZ01-{received:%Y%m%d}-{n:06d}",
            received_at=received,
            branch="SZ01",
            sync_key=f"{rng.getrandbits(128):032x}",
            channel=rng.choice(list(Channel)),
            customer_name=rng.choice(["张先生", "李女士", "王先生", "赵女士"]),
            contact=f"138{rng.randint(0, 99_999_999):08d}",
            category=rng.choice(list(Category)),
            place=rng.choice(["阳光花园小区3栋", "滨江路营业厅附近", "科技园A座"]),
            problem_time="每晚20:00-23:00",
            service="家庭宽带",
            description=rng.choice(DESCRIPTIONS),
            expectation="一周内恢复稳定上网",
            grade=rng.choice(list(Grade)),
            level=rng.choice(list(Level)),
            media_exposure=rng.random() < 0.05,
            department=rng.choice(["网络部", "市场部", "服务管理部"]),
            investigator="调查员1",
            objection_count=rng.randint(0, 2),
            version=rng.randint(0, 20),
            status=rng.choice(list(Status)),
            flags=frozenset(rng.sample(list(Flag), rng.randint(0, 3))),
            **stage,
        )


def generate(path: Path, rows: int) -> float:
    """Write a branch workbook with ``rows`` tickets using the template (streaming); return seconds."""
    from server.xlsx.template import build_workbook

    began = time.perf_counter()
    build_workbook("SZ01", "zh", tickets=tickets(rows), write_only=True).save(path)
    return time.perf_counter() - began


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(reader: str, path: Path) -> dict[str, float]:
    """Run one reader on ``path`` in this process and measure it."""
    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    from server.xlsx.reader import read_workbook

    baseline = peak_rss_mib()
    began = time.perf_counter()
    cpu_began = time.process_time()
    if reader in ("ours", "ours-openpyxl"):
        book = read_workbook(path, now=NOW, engine="openpyxl" if reader == "ours-openpyxl" else "calamine")
        rows = len(book.tickets)
    elif reader == "openpyxl-readonly":
        workbook = load_workbook(path, read_only=True)
        ws = workbook[TICKETS_SHEET]
        ws.reset_dimensions()
        rows = sum(1 for _ in ws.iter_rows(min_row=2, values_only=True))
        workbook.close()
    else:
        with CalamineWorkbook.from_path(path) as workbook:
            rows = sum(1 for _ in workbook.get_sheet_by_name(TICKETS_SHEET).iter_rows()) - 1
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    return {"rows": rows, "seconds": seconds, "cpu": cpu, "peak_mib": peak_rss_mib() - baseline}


def run_child(reader: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", reader, "--path", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{READERS[reader]} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="tickets to generate (default 100,000)")
    parser.add_argument("--path", type=Path, help="workbook to read; generated if missing")
    parser.add_argument("--keep", action="store_true", help="keep the generated workbook")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated: " + ", ".join(READERS))
    parser.add_argument("--child", choices=list(READERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.path)))
        return

    workdir = None
    path = args.path
    if path is None:
        workdir = tempfile.TemporaryDirectory()
        path = Path(workdir.name) / f"SZ01-{args.rows}.xlsx"
    if not path.exists():
        print(f"generating {args.rows:,} tickets with the template into {path} ...", flush=True)
        print(
            f"  done in {generate(path, args.rows):.1f} s, {path.stat().st_size / 2**20:.1f} MiB", flush=True
        )
    try:
        results = {}
        for reader in args.readers.split(","):
            results[reader] = run_child(reader, path)
            r = results[reader]
            print(
                f"  {READERS[reader]:<20} {r['rows']:>9,} rows in {r['seconds']:7.2f} s "
                f"({r['cpu']:.2f} s CPU)",
                flush=True,
            )
        base = results.get("openpyxl-readonly")
        print()
        print(
            f"{'reader':<20} {'rows':>9} {'seconds':>8} {'CPU s':>6} {'rows/s':>9} {'peak MiB':>9} "
            f"{'vs openpyxl ro':>15}"
        )
        for reader, r in results.items():
            speed = r["rows"] / r["seconds"]
            ratio = f"{base['seconds'] / r['seconds']:.1f}x" if base else "-"
            print(
                f"{READERS[reader]:<20} {r['rows']:>9,} {r['seconds']:>8.2f} {r['cpu']:>6.2f} {speed:>9,.0f} "
                f"{r['peak_mib']:>9.0f} {ratio:>15}"
            )
        counts = {r["rows"] for r in results.values()}
        if len(counts) != 1:
            print(f"\nWARNING: readers disagree on the row count: {counts}")
    finally:
        if workdir is not None and not args.keep:
            workdir.cleanup()
        elif workdir is not None:
            print(f"\nkept {path}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "error")
    main()
