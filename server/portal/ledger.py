"""``/branch/ledger``: a signed-in branch brings in the complaint ledger it kept before, in three steps.

Upload the file (.xlsx or .csv) → see how each column is mapped (and change
it), the first rows as they will be imported and every problem → confirm. The
file waits between the steps in a private folder under the instance (a day at
most), named in the session only; nothing is stored before the confirmation.
Phone numbers in the preview are masked: the page shows the branch's
customers to whoever stands at the screen (`server.privacy`).
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

from flask import current_app, redirect, request, session, url_for

from complaints.enums import Channel
from complaints.ledger import FIELDS, ColumnMapping, preview_rows
from server import clock
from server.auth import BRANCH
from server.files import write_private
from server.portal.pages import TEXT as PORTAL_TEXT
from server.portal.pages import bp, lang, render_page, signed_in_branch
from server.privacy import sees_phones
from server.services.changes import Actor
from server.services.errors import ServiceError
from server.services.ledger import LedgerPlan, LedgerRefused, import_plan, plan_ledger
from server.storage.db import get_db
from server.xlsx.errors import WorkbookError

KEEP_SECONDS = 24 * 3600
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "ledger": "导入历史台账",
        "ledger_intro": "上传本网点原有的投诉台账（Excel 或 CSV）：系统识别表头和各列，先预览，确认后才导入。"
        "导入的旧投诉作为历史记录，不会出现在超时列表中。",
        "ledger_file": "台账文件 (.xlsx / .xls / .csv)",
        "year": "年份（日期只写月日时）",
        "channel": "受理渠道（台账中没有渠道列时）",
        "preview": "上传并预览",
        "mapping": "列的对应关系",
        "column": "列",
        "header": "表头",
        "field": "导入为",
        "not_imported": "（不导入）",
        "rows": "预览（前 20 行，电话已隐藏）",
        "counts": "共 {total} 条：新建 {new}，台账有变更 {changed}，未变 {unchanged}",
        "errors": "以下问题须先修正（台账或列的对应关系），否则无法导入：",
        "notices": "提示：",
        "recheck": "按此对应关系重新预览",
        "confirm": "确认导入",
        "imported": "导入完成：新建 {created}，更新 {updated}。列的对应关系已保存，下次导入时沿用。",
        "expired": "上传的文件已过期，请重新上传。",
        "no_file": "请选择台账文件。",
        "where": "位置",
        "ticket_id": "投诉编号",
        "received_at": "受理时间",
        "customer_name": "客户姓名",
        "contact": "联系电话",
        "category": "类别",
        "channel_col": "渠道",
        "status": "导入后状态",
    },
    "en": {
        "ledger": "Import the ledger",
        "ledger_intro": "Upload the complaint ledger this branch kept before (Excel or CSV): its header and "
        "columns are recognised and previewed; nothing is imported before you confirm. Old complaints come "
        "in as history and stay off the overdue lists.",
        "ledger_file": "Ledger file (.xlsx / .xls / .csv)",
        "year": "Year (for dates written as month and day)",
        "channel": "Channel (when the ledger has no channel column)",
        "preview": "Upload and preview",
        "mapping": "How the columns are read",
        "column": "Column",
        "header": "Header",
        "field": "Imported as",
        "not_imported": "(not imported)",
        "rows": "Preview (first 20 rows, phone numbers hidden)",
        "counts": "{total} tickets: {new} new, {changed} changed in the ledger, {unchanged} unchanged",
        "errors": "Fix these first (in the ledger or in the column mapping); until then nothing can be "
        "imported:",
        "notices": "Notes:",
        "recheck": "Preview again with this mapping",
        "confirm": "Import",
        "imported": "Imported: {created} created, {updated} updated. The column mapping is kept for the next "
        "import.",
        "expired": "The uploaded file has expired; upload it again.",
        "no_file": "Choose a ledger file.",
        "where": "Where",
        "ticket_id": "Ticket ID",
        "received_at": "Received",
        "customer_name": "Customer",
        "contact": "Contact",
        "category": "Category",
        "channel_col": "Channel",
        "status": "Status after import",
    },
}


def _words() -> dict[str, str]:
    return PORTAL_TEXT[lang()] | WORDS[lang()]


def _folder() -> Path:
    base = current_app.config.get("BRANCH_DOWNLOADS") or Path(current_app.instance_path) / "branch-downloads"
    folder = Path(base) / "ledgers"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return folder


def _ledger_page(status: int = 200, **values: Any) -> tuple[str, int]:
    page, code = render_page(
        "ledger.html",
        status,
        w=_words(),
        fields=FIELDS,
        channels=list(Channel),
        **values,
    )
    return page, code


def _mapping_from_form() -> ColumnMapping:
    """The mapping the form sends: a select per column (``col:`` + header, or letter), year, channel."""
    columns: dict[str, str | None] = {
        key[4:]: value or None for key, value in request.form.items() if key.startswith("col:")
    }
    year = request.form.get("year", "").strip()
    channel = request.form.get("channel", "").strip()
    data: dict[str, Any] = {"columns": columns}
    if year.isdigit():
        data["year"] = int(year)
    if channel:
        data["channel"] = channel
    return ColumnMapping.from_json(data)


def _stored() -> tuple[Path, str] | None:
    upload = session.get("ledger_upload")
    if not isinstance(upload, dict) or not _UPLOAD_ID.match(str(upload.get("id", ""))):
        return None
    path = _folder() / f"{session.get('branch_token')}-{upload['id']}"
    return (path, str(upload.get("name", ""))) if path.is_file() else None


def _plan(branch_code: str, data: bytes, name: str, mapping: ColumnMapping | None) -> LedgerPlan | str:
    try:
        return plan_ledger(get_db(), branch_code, data, name, now=clock.now(), mapping=mapping)
    except WorkbookError as exc:
        return exc.summary(lang())
    except (ServiceError, ValueError) as exc:
        return getattr(exc, "message", str(exc))


def _show(plan: LedgerPlan, status: int = 200, **values: Any) -> tuple[str, int]:
    rows = preview_rows(plan.read, lang(), masked=not sees_phones(BRANCH))
    return _ledger_page(status, plan=plan, rows=rows, **values)


@bp.get("/ledger")
def ledger_home() -> Any:
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    return _ledger_page(branch=branch)


@bp.post("/ledger/preview")
def ledger_preview() -> Any:
    """A new file (uploaded now) or the waiting one with a changed mapping: preview, write nothing."""
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    try:
        given = _mapping_from_form()
    except ValueError as exc:
        return _ledger_page(400, branch=branch, error=str(exc))
    sent = request.files.get("ledger")
    if sent is not None and sent.filename:
        data, name = sent.read(), sent.filename
        upload = uuid.uuid4().hex
        write_private(_folder() / f"{session.get('branch_token')}-{upload}", data)
        session["ledger_upload"] = {"id": upload, "name": name}
    else:
        stored = _stored()
        if stored is None:
            return _ledger_page(400, branch=branch, error=_words()["no_file"])
        path, name = stored
        data = path.read_bytes()
    plan = _plan(branch.code, data, name, given)
    if isinstance(plan, str):
        return _ledger_page(422, branch=branch, error=plan)
    return _show(plan, 422 if plan.read.errors else 200, branch=branch)


@bp.post("/ledger/import")
def ledger_import() -> Any:
    """Import the waiting file with the mapping on the form, through the one service."""
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    stored = _stored()
    if stored is None:
        return _ledger_page(400, branch=branch, error=_words()["expired"])
    path, name = stored
    try:
        given = _mapping_from_form()
    except ValueError as exc:
        return _ledger_page(400, branch=branch, error=str(exc))
    plan = _plan(branch.code, path.read_bytes(), name, given)
    if isinstance(plan, str):
        return _ledger_page(422, branch=branch, error=plan)
    try:
        done = import_plan(get_db(), plan, actor=Actor(branch.code, BRANCH, "ledger"), now=clock.now())
    except LedgerRefused:
        return _show(plan, 422, branch=branch)
    path.unlink(missing_ok=True)
    session.pop("ledger_upload", None)
    message = _words()["imported"].format(created=done.created, updated=done.updated)
    return _ledger_page(branch=branch, done=done, message=message)
