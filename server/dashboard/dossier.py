"""A ticket's or a group complaint's regulator dossier (PDF or printable sheet) and the appeal register.

Phone numbers are masked for everyone but an administrator.
"""

from __future__ import annotations

import io
from typing import Any

from flask import render_template, send_file

from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.i18n import current_lang, t
from server.dashboard.signin import current_user, signed_in
from server.services import appeals
from server.services import dossier as dossiers
from server.services.errors import NotFound
from server.storage.db import get_db
from server.xlsx.dossier import (
    RenderError,
    group_pdf_bytes,
    group_workbook_bytes,
    pdf_bytes,
    workbook_bytes,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/tickets/<sync_key>/<any(dossier, form):kind>.<any(pdf, xlsx):fmt>")
@signed_in
def dossier(sync_key: str, kind: str, fmt: str) -> Any:
    """The ticket's dossier, or its one-page complaint form (投诉处理单)."""
    form = kind == "form"
    mask = not current_user().sees_phone_numbers
    with get_db().read() as session:
        try:
            made = dossiers.make(session, sync_key, mask, clock.now())
        except NotFound:
            return render_template("dashboard/message.html", message=t("not_found")), 404
    name = f"{kind}-{made.dossier.ticket_id}.{fmt}"
    if fmt == "xlsx":
        content, mimetype = workbook_bytes(made, form=form), XLSX
    else:
        try:
            content, mimetype = pdf_bytes(made, form=form), "application/pdf"
        except RenderError as exc:
            return render_template("dashboard/message.html", message=t("dossier_failed") + str(exc)), 503
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)


@bp.route("/groups/<group_id>/dossier.<any(pdf, xlsx):fmt>")
@signed_in
def group_dossier(group_id: str, fmt: str) -> Any:
    """A group complaint's dossier: the summary, every member's dossier, one digest over the whole."""
    mask = not current_user().sees_phone_numbers
    with get_db().read() as session:
        try:
            made = dossiers.make_group(session, group_id, mask, clock.now())
        except NotFound:
            return render_template("dashboard/message.html", message=t("not_found")), 404
    name = f"group-dossier-{made.group.group_id}.{fmt}"
    if fmt == "xlsx":
        content, mimetype = group_workbook_bytes(made), XLSX
    else:
        try:
            content, mimetype = group_pdf_bytes(made), "application/pdf"
        except RenderError as exc:
            return render_template("dashboard/message.html", message=t("dossier_failed") + str(exc)), 503
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)


@bp.route("/appeals")
@signed_in
def appeal_register() -> Any:
    """Every ticket on appeal to the regulator, newest appeal first, each with its dossier."""
    lang = current_lang()
    with get_db().read() as session:
        lines = appeals.register(session, None, lang, not current_user().sees_phone_numbers)
    return render_template("dashboard/appeals.html", lines=lines, heads=appeals.HEADERS[lang])
