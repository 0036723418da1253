"""Downloads: the consolidated workbook for chosen branches and a period, for a signed-in user.

PLACEHOLDER until ``server/xlsx/consolidate.py`` lands: the workbook is the
ticket list of the chosen branches received in the period, built here with
openpyxl's write-only mode. It is then replaced by a call to the consolidation
builder that ``GET /api/consolidated`` uses.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from openpyxl import Workbook
from sqlalchemy import select

from complaints.schema import TICKETS
from server.dashboard.blueprint import bp
from server.dashboard.figures import Days
from server.dashboard.forms import filter_message, read_branches, read_days
from server.dashboard.i18n import LANGS, current_lang, t
from server.dashboard.present import PHONE_FIELDS, mask_phone, show
from server.dashboard.queries import FilterError, branch_codes
from server.dashboard.signin import current_user, signed_in
from server.db import get_db
from server.models import BranchRow, TicketRow
from server.store import from_db


@bp.route("/downloads")
@signed_in
def downloads() -> Any:
    with get_db().read() as session:
        branches = branch_codes(session)
    return render_template("dashboard/downloads.html", branches=branches, days=read_days({}))


@bp.route("/downloads/consolidated", methods=["POST"])
@signed_in
def consolidated() -> Any:
    with get_db().read() as session:
        codes = [code for code, _ in branch_codes(session)]
    try:
        days = read_days(request.form)
        chosen = read_branches(request.form, codes)
    except FilterError as exc:
        flash(filter_message(exc), "error")
        return redirect(url_for("dashboard.downloads"))
    lang = request.form.get("lang") if request.form.get("lang") in LANGS else current_lang()
    path = _ticket_list(days, chosen, lang, mask=not current_user().sees_phone_numbers)
    name = f"consolidated-{days.first:%Y%m%d}-{days.last:%Y%m%d}.xlsx"
    return send_file(path, as_attachment=True, download_name=name, max_age=0)


def _ticket_list(days: Days, branches: list[str], lang: str, mask: bool) -> BytesIO:
    """The placeholder workbook, in memory."""
    columns = [c for c in TICKETS.columns if not c.hidden]
    book = Workbook(write_only=True)
    sheet = book.create_sheet(TICKETS.title(lang))
    sheet.append([t("branch"), *(c.header(lang) for c in columns)])
    stmt = (
        select(TicketRow, BranchRow.code, BranchRow.timezone)
        .join(BranchRow, BranchRow.id == TicketRow.branch_id)
        .where(TicketRow.received_at >= days.start, TicketRow.received_at < days.end)
        .order_by(BranchRow.code, TicketRow.received_at)
    )
    if branches:
        stmt = stmt.where(BranchRow.code.in_(branches))
    with get_db().read() as session:
        for row, code, zone in session.execute(stmt.execution_options(yield_per=1000)):
            values = []
            for c in columns:
                text = show(c.key, from_db(c.key, getattr(row, c.key)), zone, lang)
                values.append(mask_phone(text) if mask and c.key in PHONE_FIELDS else text)
            sheet.append([code, *values])
    out = BytesIO()
    book.save(out)
    out.seek(0)
    return out
