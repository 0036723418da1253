"""Merge an uploaded branch workbook with the server — the Sync button for branches without Python.

The upload is a door like ``POST /api/sync``: every row of the workbook is
pushed, as domain values, with the version it was based on (unchanged rows
merge to nothing) through the one service; then everything of the branch is
read and written back into the same workbook, the user's own sheets, columns
and formatting left alone. The file's digest is the push's Idempotency-Key, so
uploading the same file twice applies it once — but the workbook that comes
back always holds the server's state of that moment (new tickets, head
office's escalations made since included).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.orm import Session

from complaints.schema import LOG, TASKS, TICKETS, Sheet
from complaints.wire import EDITABLE, TASK_EDITABLE
from server.remote.files import public_url
from server.services.changes import Actor, Change
from server.services.evidence import checklist, workbook_rows
from server.services.idempotency import run_once
from server.services.sync import (
    BranchState,
    LogEdit,
    Push,
    TaskEdit,
    TicketEdit,
    changed_since,
    level_rules,
    push,
)
from server.storage.db import Database
from server.storage.evidence import branch_attachments
from server.storage.models import BranchRow
from server.storage.rows import clock_for
from server.xlsx import Problem, WorkbookError, read_workbook, write_workbook
from server.xlsx.reader import BranchWorkbook


@dataclass
class MergeResult:
    """The merged workbook (None when the upload was refused) and what to tell the coordinator."""

    content: bytes | None
    lang: str = "zh"
    problems: list[Problem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    renumbered: list[tuple[str, str]] = field(default_factory=list)


def push_edits(workbook: BranchWorkbook) -> tuple[Push, list[Problem]]:
    """Every row of the workbook as one push; tasks and log entries name their ticket by sync key."""
    key_of = {t.ticket_id: t.sync_key for t in workbook.tickets}
    problems = [
        Problem(
            f"ticket {r.ticket_id} is not on the Tickets sheet",
            f"投诉单工作表中没有编号为 {r.ticket_id} 的投诉",
            sheet=sheet,
        )
        for sheet, records in (("Tasks / 任务", workbook.tasks), ("Log / 日志", workbook.log))
        for r in records
        if r.ticket_id not in key_of
    ]
    push = Push(
        tickets=[TicketEdit(t.sync_key, t.version or None, {k: getattr(t, k) for k in EDITABLE})
                 for t in workbook.tickets],
        tasks=[TaskEdit(t.sync_key, key_of[t.ticket_id], t.version or None,
                        {k: getattr(t, k) for k in TASK_EDITABLE})
               for t in workbook.tasks if t.ticket_id in key_of],
        log=[LogEdit(key_of[e.ticket_id], e) for e in workbook.log if e.ticket_id in key_of],
    )  # fmt: skip
    return push, problems


def nul_problems(workbook: BranchWorkbook, lang: str) -> list[Problem]:
    """Text holding U+0000, by sheet, row and column, refused as ``POST /api/sync`` refuses it.

    PostgreSQL text cannot hold the NUL character; the workbook can (as ``_x0000_``), and so can
    SQLite, where it is stored and written back exactly.
    """
    problems = []
    for sheet, records in ((TICKETS, workbook.tickets), (TASKS, workbook.tasks), (LOG, workbook.log)):
        for record in records:
            for column in sheet.columns:
                value = getattr(record, column.key, None)
                if isinstance(value, str) and "\x00" in value:
                    problems.append(
                        Problem(
                            "the text holds a NUL character (U+0000, shown as _x0000_), which the database "
                            "cannot store; delete it",
                            "文本中含有空字符（U+0000，显示为 _x0000_），数据库无法保存，请删除",
                            sheet=sheet.title(lang),
                            row=workbook.rows.get(getattr(record, "sync_key", "")),
                            header=column.header(lang),
                        )
                    )
    return problems


REHEARSAL = Problem(
    "the workbook could not be merged back safely (it holds something the merge cannot keep, such as a "
    "hyperlink on an empty cell or an error value in a key column); nothing was stored. Open it in Excel, "
    "check the cells named below, save it and upload it again",
    "无法安全地把合并结果写回此工作簿（其中有合并时无法保留的内容，如空单元格上的超链接、关键列中的错误值），"
    "没有保存任何数据。请在 Excel 中打开，检查下列单元格，保存后重新上传",
)


def rehearse_write_back(data: bytes, workbook: BranchWorkbook, now: datetime) -> list[Problem]:
    """Write what was read back into the file and read it again, before anything is stored.

    The write-back opens the file with openpyxl, which refuses some parts calamine skips (styles,
    tables) and sees some cells otherwise (error values, hyperlinks on empty cells): if the merged
    workbook would not read back as the same records, the upload is refused now, rather than stored
    and then answered with "not imported" or with a workbook the branch cannot upload again.
    """
    probe = io.BytesIO()
    try:
        write_workbook(
            data, probe, tickets=workbook.tickets, tasks=workbook.tasks, log=workbook.log, rows=workbook.rows
        )
        again = read_workbook(probe.getvalue(), now=now)
    except WorkbookError as exc:
        return [REHEARSAL, *exc.problems]
    for mine, theirs in (
        (workbook.tickets, again.tickets),
        (workbook.tasks, again.tasks),
        (workbook.log, again.log),
    ):
        if sorted(r.sync_key for r in mine) != sorted(r.sync_key for r in theirs):
            return [REHEARSAL]
    return []


def merge_upload(db: Database, branch_id: int, data: bytes, actor: Actor, now: datetime) -> MergeResult:
    """Read, push, pull and write back one uploaded workbook; refuse it whole on any problem."""
    try:
        workbook = read_workbook(data, now=now)
    except WorkbookError as exc:
        return MergeResult(None, exc.lang, exc.problems)
    lang = workbook.settings.language
    problems = [] if db.is_sqlite else nul_problems(workbook, lang)
    if problems:
        return MergeResult(None, lang, problems)
    problems = rehearse_write_back(data, workbook, now)
    if problems:
        return MergeResult(None, lang, problems)
    with db.read() as session:
        branch = session.get(BranchRow, branch_id)
        assert branch is not None
        code, timezone = branch.code, branch.timezone
    if workbook.settings.branch and workbook.settings.branch.casefold() != code.casefold():
        problem = Problem(
            f"this workbook belongs to branch {workbook.settings.branch}, not {code}",
            f"这是分支机构 {workbook.settings.branch} 的工作簿，不是 {code} 的",
            sheet="Settings / 设置",
        )
        return MergeResult(None, lang, [problem])
    edits, problems = push_edits(workbook)
    if problems:
        return MergeResult(None, lang, problems)
    digest = hashlib.sha256(data).hexdigest()
    clock = clock_for(timezone, current_app.config.get("CALENDAR_FILE"))

    def work(session: Session) -> tuple[int, Any]:
        row = session.get(BranchRow, branch_id)
        assert row is not None
        change = Change(session, row, actor, now, clock, level_rules())
        _ = change.seq  # the branch lock first, as every writer does
        return 200, push(change, edits)

    _, pushed = run_once(db, f"branch:{branch_id}", f"upload:{digest}", {"file": digest}, now, work)
    with db.read() as session:
        branch = session.get(BranchRow, branch_id)
        assert branch is not None
        state = changed_since(session, branch, 0)
        evidence = evidence_sheet(session, branch, state.tickets, lang)
    return _write_back(data, workbook, pushed, state, lang, evidence)


def _header(sheet: Sheet, key: str, lang: str) -> str:
    return sheet.column(key).header(lang) if key in sheet.keys else key


def evidence_sheet(
    session: Session, branch: BranchRow, tickets: list[Any], lang: str
) -> list[dict[str, Any]]:
    """The Evidence sheet's rows, each attachment linked to the portal's download."""
    base = public_url()
    return workbook_rows(
        tickets,
        branch_attachments(session, branch.id),
        lang,
        ZoneInfo(branch.timezone),
        checklist(),
        lambda attachment_id: f"{base}/branch/evidence/{attachment_id}",
    )


def _write_back(
    data: bytes,
    workbook: BranchWorkbook,
    pushed: dict[str, Any],
    state: BranchState,
    lang: str,
    evidence: list[dict[str, Any]],
) -> MergeResult:
    target = io.BytesIO()
    try:
        write_workbook(
            data,
            target,
            tickets=state.tickets,
            tasks=state.tasks,
            log=state.log,
            deadlines=state.deadlines,
            rows=workbook.rows,
            sync_state={"cursor": str(state.cursor)},
            conflicts=[c for c in state.conflicts if not c["resolved"]],
            evidence=evidence,
        )
    except WorkbookError as exc:
        return MergeResult(None, exc.lang, exc.problems)
    result = MergeResult(target.getvalue(), lang)
    for item in pushed["tickets"]:
        if item.get("created"):
            result.created += 1
        elif item.get("applied"):
            result.updated += 1
        result.conflicts.extend(item["conflicts"])
        if "renumbered_from" in item:
            result.renumbered.append((item["renumbered_from"], item["ticket_id"]))
    for item in pushed["tasks"]:
        result.conflicts.extend(item["conflicts"])
    sheets = {"tickets": TICKETS, "tasks": TASKS, "log": LOG}
    for kind, sheet in sheets.items():
        for r in pushed["rejected"][kind]:
            errors = [
                {
                    **e,
                    "header": sheet.column(e["field"]).header(lang)
                    if e["field"] in sheet.keys
                    else e["field"],
                }
                for e in r["errors"]
            ]
            where = Problem("", "", sheet=sheet.title(lang), row=workbook.rows.get(r["sync_key"] or ""))
            result.rejected.append({"kind": kind, **r, "where": where.where(lang), "errors": errors})
    return result
