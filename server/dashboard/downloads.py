"""Downloads: the consolidated workbook for chosen branches and a period, for a signed-in user.

The workbook is built by `server.xlsx.consolidate.build_consolidated` with the
same options as ``GET /api/consolidated`` (which needs a bearer token) and
streamed the same way (`server.api.exports.stream_consolidated`): the first
bytes leave while the ticket sheets are written, memory stays bounded whatever
the row count, and the build stops if the browser goes away. Its figures are
the overview's (`server.services.analysis`). Phone numbers are masked unless the user is
an administrator.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from server import clock
from server.api.exports import stream_consolidated
from server.dashboard.blueprint import bp
from server.dashboard.forms import filter_message, home_zone, read_branches, read_period
from server.dashboard.i18n import LANGS, current_lang, t
from server.dashboard.queries import FilterError, branch_codes
from server.dashboard.signin import current_user, signed_in
from server.services.analysis import UnknownBranchError, branch_zones
from server.services.consolidated import ConsolidateOptions
from server.storage.db import get_db


@bp.route("/downloads")
@signed_in
def downloads() -> Any:
    with get_db().read() as session:
        branches = branch_codes(session)
    return render_template("dashboard/downloads.html", branches=branches, period=read_period({}))


@bp.route("/downloads/consolidated", methods=["POST"])
@signed_in
def consolidated() -> Any:
    with get_db().read() as session:
        codes = [code for code, _ in branch_codes(session)]
    try:
        period = read_period(request.form)
        chosen = read_branches(request.form, codes)
    except FilterError as exc:
        flash(filter_message(exc), "error")
        return redirect(url_for("dashboard.downloads"))
    lang = request.form.get("lang") if request.form.get("lang") in LANGS else current_lang()
    options = ConsolidateOptions(
        branches=tuple(chosen) or None,
        period=period,
        lang=lang,
        show_phones=current_user().sees_phone_numbers,
        generated_at=clock.now(),
        timezone=home_zone(),
        calendar_path=current_app.config.get("CALENDAR_FILE"),
        workers=current_app.config.get("CONSOLIDATE_WORKERS"),
    )
    try:
        with get_db().read() as session:
            branch_zones(session, options.branches)
    except UnknownBranchError as exc:  # a branch removed between the form and the download
        flash(t("unknown_branch", code=", ".join(exc.codes)), "error")
        return redirect(url_for("dashboard.downloads"))
    name = f"consolidated-{'-'.join(chosen) if chosen else 'all'}-{period.first}-{period.last}.xlsx"
    return stream_consolidated(get_db(), options, name)
