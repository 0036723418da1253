"""Load: many branches pressing Sync at once against real gunicorn workers; errors, lost edits, latency.

    python bench/load.py                                   # 50 branches × 300 s, 4 workers, PostgreSQL
    python bench/load.py --branches 10 --seconds 20        # the CI profile (tests/battery/)
    python bench/load.py --database sqlite                 # the same on a SQLite file, for comparison

Every run makes a fresh database (PostgreSQL: a new database on the server of
``TEST_POSTGRES_URL``, dropped afterwards; SQLite: a temporary file), migrates
it, creates one branch and one token per simulated branch and a head-office
user, and starts ``gunicorn --workers N`` on a free loopback port with the
per-token rate limit switched off (``FLASK_RATE_LIMIT_PER_MINUTE=0``: the load
is the point here, the limit has its own test).

Each simulated branch behaves like the workbook's Sync button (addin/syncing.py):
one ``POST /api/sync`` per press, carrying the rows changed since the last
press — sometimes a new ticket, edits of one to three tickets made on the
version it last pulled (the whole editable row is sent, as a workbook does),
a log entry — with its cursor, and applying the pull in the answer. Every
request has its own ``Idempotency-Key``; a request that gets no answer
(connection error, timeout) or a 5xx is sent again unchanged with the same
key, as the add-in does with its pending request. In 5 % of presses the answer
is thrown away as if lost on the way and the request is resent: the second
answer must equal the first. A pushed row that meets a conflict is fetched
again (``GET /api/tickets/<key>``), as the add-in does. Meanwhile a head-office
client escalates tickets (each at most twice: blue → yellow → red).

At the end the database is read directly: every acknowledged new ticket,
every acknowledged field value (the last one per ticket and field) and every
acknowledged log entry must be there, every acknowledged edit must be in the
history exactly once, the log holds exactly the acknowledged entries, and
every acknowledged escalation must still show. Printed: requests, throughput
(requests/s, rows/s), latency p50/p95/p99 per request kind, errors, lost.

Clients: ``--processes`` worker processes (default 2), each running its share
of branches as threads on blocking HTTP; request bodies are serialised once
and resent byte for byte, so the clients use a small part of the CPU they
share with the server (their CPU time is printed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from complaints.wire import EDITABLE  # noqa: E402

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EDITED_FIELDS = ("cause", "solution", "safeguards", "suggestions")
"""Fields the branches edit (head office only escalates, so no conflict is expected, but one is handled)."""
KINDS = ("push", "pull", "resend", "fetch", "escalate")
MAX_ATTEMPTS = 6


@dataclass
class LoadOptions:
    branches: int = 50
    seconds: float = 300.0
    workers: int = 4
    database: str = "postgresql"
    processes: int = 2
    tickets: int = 10
    """Tickets each branch creates in its first Sync (head office escalates among these)."""
    escalations_per_second: float = 2.0
    lost_answers: float = 0.05
    think: float = 0.0
    """Seconds a branch waits between presses (0: press again at once)."""
    seed: int = 1


@dataclass
class LoadResult:
    options: LoadOptions
    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """created, edits, log, pulled, conflicts, network_retries, lost_answers, escalations."""
    lost: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())


# --- one simulated branch ----------------------------------------------------------------------


class Branch:
    """A branch workbook and its Sync button: local rows, cursor, and what the server acknowledged."""

    def __init__(self, spec: dict[str, Any], url: str, options: LoadOptions) -> None:
        self.code: str = spec["code"]
        self.url = url
        self.options = options
        self.rng = random.Random(spec["seed"])
        self.session = requests.Session()
        self.headers = {
            "Authorization": f"Bearer {spec['token']}",
            "Content-Type": "application/json",
            "X-Device": f"load-{self.code}",
        }
        self.initial_keys: list[str] = spec["initial_keys"]
        self.rows: dict[str, dict[str, Any]] = {}
        self.cursor = 0
        self.number = 0
        self.received_at = spec["received_at"]
        self.created: list[str] = []
        self.acked_fields: dict[str, dict[str, str]] = defaultdict(dict)
        self.acked_log: dict[str, str] = {}
        self.acked_edits: list[tuple[str, str, str]] = []
        """Every acknowledged edit (ticket, field, value): each must be in the history exactly once."""
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self.statuses: dict[int, int] = defaultdict(int)
        self.errors: list[str] = []
        self.timed = False
        self.presses = 0
        self.last_network_error = ""

    # transport --------------------------------------------------------------------------------

    def _post(self, data: bytes, key: str, kind: str) -> requests.Response | None:
        began = time.perf_counter()
        try:
            response = self.session.post(
                f"{self.url}/api/sync",
                data=data,
                headers={**self.headers, "Idempotency-Key": key},
                timeout=120,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.counts["network_retries"] += 1  # no answer: the add-in keeps the request and resends it
            self.last_network_error = f"{type(exc).__name__}: {exc}"
            return None
        if self.timed:
            self.latencies[kind].append(time.perf_counter() - began)
            self.statuses[response.status_code] += 1
        return response

    def _answer(self, data: bytes, key: str, kind: str) -> requests.Response | None:
        """The request resent unchanged with its key until it is answered, like the add-in's."""
        for attempt in range(MAX_ATTEMPTS):
            response = self._post(data, key, kind if attempt == 0 else "resend")
            if response is None or response.status_code >= 500 or response.status_code == 429:
                if response is not None:
                    self.errors.append(f"{self.code}: {response.status_code} {response.text[:200]}")
                time.sleep(0.2 * 2**attempt)
                continue
            return response
        self.errors.append(f"{self.code}: gave up after {MAX_ATTEMPTS} attempts ({self.last_network_error})")
        return None

    def sync(self, body: dict[str, Any], kind: str) -> dict[str, Any] | None:
        """One press's request until it is answered; a lost answer is fetched again with the same key."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        key = uuid.uuid4().hex
        response = self._answer(data, key, kind)
        if response is None:
            return None
        if response.status_code != 200:
            self.errors.append(f"{self.code}: refused {response.status_code} {response.text[:200]}")
            return None
        payload = response.json()
        if self.rng.random() < self.options.lost_answers:  # the answer was lost on its way: resend
            self.counts["lost_answers"] += 1
            again = self._answer(data, key, "resend")
            if again is None:
                return None
            # a resend replays the push's outcome; its pull is of its own moment (issue 14, finding 8)
            if again.status_code != 200 or again.json()["pushed"] != payload["pushed"]:
                status = again.status_code
                self.errors.append(f"{self.code}: the resent push was answered differently ({status})")
            else:
                payload = again.json()  # the client only ever saw this answer
        return payload

    def fetch(self, key: str) -> None:
        began = time.perf_counter()
        try:
            response = self.session.get(f"{self.url}/api/tickets/{key}", headers=self.headers, timeout=120)
        except (requests.ConnectionError, requests.Timeout):
            self.counts["network_retries"] += 1
            return
        if self.timed:
            self.latencies["fetch"].append(time.perf_counter() - began)
            self.statuses[response.status_code] += 1
        if response.status_code == 200:
            self._absorb_row(response.json()["ticket"])
        else:
            self.errors.append(f"{self.code}: fetch {response.status_code} {response.text[:200]}")

    # the workbook ------------------------------------------------------------------------------

    def _new_ticket(self, key: str) -> dict[str, Any]:
        self.number += 1
        n = self.number
        return {
            "sync_key": key,
            "base_version": None,
            "fields": {
                "ticket_id": f"{self.code}-20261125-{n:04d}",
                "received_at": self.received_at,
                "channel": "hotline",
                "customer_name": f"客户{n}",
                "contact": f"138{self.rng.randrange(10**8):08d}",
                "category": "network_fault",
                "place": f"小区{n % 17}期",  # phases apart: a trailing number alone would be one place
                "description": "每晚八点宽带断线，重启光猫后又断",
                "grade": "moderate",
                "level": "blue",
            },
        }

    def _absorb_row(self, row: dict[str, Any]) -> None:
        known = self.rows.get(row["sync_key"])
        if known is None or row["version"] >= known["version"]:
            self.rows[row["sync_key"]] = row

    def apply(self, body: dict[str, Any], payload: dict[str, Any]) -> None:
        pushed, pulled = payload["pushed"], payload["pulled"]
        if any(pushed["rejected"].values()):
            self.errors.append(f"{self.code}: rejected {json.dumps(pushed['rejected'])[:300]}")
        refused = {r.get("sync_key") for rows in pushed["rejected"].values() for r in rows}
        outcomes = {o["sync_key"]: o for o in pushed["tickets"]}
        stale = []
        for item in body["tickets"]:
            key = item["sync_key"]
            if key in refused or key not in outcomes:
                continue
            outcome = outcomes[key]
            if item["base_version"] is None:
                self.created.append(key)
                self.counts["created"] += self.timed
            conflicting = {c["field"] for c in outcome["conflicts"]}
            if conflicting:
                self.counts["conflicts"] += len(conflicting)
                stale.append(key)
            for name in item.get("edited", ()):
                if name not in conflicting:
                    self.acked_fields[key][name] = item["fields"][name]
                    self.acked_edits.append((key, name, item["fields"][name]))
                    self.counts["edits"] += self.timed
        for entry in body["log"]:
            if entry["sync_key"] not in refused:
                self.acked_log[entry["sync_key"]] = entry["text"]
                self.counts["log"] += self.timed
        for row in pulled["tickets"]:
            self._absorb_row(row)
        self.counts["pulled"] += (len(pulled["tickets"]) + len(pulled["log"])) * self.timed
        self.cursor = max(self.cursor, int(pulled["cursor"]))
        for key in stale:  # as the add-in: a conflict alone is not in the pull; fetch the server's row
            self.fetch(key)

    def press(self) -> None:
        """One press of Sync: push what changed since the last one (maybe nothing), pull the rest."""
        self.presses += 1
        rng = self.rng
        tickets: list[dict[str, Any]] = []
        log: list[dict[str, Any]] = []
        if rng.random() < 0.2 or not self.rows:
            kind = "pull"
        else:
            kind = "push"
            if rng.random() < 0.3:
                tickets.append(self._new_ticket(uuid.uuid4().hex))
            for key in rng.sample(sorted(self.rows), min(len(self.rows), rng.randint(1, 3))):
                row = self.rows[key]
                fields = {k: row[k] for k in EDITABLE if k in row}
                name = rng.choice(EDITED_FIELDS)
                fields[name] = f"{self.code}-p{self.presses}-{name}"
                tickets.append(
                    {"sync_key": key, "base_version": row["version"], "fields": fields, "edited": (name,)}
                )
            target = tickets[-1]["sync_key"]
            log.append(
                {
                    "sync_key": uuid.uuid4().hex,
                    "ticket_key": target,
                    "at": self.received_at,
                    "kind": "progress",
                    "text": f"{self.code} 进展 {self.presses}",
                }
            )
        body = {"cursor": self.cursor, "branch": self.code, "tickets": tickets, "tasks": [], "log": log}
        sent = {**body, "tickets": [{k: v for k, v in t.items() if k != "edited"} for t in tickets]}
        payload = self.sync(sent, kind)
        if payload is not None:
            self.apply(body, payload)

    def first_sync(self) -> None:
        """Create the branch's first tickets (not timed): head office escalates among these."""
        body = {
            "cursor": 0,
            "branch": self.code,
            "tickets": [self._new_ticket(key) for key in self.initial_keys],
            "tasks": [],
            "log": [],
        }
        payload = self.sync(body, "push")
        if payload is None:
            raise RuntimeError(f"{self.code}: the first sync failed: {self.errors[-1:]}")
        self.apply(body, payload)

    def run_until(self, deadline: float) -> None:
        self.timed = True
        while time.monotonic() < deadline:
            self.press()
            if self.options.think:
                pause = self.options.think * (0.5 + self.rng.random())
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    def report(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "created": self.created,
            "acked_fields": dict(self.acked_fields),
            "acked_log": self.acked_log,
            "acked_edits": self.acked_edits,
            "latencies": dict(self.latencies),
            "counts": dict(self.counts),
            "statuses": dict(self.statuses),
            "errors": self.errors,
        }


def _client_process(
    specs: list[dict[str, Any]],
    url: str,
    options: LoadOptions,
    ready: Any,
    go: Any,
    deadline: Any,
    results: Any,
) -> None:
    """One client process: its branches as threads; each makes its first Sync, waits for the start, runs."""
    branches = [Branch(spec, url, options) for spec in specs]
    problems: list[str] = []

    def lifetime(branch: Branch) -> None:
        try:
            branch.first_sync()
        except Exception as exc:  # reported, never silent
            problems.append(f"{branch.code}: {type(exc).__name__}: {exc}")
            ready.put(branch.code)
            return
        ready.put(branch.code)
        go.wait()
        try:
            branch.run_until(deadline.value)
        except Exception as exc:
            problems.append(f"{branch.code}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=lifetime, args=(branch,)) for branch in branches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.put(
        {
            "branches": [b.report() for b in branches],
            "problems": problems,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    )


# --- head office -------------------------------------------------------------------------------


class HeadOffice:
    """Escalates tickets of every branch (each at most twice) at a steady pace until the deadline."""

    def __init__(self, url: str, token: str, keys: list[str], options: LoadOptions) -> None:
        self.url, self.keys, self.options = url, keys, options
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rng = random.Random(options.seed + 7)
        self.times: dict[str, int] = defaultdict(int)
        self.level: dict[str, str] = {}
        """Ticket → the level the last acknowledged escalation left it at."""
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = defaultdict(int)
        self.errors: list[str] = []

    def run_until(self, deadline: float) -> None:
        session = requests.Session()
        pace = 1 / self.options.escalations_per_second
        while time.monotonic() < deadline:
            open_keys = [k for k in self.keys if self.times[k] < 2]
            if not open_keys:
                return
            key = self.rng.choice(open_keys)
            began = time.perf_counter()
            try:
                response = session.post(
                    f"{self.url}/api/tickets/{key}/escalate",
                    json={"reason": f"总部督办 head office {self.times[key] + 1}"},
                    headers=self.headers,
                    timeout=120,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.errors.append(f"head office: no answer ({type(exc).__name__})")
                continue
            self.latencies.append(time.perf_counter() - began)
            self.statuses[response.status_code] += 1
            if response.status_code == 200:
                self.times[key] += 1
                self.level[key] = response.json()["ticket"]["level"]
            else:
                self.errors.append(f"head office: {response.status_code} {response.text[:200]}")
            time.sleep(max(0.0, pace - (time.perf_counter() - began)))


# --- database and server -----------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new empty database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cd-load-") as tmp:
            yield f"sqlite:///{tmp}/load.db"
        return
    import psycopg

    admin = PG_ADMIN_URL.replace("+psycopg", "")
    name = f"cd_load_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, branches: int) -> tuple[list[tuple[str, str]], str]:
    """Migrate; create the branches (a token each) and a head-office user; return their tokens."""
    from server import create_app
    from server.auth import BRANCH, HEAD_OFFICE, hash_password, issue_token
    from server.storage.db import get_db
    from server.storage.models import BranchRow, UserRow

    now = datetime.now(UTC)
    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        db = get_db()
        db.upgrade()
        tokens = []
        with db.write() as session:
            for b in range(branches):
                code = f"L{b + 1:03d}"
                row = BranchRow(code=code, name=f"负载 {code}", timezone="Asia/Shanghai", change_seq=0,
                                created_at=now)  # fmt: skip
                session.add(row)
                session.flush()
                tokens.append((code, issue_token(session, BRANCH, now, branch=row)[1]))
            user = UserRow(username="hq-load", password_hash=hash_password("load"), role=HEAD_OFFICE,
                           created_at=now)  # fmt: skip
            session.add(user)
            session.flush()
            hq = issue_token(session, HEAD_OFFICE, now, user=user)[1]
        db.dispose()
    return tokens, hq


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(url: str, workers: int, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """``gunicorn --workers N server:create_app()`` on a free port; yields (base URL, master pid)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FLASK_DATABASE_URL": url, "FLASK_RATE_LIMIT_PER_MINUTE": "0", **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "--log-level", "warning", "server:create_app()"],
        cwd=REPO,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/api/openapi.json", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its living children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        p = pending.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


# --- the run -----------------------------------------------------------------------------------


def run(options: LoadOptions) -> LoadResult:
    """Prepare a fresh database, serve it, run the branches and head office, then count what was lost."""
    result = LoadResult(options)
    rng = random.Random(options.seed)
    received_at = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
    with fresh_database(options.database) as url:
        tokens, hq_token = prepare(url, options.branches)
        specs = [
            {
                "code": code,
                "token": token,
                "seed": rng.random(),
                "initial_keys": [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(options.tickets)],
                "received_at": received_at,
            }
            for code, token in tokens
        ]
        with gunicorn(url, options.workers) as (base, pid):
            reports = _drive(base, hq_token, specs, options, result)
            result.server_cpu = process_tree_cpu(pid)
        _verify(url, reports, result)
    return result


def _drive(
    base: str, hq_token: str, specs: list[dict[str, Any]], options: LoadOptions, result: LoadResult
) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    deadline = context.Value("d", 0.0)
    shares = [specs[i :: options.processes] for i in range(options.processes)]
    processes = [
        context.Process(
            target=_client_process, args=(share, base, options, ready, go, deadline, results), daemon=True
        )
        for share in shares
        if share
    ]
    for process in processes:
        process.start()
    for _ in specs:
        _get(ready, processes, time.monotonic() + 600)
    head_office = HeadOffice(base, hq_token, [k for s in specs for k in s["initial_keys"]], options)
    began = time.monotonic()
    deadline.value = began + options.seconds
    go.set()
    head_office.run_until(deadline.value)
    outputs = [_get(results, processes, time.monotonic() + 600) for _ in processes]
    result.elapsed = time.monotonic() - began
    for process in processes:
        process.join(timeout=60)
    reports = []
    for output in outputs:
        result.client_cpu += output["cpu"]
        result.errors += output["problems"]
        for report in output["branches"]:
            reports.append(report)
            result.errors += report["errors"]
            for kind, values in report["latencies"].items():
                result.latencies[kind] += values
            for name, n in report["counts"].items():
                result.counts[name] += n
            for status, n in report["statuses"].items():
                result.statuses[status] += n
    result.latencies["escalate"] = head_office.latencies
    for status, n in head_office.statuses.items():
        result.statuses[status] += n
    result.errors += head_office.errors
    result.counts["escalations"] = sum(head_office.times.values())
    reports.append({"escalated": head_office.level})
    return reports


def _get(channel: Any, processes: list[Any], deadline: float) -> Any:
    """The next message from the client processes; an error if one died or none answers in time."""
    import queue

    while True:
        try:
            return channel.get(timeout=1)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError("a client process died") from None
            if time.monotonic() > deadline:
                raise RuntimeError("the client processes did not answer") from None


def _verify(url: str, reports: list[dict[str, Any]], result: LoadResult) -> None:
    """Read the database: every acknowledged row, value and escalation is there, log entries once."""
    from sqlalchemy import func, select

    from server.storage.db import Database
    from server.storage.models import BranchRow, HistoryRow, LogRow, TicketRow

    levels = ["blue", "yellow", "red"]
    db = Database(url)
    try:
        with db.read() as session:
            codes = dict(session.execute(select(BranchRow.id, BranchRow.code)).all())
            columns = [TicketRow.sync_key, TicketRow.branch_id, TicketRow.level, *(getattr(TicketRow, f)
                       for f in EDITED_FIELDS)]  # fmt: skip
            tickets = {r.sync_key: r for r in session.execute(select(*columns))}
            per_branch = dict(
                session.execute(select(TicketRow.branch_id, func.count()).group_by(TicketRow.branch_id)).all()
            )
            log = {
                r.sync_key: r
                for r in session.execute(
                    select(LogRow.sync_key, LogRow.text, LogRow.branch_id).where(LogRow.kind == "progress")
                )
            }
            history = Counter(
                (r.entity_key, r.field, json.loads(r.new_value or "null"))
                for r in session.execute(
                    select(HistoryRow.entity_key, HistoryRow.field, HistoryRow.new_value).where(
                        HistoryRow.entity == "ticket", HistoryRow.field.in_(EDITED_FIELDS)
                    )
                )
            )
            log_count = session.scalar(
                select(func.count()).select_from(LogRow).where(LogRow.kind == "progress")
            )
    finally:
        db.dispose()
    stored_per_code = {codes[b]: n for b, n in per_branch.items()}
    acked_log = 0
    for report in reports:
        if "escalated" in report:
            for key, level in report["escalated"].items():
                row = tickets.get(key)
                if row is None or levels.index(row.level) < levels.index(level):
                    result.lost["escalations"] += 1
            continue
        code = report["code"]
        for key in report["created"]:
            row = tickets.get(key)
            if row is None or codes[row.branch_id] != code:
                result.lost["tickets"] += 1
        if stored_per_code.get(code, 0) != len(report["created"]):
            stored = stored_per_code.get(code, 0)
            result.errors.append(f"{code}: {stored} tickets stored, {len(report['created'])} acknowledged")
        for key, values in report["acked_fields"].items():
            row = tickets.get(key)
            for name, value in values.items():
                if row is None or getattr(row, name) != value:
                    result.lost["edits"] += 1
        for edit in report["acked_edits"]:
            if history[tuple(edit)] != 1:
                result.lost["edit_history"] += history[tuple(edit)] == 0
                if history[tuple(edit)] > 1:
                    result.errors.append(
                        f"{code}: edit {edit} is in the history {history[tuple(edit)]} times"
                    )
        for key, text in report["acked_log"].items():
            entry = log.get(key)
            if entry is None or entry.text != text or codes[entry.branch_id] != code:
                result.lost["log"] += 1
        acked_log += len(report["acked_log"])
        result.counts["acked_tickets"] += len(report["created"])
        result.counts["acked_fields"] += sum(len(v) for v in report["acked_fields"].values())
        result.counts["acked_log"] += len(report["acked_log"])
        result.counts["acked_edits"] += len(report["acked_edits"])
    if log_count != acked_log:
        result.errors.append(f"{log_count} progress log entries stored, {acked_log} acknowledged")


# --- the figures -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def describe(result: LoadResult) -> str:
    o = result.options
    counts = result.counts
    seconds = result.elapsed or 1.0
    pushed_rows = counts["created"] + counts["edits"] + counts["log"]
    threads = -(-o.branches // o.processes)
    lines = [
        f"load: {o.branches} branches × {o.seconds:g} s, gunicorn --workers {o.workers}, {o.database}; "
        f"clients: {min(o.processes, o.branches)} processes × ≤{threads} threads (blocking HTTP), "
        f"head office 1 thread at {o.escalations_per_second:g} escalations/s; "
        "FLASK_RATE_LIMIT_PER_MINUTE=0",
        f"requests   {result.requests:,} in {seconds:.1f} s = {result.requests / seconds:,.1f} requests/s "
        f"(statuses {dict(sorted(result.statuses.items()))})",
        f"rows       pushed {pushed_rows:,} = {pushed_rows / seconds:,.1f} rows/s (new tickets "
        f"{counts['created']:,}, field edits {counts['edits']:,}, log entries {counts['log']:,}); "
        f"pulled {counts['pulled']:,} = {counts['pulled'] / seconds:,.1f} rows/s",
        f"{'kind':<10} {'n':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for kind in KINDS:
        values = result.latencies.get(kind, [])
        if values:
            figures = [percentile(values, q) * 1000 for q in (0.5, 0.95, 0.99, 1.0)]
            lines.append(f"{kind:<10} {len(values):>8,} " + " ".join(f"{f:>8.1f}" for f in figures))
    lines += [
        f"errors     {len(result.errors)} (no answer, resent with the same key: {counts['network_retries']}; "
        f"answers thrown away and resent: {counts['lost_answers']}; "
        f"conflicts fetched: {counts['conflicts']})",
        f"lost       {result.lost_total}{f' {dict(result.lost)}' if result.lost else ''} "
        "(checked in the database: new tickets "
        f"{counts['acked_tickets']:,}, edits {counts['acked_edits']:,} each once in the history, last "
        f"values {counts['acked_fields']:,}, log entries {counts['acked_log']:,} each once, escalations "
        f"{counts['escalations']:,})",
        f"cpu        clients {result.client_cpu:.1f} s, gunicorn {result.server_cpu:.1f} s "
        f"(of {os.cpu_count() * seconds:.0f} core-seconds on {os.cpu_count()} cores; "
        f"machine load average at the end {os.getloadavg()[0]:.1f})",
    ]
    lines += [f"  error: {e}" for e in result.errors[:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = LoadOptions()
    parser.add_argument("--branches", type=int, default=defaults.branches)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default=defaults.database)
    parser.add_argument("--processes", type=int, default=defaults.processes, help="client processes")
    parser.add_argument("--tickets", type=int, default=defaults.tickets, help="tickets per branch at start")
    parser.add_argument("--escalations-per-second", type=float, default=defaults.escalations_per_second)
    parser.add_argument("--think", type=float, default=defaults.think, help="seconds between presses")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    options = LoadOptions(
        branches=args.branches,
        seconds=args.seconds,
        workers=args.workers,
        database=args.database,
        processes=args.processes,
        tickets=args.tickets,
        escalations_per_second=args.escalations_per_second,
        think=args.think,
        seed=args.seed,
    )
    result = run(options)
    print(describe(result))
    return 0 if not result.errors and not result.lost_total else 1


if __name__ == "__main__":
    sys.exit(main())
