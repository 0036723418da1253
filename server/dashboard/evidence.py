"""Head office attaches evidence to a ticket and downloads it (the card itself: `evidence_card`)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for

from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.i18n import t
from server.dashboard.signin import current_user, signed_in
from server.dashboard.tickets import _actor, render_ticket
from server.services.errors import NotFound, ServiceError
from server.services.evidence import attach, download_name
from server.services.tickets import change_on
from server.storage.db import get_db
from server.storage.evidence import branch_attachment, evidence_store


@bp.route("/tickets/<sync_key>/evidence", methods=["POST"])
@signed_in
def add_evidence(sync_key: str) -> Any:
    """Attach a file as head office; recorded in the ticket's history with the signed-in user."""
    sent = request.files.get("file")
    kind = request.form.get("kind", "")
    if sent is None or not sent.filename:
        return render_ticket(sync_key, t("evidence_no_file"), {"evidence": "1"})
    data = sent.read()
    try:
        with get_db().write() as session:
            change = change_on(session, sync_key, None, _actor(), clock.now())
            _, new = attach(change, sync_key, sent.filename, data, kind, evidence_store())
    except NotFound:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    except ServiceError as exc:
        return render_ticket(sync_key, exc.message, {"evidence": "1"})
    flash(t("evidence_added" if new else "evidence_same"), "success")
    return redirect(url_for("dashboard.ticket", sync_key=sync_key))


@bp.route("/evidence/<int:attachment_id>")
@signed_in
def evidence_file(attachment_id: int) -> Any:
    """The file, always as a download under its (masked) name, never shown inline."""
    with get_db().read() as session:
        row = branch_attachment(session, None, attachment_id)
        if row is None:
            return render_template("dashboard/message.html", message=t("not_found")), 404
        session.expunge(row)
    name = download_name(row, not current_user().sees_phone_numbers)
    response = send_file(evidence_store().open(row.sha256), mimetype=row.mime, as_attachment=True,
                         download_name=name, max_age=0)  # fmt: skip
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"  # customer data: no copy in any cache
    return response
