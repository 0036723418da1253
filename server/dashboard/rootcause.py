"""Setting a ticket's root cause and improvement measure from its page, as head office.

The form sends every field; the door parses them into domain values (times in
the branch's zone) and hands them to the one service
(`server.services.rootcause.set_root_cause`). A text shown masked to a user who
may not see phone numbers and sent back unchanged is left as stored, so the
mask never overwrites what the branch typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for

from complaints.enums import Fishbone, MeasureStatus
from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.i18n import t
from server.dashboard.rootcause_card import TEXTS
from server.dashboard.signin import current_user, signed_in
from server.dashboard.tickets import _actor, render_ticket
from server.services.errors import NotFound, ServiceError
from server.services.present import masked
from server.services.rootcause import set_root_cause
from server.services.tickets import change_on, find_ticket
from server.storage.db import get_db

FORM_KEY = "rootcause"
"""Marks a form error as this card's (the ticket page shows each card's error beside its form)."""


class _Unreadable(ValueError):
    """A date, time or choice the form cannot have sent."""


def _values(form: Mapping[str, str], row: Any, zone: str, mask: bool) -> dict[str, Any]:
    """The domain values of the form; a masked text sent back as shown is left out (unchanged)."""
    values: dict[str, Any] = {}
    for key in TEXTS:
        text = form.get(key, "").strip()
        stored = getattr(row, key) or ""
        if not (mask and text != stored and text == masked(key, stored, True)):
            values[key] = text
    try:
        code = form.get("fishbone", "")
        values["fishbone"] = Fishbone(code) if code else None
        code = form.get("measure_status", "")
        values["measure_status"] = MeasureStatus(code) if code else None
        due = form.get("measure_due", "")
        values["measure_due"] = date.fromisoformat(due) if due else None
        done = form.get("measure_done_at", "")
        local = ZoneInfo(zone)
        values["measure_done_at"] = datetime.fromisoformat(done).replace(tzinfo=local) if done else None
    except ValueError as exc:
        raise _Unreadable(str(exc)) from exc
    return values


@bp.route("/tickets/<sync_key>/rootcause", methods=["POST"])
@signed_in
def rootcause(sync_key: str) -> Any:
    """Set the fishbone category, root cause and measure (owner, due date, status, done time)."""
    mask = not current_user().sees_phone_numbers
    form = {key: request.form.get(key, "") for key in request.form} | {FORM_KEY: "1"}
    try:
        with get_db().write() as session:
            change = change_on(session, sync_key, None, _actor(), clock.now())
            row = find_ticket(session, sync_key, None)
            set_root_cause(change, sync_key, _values(request.form, row, change.branch.timezone, mask))
    except NotFound:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    except _Unreadable:
        return render_ticket(sync_key, t("rootcause_unreadable"), form)
    except ServiceError as exc:
        return render_ticket(sync_key, exc.message, form)
    flash(t("rootcause_saved"), "success")
    return redirect(url_for("dashboard.ticket", sync_key=sync_key, _anchor="rootcause"))
