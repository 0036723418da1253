"""Flag scan over a million stored tickets; print tickets/s, each scan's time and peak memory.

    python bench/scan.py                          # 1,000,000 tickets, SQLite (temporary file) and PostgreSQL
    python bench/scan.py -n 100000 --only sqlite

Setup (timed apart): 20 branches; tickets received over the year before
Wednesday 25 November 2026 10:00 (Shanghai), each moving through its
milestones at one of three paces (closed in 3 to 10 days, revisited a few days
later), one in twenty recent ones stuck at some stage, one in fifty cancelled;
places and customers that now and then form group incidents and repeat
complaints. Their computed columns and figures rows (``ticket_figures``) are
what the sync stored at each ticket's last change. Then, each in a fresh process:

1. the first scan ever (every unfinished ticket walked, the scan's plan
   built): the baseline;
2. the scheduled scan five minutes later;
3. the scan just after local midnight, when the day's deadlines and
   due-soon warnings all fall due at once (goal: under 10 s);
4. the scan after a branch pushed 1,000 edited tickets.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from complaints.enums import Category, Channel, Grade  # noqa: E402
from complaints.flags import evaluate  # noqa: E402
from complaints.model import MILESTONES as ALL_MILESTONES  # noqa: E402
from complaints.model import Ticket  # noqa: E402
from server import create_app  # noqa: E402
from server.storage.db import get_db  # noqa: E402
from server.storage.figures import fill_figure_rows  # noqa: E402
from server.storage.models import BranchRow, tickets_table  # noqa: E402
from server.storage.rows import STORED_TICKET_FIELDS, clock_for, computed_values, to_db  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZONE)
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BRANCHES = 20
STAGES = ("received", "acknowledged", "routed", "planned", "resolved", "feedback", "closed", "revisited")
# hours after receipt of each milestone, for a fast, a usual and a slow ticket
PACE = ((2, 3, 20, 50, 54, 70, 170), (5, 6, 45, 100, 110, 130, 230), (20, 24, 70, 200, 215, 240, 340))
MILESTONES = ALL_MILESTONES[1:]  # every milestone after receipt
DEPARTMENTS = {
    Category.NETWORK_FAULT: "网络部",
    Category.BILLING_DISPUTE: "市场部",
    Category.PRODUCT_TERMS: "市场部",
    Category.STAFF_ATTITUDE: "服务管理部",
    Category.HANDLING_ERROR: "服务管理部",
    Category.OTHER: "投诉管理岗",
}


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Start measuring the peak RSS afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def shape(rng: random.Random) -> tuple[datetime, int, int, Grade]:
    """Receipt time, the stage a ticket stops at (7: revisited), pace and grade.

    Tickets move on at their pace; one in twenty recent ones is stuck at some
    stage (these are the overdue ones); one in fifty is cancelled (stage -1).
    """
    age = rng.randrange(0, 365)
    received = datetime.combine(NOW.date() - timedelta(days=age), datetime.min.time(), ZONE)
    received += timedelta(hours=rng.randrange(8, 19))
    roll = rng.random()
    stop = -1 if roll < 0.02 else rng.randrange(0, 7) if roll < 0.07 and age <= 60 else 7
    return received, stop, rng.randrange(3), rng.choices(list(Grade), weights=(6, 3, 1))[0]


def milestones(received: datetime, stop: int, pace: int) -> dict[str, datetime]:
    """The milestones reached before now (at most ``stop`` of them), or a cancellation."""
    if stop < 0:
        return {"cancelled_at": received + timedelta(hours=5), "cancel_reason": "客户撤诉"}
    found = {}
    for name, hours in list(zip(MILESTONES, PACE[pace], strict=True))[:stop]:
        moment = received + timedelta(hours=hours)
        if moment >= NOW - timedelta(hours=1):
            break
        found[name] = moment
    return found


class Generator:
    """Ticket rows for the database, computed columns memoised by the fields they depend on."""

    def __init__(self, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.clock = clock_for("Asia/Shanghai", None)
        self.memo: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.places = [f"幸福路{n}号小区" for n in range(3000)]

    def fields(self, n: int) -> tuple[Ticket, tuple[Any, ...]]:
        received, stop, pace, grade = shape(self.rng)
        category = list(Category)[n % len(Category)]
        values: dict[str, Any] = milestones(received, stop, pace)
        if "routed_at" in values:
            values.update(department=DEPARTMENTS[category], investigator=f"{DEPARTMENTS[category]}-调查员1")
        if "resolved_at" in values:
            values.update(cause="设备老化", solution="已更换", safeguards="纳入巡检")
        hot = self.rng.random() < 0.02  # a few places and customers come back: groups and repeats
        ticket = Ticket(
            ticket_id=f"B{n % BRANCHES:02d}-{received:%Y%m%d}-{n:07d}",
            received_at=received,
            channel=Channel.HOTLINE,
            customer_name="客户",
            contact=f"138{self.rng.randrange(200) if hot else n:08d}",
            category=category,
            place=self.places[self.rng.randrange(30 if hot else 3000)],
            problem_time="每晚",
            service="家庭宽带",
            description="晚上八点到十一点宽带经常断线，重启光猫后十分钟又断",
            expectation="一周内恢复稳定",
            grade=grade,
            **values,
        )
        return ticket, (received, stop, pace, grade)

    def row(self, n: int, branch_ids: list[int]) -> dict[str, Any]:
        ticket, key = self.fields(n)
        computed = self.memo.get(key)
        if computed is None:
            moments = [ticket.received_at, ticket.cancelled_at, *(getattr(ticket, m) for m in MILESTONES)]
            last = max(m for m in moments if m is not None)  # computed as the sync did at the last change
            computed = self.memo[key] = computed_values(evaluate(ticket, self.clock, last))
        values = {k: to_db(k, getattr(ticket, k)) for k in STORED_TICKET_FIELDS}
        values.update(computed)
        values.update(
            sync_key=uuid.UUID(int=self.rng.getrandbits(128)).hex,
            branch_id=branch_ids[n % BRANCHES],
            version=1,
            change_seq=1,
            updated_at=NOW - timedelta(hours=1),
            updated_by="bench",
        )
        return values


def setup(url: str, n: int) -> None:
    app = create_app({"DATABASE_URL": url, "CLOCK": lambda: NOW})
    with app.app_context():
        db = get_db()
        db.upgrade()
        with db.write() as session:
            branches = [
                BranchRow(
                    code=f"B{b:02d}",
                    name=f"分公司{b}",
                    timezone="Asia/Shanghai",
                    change_seq=1,
                    created_at=NOW,
                )
                for b in range(BRANCHES)
            ]
            session.add_all(branches)
            session.flush()
            branch_ids = [b.id for b in branches]
        generator = Generator()
        began = time.perf_counter()
        with db.engine.begin() as conn:  # a bulk load: indexes are built once, afterwards
            for index in tickets_table.indexes:
                index.drop(conn)
        for start in range(0, n, 20_000):
            rows = [generator.row(i, branch_ids) for i in range(start, min(n, start + 20_000))]
            with db.engine.begin() as conn:
                conn.execute(insert(tickets_table), rows)
        with db.engine.begin() as conn:
            for index in tickets_table.indexes:
                index.create(conn)
            fill_figure_rows(conn, None)  # each ticket's figures row, as the sync stores it with the ticket
        if not db.is_sqlite:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE tickets"))
        seconds = time.perf_counter() - began
        print(f"  setup: {n:,} tickets in {seconds:.0f} s ({len(generator.memo):,} distinct shapes)")
        db.dispose()


def edit_tickets(url: str, count: int, at: datetime) -> None:
    """A branch pushes ``count`` edited tickets (its latest) through the sync."""
    from sqlalchemy import select

    from server.services.changes import Actor, Change
    from server.services.sync import parse_push, push
    from server.storage.models import TicketRow

    app = create_app({"DATABASE_URL": url, "CLOCK": lambda: at})
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "B00"))
        assert branch is not None
        rows = session.scalars(
            select(TicketRow)
            .where(TicketRow.branch_id == branch.id)
            .order_by(TicketRow.received_at.desc())
            .limit(count)
        ).all()
        device = Actor("bench-device", "branch", "api")
        ctx = Change(session, branch, device, at, clock_for(branch.timezone, None))
        _ = ctx.seq
        items = [
            {
                "sync_key": r.sync_key,
                "base_version": r.version,
                "fields": {"expectation": "尽快上门检修并补偿"},
            }
            for r in rows
        ]
        push(ctx, parse_push({"tickets": items}))


def measure(url: str, at: datetime) -> dict[str, Any]:
    """Run one scan at ``at`` in this (fresh) process; its figures as JSON."""
    from server.scheduling.scan import scan_flags

    app = create_app({"DATABASE_URL": url, "CLOCK": lambda: at})
    with app.app_context():
        gc.collect()
        before = rss_mb("VmRSS")
        reset_peak()
        began, cpu = time.perf_counter(), time.process_time()
        report = scan_flags(at)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        peak = rss_mb("VmHWM")
        get_db().dispose()
    return {"seconds": elapsed, "cpu": cpu, "evaluated": report.evaluated, "written": report.written,
            "escalated": report.escalated, "peak_mb": peak, "before_mb": before}  # fmt: skip


def child(url: str, phase: str, at: datetime) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", phase, "--url", url, "--at", at.isoformat()]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(label: str, url: str, n: int) -> None:
    print(f"{label}: {n:,} tickets")
    setup(url, n)
    midnight = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), ZONE) + timedelta(
        seconds=5
    )
    phases = [
        ("first scan (walks every unfinished ticket)", "scan", NOW),
        ("scheduled scan 5 minutes later", "scan", NOW + timedelta(minutes=5)),
        ("scan just after local midnight", "scan", midnight),
        ("scan after 1,000 pushed edits", "edit+scan", midnight + timedelta(minutes=5)),
    ]
    baseline = None
    for title, phase, at in phases:
        f = child(url, phase, at)
        baseline = baseline or f["seconds"]
        rate = f["evaluated"] / f["seconds"]
        print(f"  {title}: {f['seconds']:.2f} s ({f['cpu']:.3f} s CPU) = {n / f['seconds']:,.0f} "
              f"stored tickets/s, {f['seconds'] / baseline:.3f}x the first scan")  # fmt: skip
        print(f"      {f['evaluated']:,} evaluated ({rate:,.0f}/s), {f['written']:,} written, "
              f"{f['escalated']:,} raised by the level rules; peak RSS {f['peak_mb']:,.0f} MB "
              f"({f['before_mb']:,.0f} MB before the scan)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--at", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        at = datetime.fromisoformat(args.at)
        if args.child == "edit+scan":
            edit_tickets(args.url, 1_000, at - timedelta(minutes=1))
        print(json.dumps(measure(args.url, at)))
        return
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.n)
    if args.only != "sqlite":
        import psycopg

        name = f"bench_scan_{uuid.uuid4().hex[:8]}"
        admin = PG.replace("+psycopg", "")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            run("PostgreSQL", PG.rsplit("/", 1)[0] + f"/{name}", args.n)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
