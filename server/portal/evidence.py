"""``/branch/evidence``: a signed-in branch attaches evidence to its own tickets and downloads it.

The page finds a ticket by its number among the branch's own tickets only;
another branch's ticket, or its file, is as missing as an unknown one. What
the checklist still misses is the rule of `complaints.evidence`, as on the
dashboard and in the workbook. Names on the page are masked like every
portal page (it shows customers' data to whoever stands at the screen); the
download keeps the branch's own name for its own file.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, send_file, url_for

from complaints.evidence import EvidenceKind, missing_text
from server import clock
from server.auth import BRANCH
from server.portal.pages import TEXT as PORTAL_TEXT
from server.portal.pages import bp, lang, render_page, signed_in_branch
from server.privacy import sees_phones
from server.services.changes import Actor
from server.services.errors import ServiceError
from server.services.evidence import attach, checklist, missing_for, shown
from server.services.tickets import change_on
from server.storage.db import get_db
from server.storage.evidence import attachments_of, branch_attachment, branch_ticket, evidence_store
from server.storage.models import BranchRow, TicketRow

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "evidence": "证据附件",
        "evidence_intro": "为本网点的投诉单上传证据（通话录音、截图、短信记录、协议等）。文件类型按内容识别；"
        "合并后的工作簿“证据”表中列出附件链接和尚缺的证据。",
        "ticket_id": "投诉编号",
        "open": "打开",
        "no_ticket": "本网点没有编号为 {ticket} 的投诉单。",
        "missing": "还缺少：{kinds}",
        "complete": "证据清单已齐全。",
        "none": "还没有附件。",
        "file": "文件",
        "kind": "证据类型",
        "size": "大小（字节）",
        "by": "上传人",
        "upload_evidence": "上传证据",
        "no_file": "请选择要上传的文件。",
        "added": "证据已上传。",
        "same": "这个文件已经附在本投诉单上（内容相同），没有重复保存。",
        "not_found": "没有这个附件。",
    },
    "en": {
        "evidence": "Evidence",
        "evidence_intro": "Attach evidence to this branch's tickets (call recordings, screenshots, SMS logs, "
        "agreements). The type is read from the content; the merged workbook's Evidence sheet lists the "
        "attachments as links and what is still missing.",
        "ticket_id": "Ticket ID",
        "open": "Open",
        "no_ticket": "This branch has no ticket {ticket}.",
        "missing": "Still missing: {kinds}",
        "complete": "The evidence checklist is complete.",
        "none": "No attachments yet.",
        "file": "File",
        "kind": "Kind",
        "size": "Size (bytes)",
        "by": "Uploaded by",
        "upload_evidence": "Upload evidence",
        "no_file": "Choose a file to upload.",
        "added": "The evidence is attached.",
        "same": "This file is already attached to this ticket (same content); it was not added twice.",
        "not_found": "No such attachment.",
    },
}


def _words() -> dict[str, str]:
    return PORTAL_TEXT[lang()] | WORDS[lang()]


def _ticket(branch: BranchRow, ticket_id: str) -> TicketRow | None:
    with get_db().read() as session:
        row = branch_ticket(session, branch.id, ticket_id)
        if row is not None:
            session.expunge(row)
        return row


def _evidence_page(branch: BranchRow, ticket_id: str, status: int = 200, **values: Any) -> tuple[str, int]:
    words = _words()
    if not ticket_id:
        return render_page("evidence.html", status, w=words, branch=branch, ticket_id="", **values)
    ticket = _ticket(branch, ticket_id)
    if ticket is None:
        error = words["no_ticket"].format(ticket=ticket_id)
        return render_page("evidence.html", 404, w=words, branch=branch, ticket_id=ticket_id, error=error)
    with get_db().read() as session:
        rows = attachments_of(session, [ticket.sync_key])[ticket.sync_key]
        files = shown(rows, lang(), not sees_phones(BRANCH))
    lacking = missing_text(missing_for(ticket.category, rows, checklist()), lang())
    return render_page(
        "evidence.html",
        status,
        w=words,
        branch=branch,
        ticket_id=ticket_id,
        ticket=ticket,
        files=files,
        missing=lacking,
        kinds=[(kind.value, kind.label(lang())) for kind in EvidenceKind],
        **values,
    )


@bp.get("/evidence")
def evidence_home() -> Any:
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    return _evidence_page(branch, request.args.get("ticket", "").strip())


@bp.post("/evidence")
def evidence_upload() -> Any:
    """Attach a file to one of the branch's tickets, through the one door with the branch as author."""
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    ticket_id = request.args.get("ticket", "").strip()
    ticket = _ticket(branch, ticket_id)
    if ticket is None:
        return _evidence_page(branch, ticket_id)
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return _evidence_page(branch, ticket_id, 400, error=_words()["no_file"])
    data = sent.read()
    actor = Actor(branch.code, BRANCH, "portal")
    try:
        with get_db().write() as session:
            change = change_on(session, ticket.sync_key, branch.id, actor, clock.now())
            _, new = attach(change, ticket.sync_key, sent.filename, data, request.form.get("kind", ""),
                            evidence_store())  # fmt: skip
    except ServiceError as exc:
        return _evidence_page(branch, ticket_id, 422, error=exc.message)
    return _evidence_page(branch, ticket_id, done=_words()["added" if new else "same"])


@bp.get("/evidence/<int:attachment_id>")
def evidence_file(attachment_id: int) -> Any:
    """One of the branch's own files, always as a download; another branch's is not found."""
    branch = signed_in_branch()
    if branch is None:
        return redirect(url_for("branch_portal.home"))
    with get_db().read() as session:
        row = branch_attachment(session, branch.id, attachment_id)
        if row is not None:
            session.expunge(row)
    if row is None:
        return render_page("message.html", 404, message=_words()["not_found"], branch=branch)
    response = send_file(evidence_store().open(row.sha256), mimetype=row.mime, as_attachment=True,
                         download_name=row.name, max_age=0)  # fmt: skip
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"  # customer data: no copy in any cache
    return response
