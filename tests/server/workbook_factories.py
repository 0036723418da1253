"""Plain factory functions that build real branch workbooks for the workbook tests."""

from __future__ import annotations

import random
import shutil
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from complaints.enums import Category, Channel, Flag, Grade, Level, LogKind, Satisfaction, Status
from complaints.model import MILESTONES, LogEntry, Task, Ticket
from complaints.sla import PENDING, Due
from server.xlsx.grid import WorkbookParts
from server.xlsx.template import new_workbook
from server.xlsx.writer import write_workbook
from tests.factories import SHANGHAI, local

NOW = local(2026, 3, 20, 10, 0)
"""Every workbook test reads "now" as Friday 20 March 2026, 10:00 in Shanghai."""

TRICKY_TEXTS = (
    "=1+1",
    '=A2&"x"',
    "+86 138 0013 8000",
    "-5",
    "@SUM(A1)",
    "\tstarts with a tab",
    "\rstarts with a carriage return",
    "\nstarts with a line feed",
    "line one\r\nline two",
    "bell\x07 and nul\x00 and escape\x1b",
    "literal _x000D_ and _x005F_ escapes",
    "  padded  ",
    "0013800138000",
    "440301199001011234",
    "宽带每晚断线，重启光猫后十分钟又断",
    "😀 emoji",
)


def save_template(path: Path, lang: str = "zh", **options: Any) -> Path:
    """A new, empty branch workbook for SZ01 at ``path``."""
    new_workbook(str(path), options.pop("branch", "SZ01"), lang, **options)
    return path


def save_filled(
    path: Path,
    tickets: list[Ticket],
    lang: str = "zh",
    *,
    tasks: list[Task] | None = None,
    log: list[LogEntry] | None = None,
    deadlines: dict[str, dict[str, Due]] | None = None,
    **options: Any,
) -> Path:
    """A branch workbook at ``path`` made from the template and filled by the writer."""
    save_template(path, lang, **options)
    write_workbook(path, path, tickets=tickets, tasks=tasks or (), log=log or (), deadlines=deadlines)
    return path


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, max(seconds, 0)))


def _text(rng: random.Random, words: str) -> str:
    if rng.random() < 0.15:
        return rng.choice(TRICKY_TEXTS)
    return words


def full_ticket(number: int, **fields: object) -> Ticket:
    """A ticket with most columns filled, milestones in order up to a random stage, none after NOW."""
    rng = random.Random(number)
    received = _moment(rng, local(2025, 1, 1, 8, 0), NOW - timedelta(days=10))
    if rng.random() < 0.2:
        received = received.astimezone(UTC)  # a ticket that came from the server in UTC
    received = fields.pop("received_at", received)  # type: ignore[assignment]
    stage = rng.randint(0, len(MILESTONES) - 1)
    times: dict[str, object] = {}
    at = received
    for name in ("acknowledged_at", "plan_at", "resolved_at", "feedback_at", "closed_at", "revisited_at")[
        :stage
    ]:
        at = _moment(rng, at, at + timedelta(hours=30))
        times[name] = at
    if stage >= 2:
        times["routed_at"] = _moment(rng, received, received + timedelta(hours=5))
    values: dict[str, object] = {
        "ticket_id": f"SZ01-{received.astimezone(SHANGHAI):%Y%m%d}-{number:04d}",
        "branch": "SZ01",
        "received_at": received,
        "channel": rng.choice(list(Channel)),
        "customer_name": rng.choice(["张先生", "李女士", "Wang Fang", "=HYPERLINK(1)"]),
        "contact": rng.choice(["13800138000", "0755-8888 1234", "+86 139 0000 0000", "0013800138000"]),
        "preferred_channel": rng.choice(["", "短信", "电话"]),
        "category": rng.choice(list(Category)),
        "place": _text(rng, "阳光花园小区3栋"),
        "problem_time": _text(rng, "每晚20:00-23:00"),
        "service": _text(rng, "家庭宽带"),
        "description": _text(rng, f"第{number}号投诉：宽带每晚断线"),
        "expectation": _text(rng, "一周内恢复稳定上网"),
        "grade": rng.choice(list(Grade)),
        "level": rng.choice(list(Level)),
        "level_reason": _text(rng, "") if rng.random() < 0.3 else "",
        "media_exposure": rng.random() < 0.2,
        "regulator_involved": rng.random() < 0.1,
        "department": rng.choice(["", "网络部", "市场部"]),
        "investigator": rng.choice(["", "网络部-调查员1"]),
        "dept_feedback_due": _moment(rng, received, NOW + timedelta(days=5)) if rng.random() < 0.5 else None,
        "promised_at": _moment(rng, received, NOW + timedelta(days=30)) if rng.random() < 0.5 else None,
        "extension_reason": "",
        "cause": _text(rng, "光猫老化") if stage >= 3 else "",
        "solution": _text(rng, "更换光猫") if stage >= 3 else "",
        "safeguards": _text(rng, "三个月内每月回访") if stage >= 4 else "",
        "satisfaction": rng.choice(list(Satisfaction)) if stage >= 6 else None,
        "objection_count": rng.randint(0, 3),
        "improvement_done": rng.random() < 0.5,
        "training_case": rng.random() < 0.05,
        "root_cause": _text(rng, "设备老化"),
        "improvement": _text(rng, "批量更换旧光猫"),
        "escalated_to": rng.choice(["", "网络部负责人"]),
        "escalated_at": _moment(rng, received, NOW) if rng.random() < 0.3 else None,
        "group_id": rng.choice(["", f"G-{number % 7}"]),
        "level_basis": rng.choice(["", "repeat", "media"]),
        "version": rng.randint(0, 40),
        "status": rng.choice(list(Status)),
        "sync_key": uuid.UUID(int=rng.getrandbits(128)).hex,
        "flags": frozenset(rng.sample(list(Flag), rng.randint(0, 4))),
        **times,
    }
    values.update(fields)
    return Ticket(**values)  # type: ignore[arg-type]


def many_tickets(count: int, start: int = 1) -> list[Ticket]:
    """``count`` full tickets with distinct numbers."""
    return [full_ticket(n) for n in range(start, start + count)]


def some_deadlines(tickets: list[Ticket]) -> dict[str, dict[str, Due]]:
    """Deadline cells for every other ticket, one of them pending the calendar."""
    result: dict[str, dict[str, Due]] = {}
    for index, ticket in enumerate(tickets[::2]):
        base = ticket.received_at.astimezone(SHANGHAI).replace(hour=23, minute=59, second=59)
        result[ticket.sync_key] = {
            "ack_due": base + timedelta(days=1),
            "plan_due": PENDING if index % 5 == 0 else base + timedelta(days=3),
            "appeal_risk_at": ticket.received_at + timedelta(days=15),
        }
    return result


def tasks_for(tickets: list[Ticket]) -> list[Task]:
    """Two tasks for each of the first tickets."""
    tasks = []
    for ticket in tickets[:20]:
        tasks.append(Task(ticket.ticket_id, 1, "更换光猫", owner="网络部-调查员1", due=date(2026, 3, 25)))
        done = ticket.received_at + timedelta(hours=3)
        tasks.append(Task(ticket.ticket_id, 2, "=回访确认", done_at=done))
    return tasks


def log_for(tickets: list[Ticket]) -> list[LogEntry]:
    """A progress update and a written confirmation for each of the first tickets."""
    entries = []
    for ticket in tickets[:20]:
        at = ticket.received_at + timedelta(hours=1)
        entries.append(LogEntry(ticket.ticket_id, at, LogKind.PROGRESS, "已电话告知处理进度", author="小王"))
        entries.append(
            LogEntry(ticket.ticket_id, at, LogKind.CONFIRMATION, "+短信：承诺三日内修复", channel="短信")
        )
    return entries


def edit_cells(path: Path, sheet: str, cells: dict[str, object]) -> None:
    """Type values into cells as a person would (a string starting with "=" becomes a formula)."""
    book = load_workbook(path)
    ws = book[sheet]
    for ref, value in cells.items():
        ws[ref] = value
    book.save(path)


def column_of(path: Path, sheet: str, header: str) -> str:
    """The letter of the column headed ``header`` on ``sheet``."""
    book = load_workbook(path, read_only=True)
    try:
        row = next(book[sheet].iter_rows(min_row=1, max_row=1, values_only=True))
    finally:
        book.close()
    from openpyxl.utils import get_column_letter

    return get_column_letter(list(row).index(header) + 1)


def sheet_part(path: Path, title: str) -> str:
    """The zip part that holds worksheet ``title``."""
    with zipfile.ZipFile(path) as archive:
        return WorkbookParts(archive).parts[title]


def rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> None:
    """Rewrite one part of the .xlsx zip in place."""
    temporary = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, change(data) if info.filename == part else data)
    shutil.move(temporary, path)
