"""Twelve branch devices on three doors and head office escalating, all at once, against a real server.

Each device is one copy of a branch's tickets and owns one text field of that
branch: every edit sets it on a ticket and adds a progress log entry, through
the device's door:

- ``api``: ``POST /api/sync`` with the whole row on the last pulled version, a
  fifth of the pushes resent with the same Idempotency-Key (the check 6
  device of ``tests/server/api/harness.py``);
- ``upload``: ``/branch``, the workbook uploaded and the merged one downloaded
  as the next copy;
- ``addin``: the ribbon's Sync sent as an xlwings payload to ``POST
  /xlwings/sync``, its actions applied to the workbook as Excel would.

Every third round a workbook device goes back to the copy it kept two rounds
earlier (an older file reopened), edits it and sends that. Its stale cells must
not revert anything; where it changed its field on a ticket it had changed
since, the server keeps its value and records the conflict (an upload meeting a
conflict is sent twice: the same file again is applied once, its conflict kept
once).

Meanwhile head office escalates tickets, through the API and the dashboard.
Each device knows what it expects (applied, or a conflict with both values); at
the end the server must hold exactly that: every field's last applied value,
every progress entry once, every escalation, the expected conflicts and no
other.
"""

from __future__ import annotations

import dataclasses
import io
import random
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from complaints.enums import LogKind
from complaints.model import LogEntry
from server.xlsx import read_workbook, write_workbook
from server.xlsx.reader import BranchWorkbook
from tests.addin.harness import apply_actions, payload_of
from tests.server.api import harness
from tests.server.api.test_branch_portal import csrf
from tests.server.workbook_factories import save_template

FIELDS = (
    "cause", "solution", "safeguards", "suggestions", "root_cause", "improvement",
    "expectation", "problem_time", "service", "preferred_channel", "feedback_channel", "extension_reason",
)  # fmt: skip
"""Text fields no rule and no escalation touches: one per device."""
KINDS = ("api", "upload", "addin", "api")
"""The doors of a branch's four devices."""
OLD_COPY_EVERY = 3
"""An upload device keeps the copy of round 3k and uploads it, edited, in round 3k + 2."""
TIMEOUT = 120


def session() -> requests.Session:
    """An HTTP client that opens a connection per request: gunicorn's threaded worker can reset a
    kept-alive connection the client is reusing at that moment (benoitc/gunicorn#1698), which is not
    what this check is about."""
    http = requests.Session()
    http.headers["Connection"] = "close"
    return http


@dataclass
class Report:
    """What the run did and what the server holds against it."""

    edits: Counter[str] = field(default_factory=Counter)
    """acknowledged edits by door"""
    applied: int = 0
    lost: list[str] = field(default_factory=list)
    expected_conflicts: set[tuple[str, str, str, str]] = field(default_factory=set)
    recorded_conflicts: set[tuple[str, str, str, str]] = field(default_factory=set)
    acknowledged_log: int = 0
    stored_log: int = 0
    duplicated_log: int = 0
    unacknowledged_log: int = 0
    lost_log: int = 0
    tickets: int = 0
    duplicated_tickets: int = 0
    busy: Counter[str] = field(default_factory=Counter)
    """seconds devices spent on their edits, by door"""
    escalations: Counter[str] = field(default_factory=Counter)
    """successful escalations by door (api, dashboard)"""
    lost_escalations: int = 0
    escalation_log: int = 0
    other_log: dict[str, int] = field(default_factory=dict)
    """log entries neither progress nor escalation, by kind (none expected)"""
    old_copies: Counter[str] = field(default_factory=Counter)
    """older copies sent, by door"""
    resent: int = 0
    uploads_resent: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def missing_conflicts(self) -> set[tuple[str, str, str, str]]:
        return self.expected_conflicts - self.recorded_conflicts

    @property
    def unexpected_conflicts(self) -> set[tuple[str, str, str, str]]:
        return self.recorded_conflicts - self.expected_conflicts

    def describe(self) -> str:
        edits = ", ".join(
            f"{door} {n}, {self.busy[door] / n:.2f} s each" for door, n in sorted(self.edits.items())
        )
        escalations = ", ".join(f"{door} {n}" for door, n in sorted(self.escalations.items()))
        return (
            f"mixed doors: {sum(self.edits.values())} acknowledged edits ({edits}) in {self.seconds:.1f} s; "
            f"older copies: {dict(self.old_copies)} ({self.uploads_resent} uploaded twice); "
            f"{self.resent} API pushes resent; escalations {escalations} ({self.escalation_log} logged); "
            f"{len(self.expected_conflicts)} conflicts expected, "
            f"{len(self.recorded_conflicts)} recorded ({len(self.missing_conflicts)} missing, "
            f"{len(self.unexpected_conflicts)} unexpected); lost {len(self.lost)} edits, "
            f"{self.lost_escalations} escalations, {self.lost_log} log entries; "
            f"log {self.stored_log} stored of {self.acknowledged_log} acknowledged, "
            f"{self.duplicated_log} duplicated, {self.unacknowledged_log} unacknowledged; "
            f"{self.tickets} tickets, {self.duplicated_tickets} duplicated; {len(self.errors)} errors"
        )


class Device:
    """What every device keeps: its field, the value it last had applied per ticket, its conflicts."""

    door = ""

    def __init__(self, url: str, code: str, token: str, number: int, rng: random.Random) -> None:
        self.url, self.code, self.token, self.number, self.rng = url, code, token, number, rng
        self.field = FIELDS[number % len(FIELDS)]
        self.applied: dict[str, str] = {}
        self.conflicts: set[tuple[str, str, str, str]] = set()
        self.acked_log: set[str] = set()
        self.http = session()

    def value(self, i: int) -> str:
        return f"d{self.number}-e{i}"

    def edited(self, workbook: BranchWorkbook, i: int, key: str) -> tuple[list[Any], list[LogEntry]]:
        """The ticket ``key`` with this round's value in the device's field, and its progress entry."""
        ticket = next(t for t in workbook.tickets if t.sync_key == key)
        value = self.value(i)
        entry = LogEntry(ticket.ticket_id, ticket.received_at, LogKind.PROGRESS, value)
        return [dataclasses.replace(ticket, **{self.field: value})], [entry]


class ApiDevice(Device):
    """``POST /api/sync``: check 6's device (whole rows on the last pulled version, resends), one field."""

    door = "api"

    def __init__(self, url: str, code: str, token: str, number: int, rng: random.Random) -> None:
        super().__init__(url, code, token, number, rng)
        self.device = harness.Device(url, token, number, rng)
        self.device.field = self.field
        self.device.session = session()

    def start(self) -> None:
        self.device.pull()

    def edit(self, i: int, report: Report) -> None:
        errors = len(report.errors)
        self.device.edit(i, report)  # type: ignore[arg-type]
        if len(report.errors) > errors:
            return
        self.applied = self.device.acked
        self.acked_log = self.device.acked_log
        report.edits[self.door] += 1


class WorkbookDevice(Device):
    """A device holding a workbook; every third round it goes back to the copy it kept two rounds
    earlier (an older file reopened), edits that and sends it."""

    def __init__(self, url: str, code: str, token: str, number: int, rng: random.Random) -> None:
        super().__init__(url, code, token, number, rng)
        self.kept: tuple[bytes, dict[str, str]] | None = None
        """An older copy and what this device had applied when it was saved."""
        self.old_rounds = 0

    def choose(self, i: int, current: bytes) -> tuple[bytes, BranchWorkbook, str, bool, bool]:
        """The workbook to edit (as bytes and as read), the ticket, whether the copy is an older one,
        and whether this device changed its field on that ticket since the copy (then: a conflict)."""
        old = self.kept is not None and i % OLD_COPY_EVERY == OLD_COPY_EVERY - 1
        source, then = self.kept if old and self.kept else (current, self.applied)
        workbook = read_workbook(source, now=datetime.now(UTC))
        keys = sorted(t.sync_key for t in workbook.tickets)
        changed = [k for k in keys if self.applied.get(k) != then.get(k)]
        if old and changed and self.old_rounds % 2 == 0:
            key = self.rng.choice(changed)  # both sides changed the field
        else:
            key = self.rng.choice([k for k in keys if k not in changed] or keys)
        return source, workbook, key, old, key in changed

    def settle(
        self, i: int, key: str, old: bool, conflict: bool, log: list[LogEntry], report: Report
    ) -> None:
        """Note what the server was sent: the value applied, or a conflict keeping the server's value."""
        if conflict:
            self.conflicts.add((key, self.field, self.value(i), self.applied[key]))
        else:
            self.applied[key] = self.value(i)
        self.acked_log.add(log[0].sync_key)
        report.edits[self.door] += 1
        if old:
            report.old_copies[self.door] += 1
            self.old_rounds += 1

    def keep(self, i: int, copy: bytes) -> None:
        if i % OLD_COPY_EVERY == 0:
            self.kept = (copy, dict(self.applied))


class UploadDevice(WorkbookDevice):
    """``/branch``: upload the workbook, download it merged."""

    door = "upload"

    def __init__(
        self, url: str, code: str, token: str, number: int, rng: random.Random, folder: Path
    ) -> None:
        super().__init__(url, code, token, number, rng)
        page = self.http.get(f"{url}/branch/", timeout=TIMEOUT).text
        signed = self.http.post(
            f"{url}/branch/signin",
            data={"branch": code, "token": token, "csrf_token": csrf(page)},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert signed.status_code == 302, signed.text
        self.copy = save_template(folder / f"{code}-d{number}.xlsx", branch=code).read_bytes()

    def upload(self, data: bytes) -> tuple[dict[str, int], bytes] | str:
        """The counts the result page shows and the merged workbook, or what went wrong."""
        token = csrf(self.http.get(f"{self.url}/branch/", timeout=TIMEOUT).text)
        response = self.http.post(
            f"{self.url}/branch/upload",
            data={"csrf_token": token},
            files={"workbook": (f"{self.code}.xlsx", data)},
            timeout=TIMEOUT,
        )
        page = response.text
        link = re.search(r'href="(/branch/download/[^"]+)"', page)
        if response.status_code != 200 or link is None:
            return f"{response.status_code} {page[-600:]}"
        counts = [int(n) for n in re.findall(r"<td>(\d+)</td>", page)[:4]]
        merged = self.http.get(self.url + link.group(1), timeout=TIMEOUT)
        if merged.status_code != 200:
            return f"download {merged.status_code}"
        return dict(zip(("created", "updated", "conflicts", "rejected"), counts, strict=True)), merged.content

    def start(self) -> None:
        answer = self.upload(self.copy)
        assert not isinstance(answer, str), answer
        self.copy = answer[1]

    def edit(self, i: int, report: Report) -> None:
        source, workbook, key, old, conflict = self.choose(i, self.copy)
        tickets, log = self.edited(workbook, i, key)
        out = io.BytesIO()
        write_workbook(source, out, tickets=tickets, log=log, rows=workbook.rows)
        sends = 2 if conflict else 1  # the same file uploaded again: applied once, the conflict kept once
        answers = [self.upload(out.getvalue()) for _ in range(sends)]
        problems = [a for a in answers if isinstance(a, str)]
        if problems:
            report.errors.append(f"d{self.number} upload round {i}: {problems}")
            return
        counts = [a[0] for a in answers if not isinstance(a, str)]
        self.copy = answers[-1][1]  # type: ignore[index]
        report.uploads_resent += sends - 1
        if any(c != counts[0] for c in counts) or counts[0]["rejected"] or counts[0]["conflicts"] != conflict:
            report.errors.append(f"d{self.number} upload round {i}: the pages showed {counts}")
            return
        self.settle(i, key, old, conflict, log, report)
        self.keep(i, self.copy)


class AddinDevice(WorkbookDevice):
    """The ribbon's Sync through ``POST /xlwings/sync`` on a workbook file, as Excel without Python."""

    door = "addin"

    def __init__(
        self, url: str, code: str, token: str, number: int, rng: random.Random, folder: Path
    ) -> None:
        super().__init__(url, code, token, number, rng)
        self.path = save_template(folder / f"{code}-d{number}-addin.xlsx", branch=code)

    def press(self) -> str | None:
        """Press Sync; None when it went through, else what the user was told."""
        response = self.http.post(
            f"{self.url}/xlwings/sync",
            json=payload_of(self.path),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=TIMEOUT,
        )
        if response.status_code != 200:
            return f"{response.status_code} {response.text[:300]}"
        alerts = apply_actions(self.path, response.json()["actions"])
        # the conflicts the alert names are the branch's (those of other devices too): this device's
        # own are compared at the end, as every device's
        if len(alerts) != 1 or alerts[0]["mode"] == "critical":
            return str(alerts)
        return None

    def start(self) -> None:
        assert self.press() is None

    def edit(self, i: int, report: Report) -> None:
        source, workbook, key, old, conflict = self.choose(i, self.path.read_bytes())
        tickets, log = self.edited(workbook, i, key)
        write_workbook(source, self.path, tickets=tickets, log=log, rows=workbook.rows)
        problem = self.press()
        if problem is not None:
            report.errors.append(f"d{self.number} addin round {i}: {problem}")
            return
        self.settle(i, key, old, conflict, log, report)
        self.keep(i, self.path.read_bytes())


class HeadOffice:
    """Escalates tickets one level at a time, at most twice each, through the API and the dashboard."""

    def __init__(self, url: str, token: str, keys: list[str], seed: int, pause: float) -> None:
        self.url, self.token, self.keys, self.pause = url, token, keys, pause
        self.rng = random.Random(seed)
        self.escalated: Counter[str] = Counter()
        self.api = session()
        self.dashboard = session()
        page = self.dashboard.get(f"{url}/dashboard/signin", timeout=TIMEOUT).text
        signed = self.dashboard.post(
            f"{url}/dashboard/signin",
            data={"username": "hq", "password": "hq-password", "csrf_token": csrf(page)},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert signed.status_code == 302, signed.text

    def escalate(self, key: str, door: str) -> int:
        reason = f"head office {self.escalated[key]} ({door})"
        if door == "api":
            return self.api.post(
                f"{self.url}/api/tickets/{key}/escalate",
                json={"reason": reason},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=TIMEOUT,
            ).status_code
        page = self.dashboard.get(f"{self.url}/dashboard/tickets/{key}", timeout=TIMEOUT).text
        response = self.dashboard.post(
            f"{self.url}/dashboard/tickets/{key}/escalate",
            data={"reason": reason, "csrf_token": csrf(page)},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        return 200 if response.status_code == 302 else response.status_code

    def run(self, stop: threading.Event, report: Report) -> None:
        n = 0
        while not stop.is_set() and sum(self.escalated.values()) < 2 * len(self.keys):
            key = self.rng.choice(self.keys)
            if self.escalated[key] >= 2:
                continue
            door = ("api", "dashboard")[n % 2]
            status = self.escalate(key, door)
            if status == 200:
                self.escalated[key] += 1
                report.escalations[door] += 1
                n += 1
            else:
                report.errors.append(f"head office ({door}): {status}")
            stop.wait(self.pause)


def run(
    url: str,
    branch_tokens: dict[str, str],
    head_office_token: str,
    folder: Path,
    *,
    api_edits: int,
    workbook_edits: int,
    tickets_per_branch: int = 10,
    seed: int = 1,
    escalation_pause: float = 0.2,
) -> Report:
    """Create each branch's tickets, run every device and head office at once, then compare."""
    rng = random.Random(seed)
    report = Report()
    devices: list[Device] = []
    created: list[list[str]] = []
    for b, (code, token) in enumerate(branch_tokens.items()):
        tickets = [new_ticket(code, n) for n in range(tickets_per_branch)]
        answer = harness.Device(url, token, 0, rng).post({"tickets": tickets}, uuid.uuid4().hex)
        answer.raise_for_status()
        created.append([t["sync_key"] for t in answer.json()["pushed"]["tickets"]])
        for d, kind in enumerate(KINDS):
            number, device_rng = b * len(KINDS) + d, random.Random(rng.random())
            if kind == "api":
                devices.append(ApiDevice(url, code, token, number, device_rng))
            elif kind == "upload":
                devices.append(UploadDevice(url, code, token, number, device_rng, folder))
            else:
                devices.append(AddinDevice(url, code, token, number, device_rng, folder))
    keys = sorted(key for b in created for key in b)
    head_office = HeadOffice(url, head_office_token, keys, seed + 1, escalation_pause)
    stop = threading.Event()

    def work(device: Device) -> None:
        device.start()
        edits = api_edits if isinstance(device, ApiDevice) else workbook_edits
        for i in range(edits):
            began = time.monotonic()
            device.edit(i, report)
            report.busy[device.door] += time.monotonic() - began

    started = time.monotonic()
    hq = threading.Thread(target=head_office.run, args=(stop, report))
    hq.start()
    with ThreadPoolExecutor(len(devices)) as pool:
        list(pool.map(work, devices))
    stop.set()
    hq.join()
    report.seconds = time.monotonic() - started
    compare(url, head_office_token, devices, head_office.escalated, report)
    return report


def new_ticket(code: str, n: int) -> dict[str, Any]:
    """A new ticket of branch ``code``, its own customer and place (no group, no repeat complaint)."""
    return {
        "sync_key": uuid.uuid4().hex,
        "fields": {
            "ticket_id": f"{code}-20261125-{n + 1:04d}",
            "received_at": "2026-11-25T01:10:00+00:00",
            "channel": "hotline",
            "customer_name": f"客户{n}",
            "contact": f"1390000{len(code)}{n:03d}",
            "category": "network_fault",
            "place": f"{code}小区{n}期",  # phases apart: a trailing number alone would be one place
            "description": "每晚八点宽带断线",
            "grade": "moderate",
            "level": "blue",
        },
    }


def compare(url: str, token: str, devices: list[Device], escalated: Counter[str], report: Report) -> None:
    """Read everything back as head office and count what differs from what the devices were told."""
    auth = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{url}/api/tickets", params={"limit": 1000}, headers=auth, timeout=TIMEOUT)
    listed.raise_for_status()
    rows = listed.json()["tickets"]
    report.tickets = len(rows)
    numbers = Counter((r["branch"], r["ticket_id"]) for r in rows)
    report.duplicated_tickets = sum(n - 1 for n in numbers.values())
    details = {}
    for row in rows:
        got = requests.get(f"{url}/api/tickets/{row['sync_key']}", headers=auth, timeout=TIMEOUT)
        got.raise_for_status()
        details[row["sync_key"]] = got.json()
    for device in devices:
        branch_keys = [k for k, d in details.items() if d["ticket"]["branch"] == device.code]
        for key in branch_keys:
            stored = details[key]["ticket"][device.field] or None
            if stored != device.applied.get(key):
                report.lost.append(
                    f"d{device.number} {key} {device.field}: {stored!r} ≠ {device.applied.get(key)!r}"
                )
        report.applied += len(device.applied)
        report.expected_conflicts |= device.conflicts
    conflicts = requests.get(f"{url}/api/conflicts", headers=auth, timeout=TIMEOUT)
    conflicts.raise_for_status()
    report.recorded_conflicts = {
        (c["sync_key"], c["field"], c["branch_value"], c["server_value"]) for c in conflicts.json()
    }
    entries = [e for d in details.values() for e in d["log"]]
    kinds = Counter(e["kind"] for e in entries)
    report.other_log = {k: n for k, n in kinds.items() if k not in ("progress", "escalation")}
    report.escalation_log = kinds["escalation"]
    # the upload sends back every entry of its Log sheet, head office's included: each stored once
    report.duplicated_log = sum(n - 1 for n in Counter(e["sync_key"] for e in entries).values() if n > 1)
    stored_log = Counter(e["sync_key"] for e in entries if e["kind"] == "progress")
    acked = set().union(*(d.acked_log for d in devices))
    report.acknowledged_log = len(acked)
    report.stored_log = sum(stored_log.values())
    report.unacknowledged_log = len(set(stored_log) - acked)
    report.lost_log = len(acked - set(stored_log))
    levels = ["blue", "yellow", "red"]
    for key, detail in details.items():
        if levels.index(detail["ticket"]["level"]) != escalated[key]:
            report.lost_escalations += 1
