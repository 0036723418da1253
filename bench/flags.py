"""Compute flags for many generated tickets; print tickets/s and peak memory.

    python bench/flags.py            # 1,000,000 tickets
    python bench/flags.py -n 100000

Tickets are generated in batches of 10,000 (never one list in memory; generation is not timed) with
milestones spread over 2026, so the calendar, every clock and the text checks
all run. The baseline, measured in the same run on the same tickets, is the
deadline computation alone; the ratio shows what the flag logic costs on top.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from complaints.calendar import WorkCalendar  # noqa: E402
from complaints.enums import Category, Channel, Grade  # noqa: E402
from complaints.flags import evaluate  # noqa: E402
from complaints.model import MILESTONES as ALL_MILESTONES  # noqa: E402
from complaints.model import Ticket  # noqa: E402
from complaints.sla import SlaClock  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZONE)
MILESTONES = ALL_MILESTONES[1:]  # every milestone after receipt
TEXTS = (
    "晚上八点到十一点宽带经常断线，重启光猫后十分钟又断",
    "网络卡",
    "上个月话费多扣了50元",
    "营业员态度不好",
)


def batches(n: int, size: int = 10_000) -> Iterator[list[Ticket]]:
    """The tickets in lists of ``size``, so generation stays outside the timed loops."""
    batch: list[Ticket] = []
    for ticket in tickets(n):
        batch.append(ticket)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def tickets(n: int, seed: int = 7) -> Iterator[Ticket]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, 8, 0, tzinfo=ZONE)
    categories, channels, grades = list(Category), list(Channel), list(Grade)
    for i in range(n):
        received = start + timedelta(minutes=rng.randrange(0, 320 * 24 * 60))
        fields: dict[str, object] = {}
        moment = received
        for name in MILESTONES[: rng.randrange(0, len(MILESTONES) + 1)]:
            moment += timedelta(hours=rng.randrange(1, 72))
            fields[name] = moment
        yield Ticket(
            ticket_id=f"SZ{i % 50:02d}-{i:08d}",
            received_at=received,
            channel=channels[i % len(channels)],
            customer_name="客户",
            contact=f"138{i:08d}",
            category=categories[i % len(categories)],
            place="阳光花园" if i % 3 else "",
            problem_time="每晚",
            service="宽带",
            description=TEXTS[i % len(TEXTS)],
            expectation="尽快恢复",
            grade=grades[i % len(grades)],
            **fields,  # type: ignore[arg-type]
        )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1_000_000)
    args = parser.parse_args()
    clock = SlaClock(WorkCalendar())

    baseline = elapsed = 0.0
    counts: Counter[str] = Counter()
    for batch in batches(args.n):
        began = time.perf_counter()
        for ticket in batch:
            clock.deadlines(ticket)
        baseline += time.perf_counter() - began
        began = time.perf_counter()
        for ticket in batch:
            for flag in evaluate(ticket, clock, NOW).flags:
                counts[flag.value] += 1
        elapsed += time.perf_counter() - began

    print(f"tickets:            {args.n:,}")
    print(f"deadlines only:     {args.n / baseline:,.0f} tickets/s ({baseline:.1f} s)  [baseline]")
    rate = args.n / elapsed
    print(f"flags (evaluate):   {rate:,.0f} tickets/s ({elapsed:.1f} s)  ratio {elapsed / baseline:.2f}x")
    print(f"peak memory (RSS):  {peak_mb():,.0f} MB")
    print("flags raised:       " + ", ".join(f"{k} {v:,}" for k, v in counts.most_common(6)))


if __name__ == "__main__":
    main()
