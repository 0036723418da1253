"""Check deadlines on 10,000 and 50,000-row Tickets sheets through ``POST /xlwings/check_deadlines``.

    python bench/macros.py                  # 10,000 and 50,000 tickets
    python bench/macros.py --rows 2000

For each size, three presses: the first on a workbook whose computed columns
were never filled (every row is written and painted), the second on the
workbook as the first left it (nothing changed: only the message), the third
after 1% of the rows were edited (a media exposure typed: those rows turn red).
Each prints the payload as the web client sends it (only the sheets the macro
reads, `server.remote.needs`; gzipped, as ``CompressionStream`` does): its bytes
as JSON and gzipped, the actions that come back (count, by kind, response
bytes) and the server's time for the request, timed in-process around it
(inflating, JSON, token, the remote engine, reading the sheets, the rules, the
writes). The baseline is the read alone: a Book over the payload and reading
the sheets into tickets. The server runs with its default limits (16 MB as
sent, ``MAX_INFLATED_LENGTH`` once inflated): every press must be answered,
not 413. A JSON payload over 16 MB is marked: a client without
``CompressionStream`` would get 413 for it.

    python bench/macros.py --engine xlwings  # xlwings PRO's engine instead of the built-in one

``--engine xlwings`` needs XLWINGS_LICENSE_KEY (``noncommercial`` is set if
missing: benchmarking is not commercial use).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addin.sheet import read_branch  # noqa: E402
from complaints.cells import write_cell  # noqa: E402
from complaints.enums import Category, Channel, Grade, Level  # noqa: E402
from complaints.model import Ticket  # noqa: E402
from complaints.routing import default_routing_table  # noqa: E402
from complaints.schema import CONFLICTS, LOG, ROUTING, SETTING_KEYS, SETTINGS, SYNC, TASKS, TICKETS  # noqa: E402
from server import create_app  # noqa: E402
from server.auth import BRANCH, issue_token  # noqa: E402
from server.remote import engine as own_engine  # noqa: E402
from server.remote.needs import needs  # noqa: E402
from server.remote.pages import _remote_engine  # noqa: E402
from server.storage.db import get_db  # noqa: E402
from server.storage.models import BranchRow  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai
PLACES = [
    f"{name}小区{n}栋" for name in ("阳光花园", "滨海新城", "锦绣江南", "翠湖山庄") for n in range(1, 500)
]


def tickets(count: int, rng: random.Random) -> list[Ticket]:
    """Tickets as a branch has them: most blue and open, some yellow or red, a few groups, every stage."""
    out = []
    for n in range(1, count + 1):
        received = NOW - timedelta(minutes=rng.randint(60, 60 * 24 * 45))
        ticket = Ticket(
            ticket_id=f"SZ01-{received.astimezone(ZONE):%Y%m%d}-{n:05d}",
            received_at=received.replace(microsecond=0),
            channel=rng.choices(list(Channel), weights=(60, 20, 15, 2, 1, 1, 1))[0],
            customer_name=f"客户{n}",
            contact=f"138{rng.randint(0, 10**8 - 1):08d}",
            category=rng.choice(list(Category)),
            place=rng.choice(PLACES),
            problem_time="每晚20:00-23:00",
            service="家庭宽带",
            description="每晚八点到十一点宽带断线，重启光猫后十分钟又断",
            expectation="一周内恢复稳定上网",
            grade=rng.choice(list(Grade)),
            level=rng.choices(list(Level), weights=(90, 8, 2))[0],
        )
        at = ticket.received_at
        for name in ("acknowledged_at", "plan_at", "resolved_at", "feedback_at", "closed_at")[
            : rng.randint(0, 5)
        ]:
            at = min(at + timedelta(hours=rng.randint(2, 40)), NOW)
            setattr(ticket, name, at)
        if ticket.acknowledged_at is not None:
            ticket.routed_at, ticket.department, ticket.investigator = at, "网络部", "网络部-调查员1"
        out.append(ticket)
    return out


def sent(value: object) -> object:
    """A cell value as an Excel client sends it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return value


def payload(rows: list[Ticket]) -> dict[str, Any]:
    """The payload of a zh branch workbook holding ``rows`` (computed columns never filled)."""

    def sheet(schema: Any, body: list[list[object]]) -> dict[str, Any]:
        values = [schema.headers("zh"), *body]
        return {"name": schema.title("zh"), "values": values, "pictures": [], "tables": []}

    tickets_sheet = sheet(
        TICKETS,
        [[sent(write_cell(c, getattr(t, c.key, None), "zh", ZONE)) for c in TICKETS.columns] for t in rows],
    )
    last = len(rows) + 1
    tickets_sheet["tables"] = [{"name": "TicketsTable", "range_address": f"$A$1:$BK${last}"}]
    routing = [[r.category.zh, r.department, r.head, r.head_email, ", ".join(r.investigators)]
               for r in default_routing_table().rules.values()]  # fmt: skip
    values = {"branch": "SZ01", "language": "zh", "timezone": "Asia/Shanghai"}
    settings = [[zh, values.get(key, ""), key] for key, zh, _en in SETTING_KEYS]
    sheets = [
        tickets_sheet,
        sheet(TASKS, []),
        sheet(LOG, []),
        sheet(ROUTING, routing),
        sheet(SETTINGS, settings),
        sheet(CONFLICTS, []),
        sheet(SYNC, [["schema_version", "1"], ["branch", "SZ01"], ["cursor", ""]]),
    ]
    book = {"name": "SZ01.xlsx", "active_sheet_index": 0, "selection": "A1"}
    return {"client": "VBA", "version": version("xlwings"), "book": book, "names": [], "sheets": sheets}


def apply_values(data: dict[str, Any], actions: list[dict[str, Any]]) -> None:
    """Put the written values into the payload, as the workbook would hold them for the next press."""
    for action in actions:
        if action["func"] != "setValues":
            continue
        values = data["sheets"][action["sheet_position"]]["values"]
        for i, row in enumerate(action["values"]):
            r = action["start_row"] + i
            while len(values) <= r:
                values.append([""] * len(values[0]))
            for j, value in enumerate(row):
                text = value if isinstance(value, str) else None
                if text and len(text) in (10, 19) and text[4:5] == "-" and text[7:8] == "-":
                    value = f"{text[:10]}T{text[11:19] or '00:00:00'}.000Z"
                values[r][action["start_column"] + j] = value


def sent_body(data: dict[str, Any], macro: str) -> bytes:
    """The JSON commands.js sends for ``macro``: the sheets it does not read by name only."""
    need = needs(macro)
    titles = {t.casefold() for t in need["sheets"]}
    sheets = [
        s
        if need["all"] or s["name"].casefold() in titles
        else {**s, "values": [[]], "tables": [], "omitted": True}
        for s in data["sheets"]
    ]
    return json.dumps({**data, "sheets": sheets}, ensure_ascii=False).encode()


def press(client: Any, token: str, body: bytes) -> tuple[float, int, list[dict[str, Any]]]:
    """Check deadlines with ``body`` gzipped, as a browser with CompressionStream sends it."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    began = time.perf_counter()
    response = client.post("/xlwings/check_deadlines", data=gzip.compress(body, 6), headers=headers)
    elapsed = time.perf_counter() - began
    assert response.status_code == 200, f"{response.status_code}: {response.get_data(as_text=True)[:500]}"
    return elapsed, len(response.get_data()), response.get_json()["actions"]


def read_only(data: dict[str, Any], engine: str) -> float:
    began = time.perf_counter()
    copied = json.loads(json.dumps(data))
    if engine == "own":
        read_branch(own_engine.Book(copied))
    else:
        with _remote_engine().Book(json=copied) as book:
            read_branch(book)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="10000,50000", help="comma-separated sizes")
    parser.add_argument("--engine", choices=("own", "xlwings"), default="own")
    args = parser.parse_args()
    if args.engine == "xlwings":
        os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    for count in (int(n) for n in args.rows.split(",")):
        bench(count, args.engine)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:,.0f} MB")


def edit(data: dict[str, Any], share: float, rng: random.Random) -> int:
    """Type a media exposure into ``share`` of the ticket rows (as a coordinator would); return how many."""
    values = data["sheets"][0]["values"]
    column = values[0].index(TICKETS.column("media_exposure").zh)
    chosen = rng.sample(range(1, len(values)), max(1, int((len(values) - 1) * share)))
    for r in chosen:
        values[r][column] = "是"
    return len(chosen)


def bench(count: int, engine: str) -> None:
    data = payload(tickets(count, random.Random(20260320)))
    with tempfile.TemporaryDirectory() as tmp:
        config = {"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "CLOCK": lambda: NOW, "REMOTE_ENGINE": engine}
        app = create_app(config)  # the default limits: the press must not be 413
        with app.app_context():
            get_db().upgrade()
            with get_db().write() as session:
                branch = BranchRow(code="SZ01", timezone="Asia/Shanghai", change_seq=0, created_at=NOW)
                session.add(branch)
                session.flush()
                token = issue_token(session, BRANCH, NOW, branch=branch)[1]
        client = app.test_client()
        limit = app.config["MAX_CONTENT_LENGTH"]
        baseline = read_only(data, engine)
        print(
            f"Check deadlines, {count:,} tickets (zh workbook), "
            f"POST /xlwings/check_deadlines in-process, {engine} engine"
        )
        print(f"  read only (baseline): {baseline:6.2f} s")
        presses = ("first press (computed columns empty)", "unchanged (second press)", "1% of rows edited")
        for label in presses:
            if label.startswith("1%"):
                edited = edit(data, 0.01, random.Random(7))
                label = f"{edited:,} rows edited (1%)"
            body = sent_body(data, "check_deadlines")
            zipped = len(gzip.compress(body, 6))
            seconds, answer, actions = press(client, token, body)
            kinds = ", ".join(f"{n} {func}" for func, n in Counter(a["func"] for a in actions).most_common())
            over = "  (plain, it would be over the 16 MB limit: 413)" if len(body) > limit else ""
            print(f"  {label}:")
            print(f"    payload {len(body):>12,} bytes JSON, {zipped:>10,} bytes gzipped (sent: 200){over}")
            print(f"    actions {len(actions):>5,} ({kinds})")
            ratio = seconds / baseline
            print(
                f"    answer  {answer:>12,} bytes   server {seconds:6.2f} s = {ratio:4.1f} × baseline", end=""
            )
            print(f" = {count / seconds:,.0f} tickets/s")
            apply_values(data, actions)
        with app.app_context():
            get_db().dispose()


if __name__ == "__main__":
    main()
