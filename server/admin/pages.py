"""The scheduler's admin page: who leads, each job's last run, the outbox, monthly workbooks to download.

Plain HTML for administrators and head office; sign in with HTTP basic auth
(user name and password) or send a head-office / admin API token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, g, render_template, request, send_file
from sqlalchemy import select

from server import clock
from server.auth import ADMIN, HEAD_OFFICE, authenticate
from server.dashboard.security import add_headers, nonce
from server.errors import ApiError
from server.privacy import masked, sees_phones
from server.scheduling.scheduler import EXTENSION, status
from server.services.notices import SmtpSender
from server.services.reports import open_kept
from server.services.sms import SmsGatewaySender
from server.storage.db import get_db
from server.storage.evidence import evidence_store
from server.storage.models import OutboxRow, ReportRow
from server.storage.rows import clock_for
from server.throttle import Throttled, check_password

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")
ROLES = (ADMIN, HEAD_OFFICE)


def _role() -> str:
    """The signed-in viewer's role, or "" when nobody (or nobody allowed) signed in."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username and auth.password is not None:
        user = check_password(auth.username, auth.password)  # Throttled: 429 with Retry-After
        return user.role if user is not None and user.role in ROLES else ""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        try:
            role = authenticate(request.headers.get("Authorization")).role
        except ApiError:
            return ""
        return role if role in ROLES else ""
    return ""


@bp.before_request
def _require_sign_in() -> Response | None:
    try:
        g.viewer_role = _role()
        if g.viewer_role:
            return None
    except Throttled as exc:
        return Response(f"{exc.message}\n", 429, {"Retry-After": str(exc.retry_after)}, mimetype="text/plain")
    return Response(
        "请以管理员或总部账号登录 / sign in as an administrator or head-office user\n",
        401,
        {"WWW-Authenticate": 'Basic realm="Complaint Desk", charset="UTF-8"'},
        mimetype="text/plain",
    )


@bp.after_request
def _security_headers(response: Response) -> Response:
    """The dashboard's headers here too: a CSP (the page's one inline style carries the nonce), no framing."""
    return add_headers(response)


def _local(value: Any, zone: ZoneInfo) -> Any:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value


@bp.get("/scheduler")
def scheduler_page() -> str:
    config = current_app.config
    zone = ZoneInfo(config["TIMEZONE"])
    mask = not sees_phones(g.viewer_role)  # head office reads the outbox too: a customer's SMS number
    report = status(config)
    service = current_app.extensions.get(EXTENSION)
    lease = report["lease"]
    for job in report["jobs"]:
        if job["last"]:
            job["last"] = {k: _local(v, zone) for k, v in job["last"].items()}
    with get_db().read() as session:
        notices = session.scalars(select(OutboxRow).order_by(OutboxRow.id.desc()).limit(30)).all()
        reports = session.execute(
            select(ReportRow.id, ReportRow.period, ReportRow.filename, ReportRow.created_at).order_by(
                ReportRow.period.desc()
            )
        ).all()
    today = clock.now().astimezone(zone).date()
    calendar = clock_for(config["TIMEZONE"], config.get("CALENDAR_FILE")).calendar
    next_runs: dict[str, Any] = {}
    if service is not None:
        next_runs = {k: _local(v, zone) for k, v in service.next_runs().items()}
    return render_template(
        "admin/scheduler.html",
        now_local=_local(report["now"], zone),
        timezone=config["TIMEZONE"],
        lease={k: _local(v, zone) for k, v in lease.items()} if lease else None,
        here=service is not None and service.leading,
        jobs=report["jobs"],
        next_runs=next_runs,
        outbox=report["outbox"],
        smtp_configured=SmtpSender(config).configured,
        sms_configured=SmsGatewaySender(config).configured,
        notices=[
            {
                "id": n.id,
                "kind": n.kind if n.channel == "email" else f"{n.kind} ({n.channel})",
                "recipient": masked("recipient", n.recipient) if mask else n.recipient,
                "to_addr": masked("contact", n.to_addr) if mask else n.to_addr,
                "subject": masked("subject", n.subject) if mask else n.subject,
                "status": n.status,
                "attempts": n.attempts,
                "next_attempt_at": _local(n.next_attempt_at, zone),
                "last_error": n.last_error,
            }
            for n in notices
        ],
        reports=[{**r._asdict(), "created_at": _local(r.created_at, zone)} for r in reports],
        calendar_missing=calendar.missing_next_year(today),
        csp_nonce=nonce(),
    )


@bp.get("/reports/<int:report_id>")
def report(report_id: int) -> Any:
    with get_db().read() as session:
        row = session.get(ReportRow, report_id)
        if row is None:
            return Response("没有这份报表 / no such report\n", 404, mimetype="text/plain")
        content, filename = open_kept(row, evidence_store()), row.filename
    return send_file(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=filename,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
