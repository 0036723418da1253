"""Demo data: three branches and a few hundred tickets in every state and level.

`load` creates the branches SZ01 / GZ01 / FS01, a head-office user and a token
per branch, and loads tickets made from ``data/sample_complaints.csv`` through
the same sync code a branch uses (so deadlines, flags and history are real).
``flask --app server demo`` (`server.cli.demo`) runs it on an empty database.
"""

from __future__ import annotations

import csv
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from complaints.enums import Category, Channel, Grade, Level, Satisfaction
from server import clock
from server.auth import BRANCH, HEAD_OFFICE, hash_password, issue_token
from server.services.changes import SYSTEM, Actor, Change
from server.services.sync import Push, TicketEdit, level_rules, push
from server.storage.accounts import create_branch, create_user, find_branch
from server.storage.db import get_db
from server.storage.rows import clock_for

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "sample_complaints.csv"
BRANCHES = (("SZ01", "深圳福田分公司"), ("GZ01", "广州天河分公司"), ("FS01", "佛山禅城分公司"))
ALIASES = {"service_attitude": "staff_attitude", "website": "app"}
STAGES = ("received", "acknowledged", "routed", "planned", "resolved", "feedback", "closed", "revisited")
DEPARTMENTS = {
    Category.NETWORK_FAULT: "网络部",
    Category.BILLING_DISPUTE: "市场部",
    Category.PRODUCT_TERMS: "市场部",
    Category.STAFF_ATTITUDE: "服务管理部",
    Category.HANDLING_ERROR: "服务管理部",
    Category.OTHER: "投诉管理岗",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
COORDINATORS = ("王芳", "李娜")
"""The complaint coordinators of each demo branch, taking tickets in turn."""


def samples() -> list[dict[str, str]]:
    with SAMPLES.open(encoding="utf-8") as f:
        return [
            {**row, "category": ALIASES.get(row["category"], row["category"]),
             "channel": ALIASES.get(row["channel"], row["channel"])}
            for row in csv.DictReader(f)
        ]  # fmt: skip


def demo_ticket(rng: random.Random, code: str, n: int, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """One ticket's fields, at a random stage of its life, received within the last 60 days."""
    sample = rng.choice(samples())
    category = Category(sample["category"])
    day = (now.astimezone(zone) - timedelta(days=rng.randrange(0, 60))).date()
    received = datetime(day.year, day.month, day.day, rng.randrange(8, 19), rng.randrange(60), tzinfo=zone)
    stage = rng.choices(STAGES, weights=(6, 5, 8, 10, 4, 4, 6, 10))[0]
    at = received
    fields: dict[str, Any] = {
        "ticket_id": f"{code}-{received:%Y%m%d}-{n:04d}",
        "received_at": received,
        "channel": Channel(sample["channel"]),
        "customer_name": rng.choice(SURNAMES) + rng.choice(("先生", "女士")),
        "contact": f"13{rng.randrange(10**9):09d}",
        "category": category,
        "place": sample["place"],
        "description": sample["description"],
        "expectation": sample["expectation"],
        "service": "家庭宽带" if category is Category.NETWORK_FAULT else "移动业务",
        "problem_time": "近一周",
        "grade": rng.choices(list(Grade), weights=(6, 3, 1))[0],
        "coordinator": COORDINATORS[n % len(COORDINATORS)],
    }

    def step(name: str, hours: tuple[int, int]) -> None:
        nonlocal at
        at = at + timedelta(hours=rng.randrange(*hours))
        if at < now:
            fields[name] = at

    order = STAGES.index(stage)
    if order >= 1:
        step("acknowledged_at", (1, 20))
    if order >= 2:
        step("routed_at", (0, 3))
        fields["department"] = DEPARTMENTS[category]
        fields["investigator"] = f"{DEPARTMENTS[category]}-调查员{rng.randrange(1, 4)}"
    if order >= 3:
        step("plan_at", (4, 70))
    if order >= 4:
        step("resolved_at", (10, 150))
        fields.update(
            cause="设备老化" if category is Category.NETWORK_FAULT else "操作失误", solution="已处理"
        )
    if order >= 5:
        step("feedback_at", (1, 30))
        fields["safeguards"] = "纳入月度巡检"
    if order >= 6:
        step("closed_at", (1, 24))
        fields["root_cause"] = "老旧设备容量不足" if category is Category.NETWORK_FAULT else "培训不到位"
        fields["improvement"] = "扩容并建立预警机制"
        fields["improvement_done"] = rng.random() < 0.6
    if order >= 7:
        step("revisited_at", (72, 140))
        if "revisited_at" in fields:
            fields["satisfaction"] = rng.choices(list(Satisfaction), weights=(7, 2, 1))[0]
    roll = rng.random()
    if roll < 0.05:
        fields.update(level=Level.RED, media_exposure=True, level_reason="客户在微博发帖曝光")
    elif roll < 0.15:
        fields.update(level=Level.YELLOW, level_reason="同一客户多次投诉未解决")
    if rng.random() < 0.03 and "resolved_at" not in fields:
        fields.update(cancelled_at=received + timedelta(hours=5), cancel_reason="客户撤诉")
    fields["training_case"] = order == 7 and rng.random() < 0.1
    return {k: v for k, v in fields.items() if not (isinstance(v, datetime) and v > now)}


def load(tickets_per_branch: int = 120, seed: int = 2026) -> dict[str, str]:
    """Create the demo branches, user and tickets; return the plain tokens (shown once)."""
    db = get_db()
    now = clock.now()
    rng = random.Random(seed)
    tokens: dict[str, str] = {}
    with db.write() as session:
        user = create_user(session, "hq", hash_password("hq-demo"), HEAD_OFFICE, "", now)
        tokens["hq"] = issue_token(session, HEAD_OFFICE, now, user=user, label="demo")[1]
        for code, name in BRANCHES:
            branch = create_branch(session, code, name, "Asia/Shanghai", now)
            tokens[code] = issue_token(session, BRANCH, now, branch=branch, label="demo")[1]
    for code, _ in BRANCHES:
        with db.write() as session:
            branch = find_branch(session, code)
            clock_ = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
            change = Change(session, branch, Actor("demo", SYSTEM, "demo"), now, clock_, level_rules())
            zone = ZoneInfo(branch.timezone)
            edits = Push(
                tickets=[
                    TicketEdit(uuid.uuid4().hex, None, demo_ticket(rng, code, n, now, zone))
                    for n in range(1, tickets_per_branch + 1)
                ]
            )
            push(change, edits)
    return tokens
