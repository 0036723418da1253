"""Many branch devices and head office syncing at once against a real server; counts lost edits.

Each device is one copy of a branch workbook. It owns one text field: every edit
sets that field on a random ticket of its branch and pushes the *whole* row
(as a workbook would) with the version it last pulled, plus a new log entry.
Some pushes are sent twice, sequentially or concurrently, with the same
Idempotency-Key. Meanwhile head office escalates tickets. At the end every
acknowledged edit must be on the server, and every acknowledged log entry
stored exactly once.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

DEVICE_FIELDS = (
    "cause",
    "solution",
    "safeguards",
    "suggestions",
    "root_cause",
    "improvement",
    "objection_demand",
    "extension_reason",
    "feedback_channel",
    "preferred_channel",
    "level_reason",
    "cancel_reason",
)
EDITABLE_SENT = (
    "ticket_id", "received_at", "channel", "customer_name", "contact", "category", "place", "description",
    "grade", "level", *DEVICE_FIELDS,
)  # fmt: skip


@dataclass
class Report:
    acknowledged_edits: int = 0
    lost_edits: int = 0
    acknowledged_log: int = 0
    stored_log: int = 0
    duplicated_log: int = 0
    escalations: int = 0
    lost_escalations: int = 0
    resent: int = 0
    errors: list[str] = field(default_factory=list)


class Device:
    def __init__(self, url: str, token: str, number: int, rng: random.Random) -> None:
        self.url, self.token, self.number, self.rng = url, token, number, rng
        self.field = DEVICE_FIELDS[number % len(DEVICE_FIELDS)]
        self.rows: dict[str, dict[str, Any]] = {}
        self.cursor = 0
        self.acked: dict[str, str] = {}  # ticket key → last acknowledged value of our field
        self.acked_log: set[str] = set()
        self.session = requests.Session()

    def post(self, body: dict[str, Any], key: str) -> requests.Response:
        return self.session.post(
            f"{self.url}/api/sync",
            json=body,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": key,
                "X-Device": f"d{self.number}",
            },
            timeout=120,
        )

    def absorb(self, pulled: dict[str, Any]) -> None:
        for row in pulled["tickets"]:
            known = self.rows.get(row["sync_key"])
            if known is None or row["version"] >= known["version"]:
                self.rows[row["sync_key"]] = row
        self.cursor = max(self.cursor, pulled["cursor"])

    def pull(self) -> None:
        response = self.post({"cursor": self.cursor}, uuid.uuid4().hex)
        response.raise_for_status()
        self.absorb(response.json()["pulled"])

    def edit(self, i: int, report: Report) -> None:
        ticket_key = self.rng.choice(sorted(self.rows))
        row = self.rows[ticket_key]
        value = f"d{self.number}-e{i}"
        fields = {k: row[k] for k in EDITABLE_SENT}
        fields[self.field] = value
        log_key = uuid.uuid4().hex
        entry = {"sync_key": log_key, "ticket_key": ticket_key, "at": row["received_at"], "kind": "progress"}
        body = {
            "cursor": self.cursor,
            "tickets": [{"sync_key": ticket_key, "base_version": row["version"], "fields": fields}],
            "log": [{**entry, "text": value}],
        }
        key = uuid.uuid4().hex
        roll = self.rng.random()
        if roll < 0.1:  # resent concurrently (a retry racing the original)
            with ThreadPoolExecutor(2) as pool:
                responses = list(pool.map(lambda _: self.post(body, key), range(2)))
            report.resent += 1
        elif roll < 0.2:  # resent after the first answer was lost
            responses = [self.post(body, key), self.post(body, key)]
            report.resent += 1
        else:
            responses = [self.post(body, key)]
        ok = [r for r in responses if r.status_code == 200]
        if not ok:
            report.errors.append(
                f"d{self.number}: {[r.status_code for r in responses]} {responses[0].text[:200]}"
            )
            return
        payloads = [r.json() for r in ok]
        if any(p["pushed"] != payloads[0]["pushed"] for p in payloads):  # the pull is of each answer's moment
            report.errors.append(f"d{self.number}: a resent push got a different outcome")
        pushed = payloads[0]["pushed"]
        if pushed["rejected"]["tickets"] or pushed["rejected"]["log"]:
            report.errors.append(f"d{self.number}: rejected {pushed['rejected']}")
            return
        conflicts = pushed["tickets"][0]["conflicts"]
        if not conflicts:
            self.acked[ticket_key] = value
        self.acked_log.add(log_key)
        for payload in payloads:
            self.absorb(payload["pulled"])


def run(
    url: str,
    branch_tokens: list[str],
    head_office_token: str,
    devices_per_branch: int = 4,
    edits: int = 100,
    tickets_per_branch: int = 10,
    seed: int = 1,
) -> Report:
    """Create tickets, run every device and head office at once, then count what was lost."""
    rng = random.Random(seed)
    report = Report()
    devices: list[Device] = []
    for b, token in enumerate(branch_tokens):
        creator = Device(url, token, 0, rng)
        creator.post({"tickets": [_new_ticket(b, n) for n in range(tickets_per_branch)]}, uuid.uuid4().hex)
        for d in range(devices_per_branch):
            device = Device(url, token, b * devices_per_branch + d, random.Random(rng.random()))
            device.pull()
            devices.append(device)
    all_keys = sorted({k for d in devices for k in d.rows})
    escalated: Counter[str] = Counter()
    stop = threading.Event()

    def head_office() -> None:
        hq = requests.Session()
        hq_rng = random.Random(seed + 1)
        while not stop.is_set():
            k = hq_rng.choice(all_keys)
            if escalated[k] >= 2:
                continue
            r = hq.post(
                f"{url}/api/tickets/{k}/escalate",
                json={"reason": f"head office {escalated[k]}"},
                headers={"Authorization": f"Bearer {head_office_token}"},
                timeout=120,
            )
            if r.status_code == 200:
                escalated[k] += 1
                report.escalations += 1
            elif r.status_code != 409:
                report.errors.append(f"head office: {r.status_code} {r.text[:200]}")
            if sum(escalated.values()) >= 2 * len(all_keys):
                return

    def work(device: Device) -> None:
        for i in range(edits):
            device.edit(i, report)

    hq_thread = threading.Thread(target=head_office)
    hq_thread.start()
    with ThreadPoolExecutor(len(devices)) as pool:
        list(pool.map(work, devices))
    stop.set()
    hq_thread.join()
    _count_losses(url, head_office_token, devices, escalated, report)
    return report


def _new_ticket(branch: int, n: int) -> dict[str, Any]:
    return {
        "sync_key": uuid.uuid4().hex,
        "fields": {
            "ticket_id": f"B{branch:02d}-20261125-{n + 1:04d}",
            "received_at": "2026-11-25T01:10:00+00:00",
            "channel": "hotline",
            "customer_name": f"客户{n}",
            "contact": f"1380000{branch:02d}{n:02d}",
            "category": "network_fault",
            "place": f"小区{n}期",  # phases apart: a trailing number alone would be one place
            "description": "每晚八点宽带断线",
            "grade": "moderate",
            "level": "blue",
        },
    }


def _count_losses(
    url: str, token: str, devices: list[Device], escalated: Counter[str], report: Report
) -> None:
    details: dict[str, dict[str, Any]] = {}
    for key in sorted({k for d in devices for k in d.rows}):
        r = requests.get(f"{url}/api/tickets/{key}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        r.raise_for_status()
        details[key] = r.json()
    stored_log = Counter(e["sync_key"] for d in details.values() for e in d["log"] if e["kind"] == "progress")
    for device in devices:
        report.acknowledged_edits += len(device.acked)
        for key, value in device.acked.items():
            if details[key]["ticket"][device.field] != value:
                report.lost_edits += 1
        report.acknowledged_log += len(device.acked_log)
    report.stored_log = sum(stored_log.values())
    report.duplicated_log = sum(n - 1 for n in stored_log.values() if n > 1)
    levels = ["blue", "yellow", "red"]
    for key, times in escalated.items():
        if levels.index(details[key]["ticket"]["level"]) < times:
            report.lost_escalations += 1
