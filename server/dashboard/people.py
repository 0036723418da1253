"""People pages: per-staff KPIs for head office; "my tickets" and department feedback for branch staff.

``/dashboard/staff`` shows each coordinator's and investigator's figures over
a period and branches, filtered like the overview (`server.services.people.staff_figures`,
the same numbers as the consolidated workbook's staff sheet). ``/dashboard/mine``
lists the open tickets assigned to the signed-in investigator or department
head, red first; ``/dashboard/mine/<key>`` shows one of them and takes the
department's feedback. Staff see only their own branch's tickets assigned to
them or their department, and phone numbers masked like every role but admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for

from complaints.enums import Level
from complaints.kpis import Rate
from complaints.sla import PENDING, Due
from complaints.staff import STAFF_FIGURES, StaffKpis, StaffRole
from complaints.wire import COLUMNS
from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.forms import default_period, filter_message, read_branches, read_period
from server.dashboard.i18n import current_lang, t
from server.dashboard.queries import FilterError, branch_codes
from server.dashboard.signin import User, current_user, signed_in, staff_signed_in
from server.services.changes import Actor
from server.services.errors import NotFound, ServiceError
from server.services.people import (
    MY_DEADLINES,
    MyTicket,
    assigned,
    my_tickets,
    record_dept_feedback,
    staff_figures,
)
from server.services.present import flag_labels, local_time, masked, percent, show
from server.services.tickets import change_on
from server.storage.db import get_db
from server.storage.models import BranchRow
from server.storage.people import Assignment
from server.storage.rows import clock_for, from_db

LIST_COLUMNS = ("ticket_id", "customer_name", "contact", "category", "status", "department", "investigator")
DUE_COLUMNS = ("dept_feedback_due", "plan_due", "resolve_due")
"""The headers of `server.services.people.MY_DEADLINES`, in order."""
DETAIL_COLUMNS = (
    "ticket_id",
    "received_at",
    "customer_name",
    "contact",
    "category",
    "place",
    "description",
    "expectation",
    "grade",
    "level",
    "status",
    "department",
    "investigator",
    "dept_feedback_due",
    "dept_feedback_at",
    "cause",
    "plan_due",
    "resolve_due",
)


def staff_cell(value: Any) -> dict[str, str]:
    """A per-staff figure as text; a rate with its hits and total."""
    if isinstance(value, Rate):
        detail = t("rate_detail", hits=value.hits, total=value.total) if value.total else ""
        return {"text": percent(value.rate), "detail": detail}
    return {"text": str(value), "detail": ""}


def staff_rows(people: list[StaffKpis], role: StaffRole, mask: bool) -> list[dict[str, Any]]:
    return [
        {
            "branch": s.key.branch,
            "name": masked("investigator", s.key.name, mask),
            "cells": [dict(staff_cell(f.value(s)), key=f.key) for f in STAFF_FIGURES],
        }
        for s in people
        if s.key.role is role
    ]


@bp.route("/staff", endpoint="staff")
@signed_in
def staff_page() -> Any:
    """Per-staff KPIs for the period and branches chosen (this month so far, every branch by default)."""
    lang = current_lang()
    mask = not current_user().sees_phone_numbers
    with get_db().read() as session:
        branches = branch_codes(session)
        codes = [code for code, _ in branches]
        try:
            period = read_period(request.args)
            chosen = read_branches(request.args, codes)
        except FilterError as exc:
            flash(filter_message(exc), "error")
            period, chosen = default_period(), []
        people = staff_figures(session, chosen or None, period, current_app.config.get("CALENDAR_FILE"))
    tables = [
        {"role": role.value, "title": role.label(lang), "rows": staff_rows(people, role, mask)}
        for role in StaffRole
    ]
    return render_template(
        "dashboard/staff.html",
        period=period,
        branches=branches,
        chosen=chosen,
        tables=tables,
        headers=[f.label(lang) for f in STAFF_FIGURES],
    )


def assignment_of(user: User) -> Assignment | None:
    """What binds ``user`` to tickets; None for head office and admin (they have the ticket list)."""
    if not user.is_staff or user.branch_id is None:
        return None
    return Assignment(user.role, user.branch_id, user.staff_name, user.department)


def _due_text(due: Due, zone: str) -> str:
    if isinstance(due, datetime):
        return local_time(due, zone)
    return t("pending_calendar") if due == PENDING else ""


def _cell(row: Any, key: str, zone: str, lang: str, mask: bool) -> str:
    """A stored field as the viewer sees it (phone numbers masked with ``mask``)."""
    return masked(key, show(key, from_db(key, getattr(row, key)), zone, lang), mask)


def my_row(m: MyTicket, zone: str, lang: str, mask: bool) -> dict[str, Any]:
    row = m.row
    return {
        "sync_key": row.sync_key,
        "level": m.level.value,
        "level_label": m.level.label(lang),
        "cells": {key: _cell(row, key, zone, lang, mask) for key in LIST_COLUMNS},
        "dues": [_due_text(m.dues[name], zone) for name in MY_DEADLINES],
        "flags": flag_labels(m.flags, lang),
    }


@bp.route("/mine", endpoint="mine")
@staff_signed_in
def mine_page() -> Any:
    """The signed-in investigator's or department head's open tickets, red first."""
    user = current_user()
    who = assignment_of(user)
    if who is None:
        return render_template("dashboard/message.html", message=t("mine_only_staff"))
    lang = current_lang()
    mask = not user.sees_phone_numbers
    with get_db().read() as session:
        branch = session.get(BranchRow, who.branch_id)
        assert branch is not None
        clock_ = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
        found = my_tickets(session, who, branch.code, clock_)
        rows = [my_row(m, branch.timezone, lang, mask) for m in found]
    return render_template(
        "dashboard/mine.html",
        rows=rows,
        branch=branch.code,
        columns={key: COLUMNS[key].header(lang) for key in (*LIST_COLUMNS, *DUE_COLUMNS, "level", "flags")},
        list_columns=LIST_COLUMNS,
        due_columns=DUE_COLUMNS,
    )


@bp.route("/mine/<sync_key>", methods=["GET", "POST"], endpoint="my_ticket")
@staff_signed_in
def my_ticket_page(sync_key: str) -> Any:
    """One of my tickets, with the department feedback form (the feedback goes through the one service)."""
    user = current_user()
    who = assignment_of(user)
    if who is None:
        return render_template("dashboard/message.html", message=t("mine_only_staff"))
    error, form = "", {}
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in ("at", "cause", "note")}
        try:
            done = _record(user, who, sync_key, form)
        except NotFound:
            return render_template("dashboard/message.html", message=t("not_found")), 404
        except ServiceError as exc:
            error = exc.message
        else:
            flash(t("dept_feedback_saved" if done else "dept_feedback_unchanged"), "success")
            return redirect(url_for("dashboard.my_ticket", sync_key=sync_key))
    return _render_mine(user, who, sync_key, error, form)


def _record(user: User, who: Assignment, sync_key: str, form: dict[str, str]) -> bool:
    """Record the feedback of ``form``; False when nothing changed. Raises `ServiceError`, `NotFound`."""
    with get_db().write() as session:
        assigned(session, who, sync_key)  # another's ticket (or branch's) is as missing as an unknown one
        actor = Actor(user.username, user.role, "dashboard")
        change = change_on(session, sync_key, who.branch_id, actor, clock.now())
        at = _parse_local(form["at"], change.branch.timezone) if form["at"] else change.now
        return record_dept_feedback(change, sync_key, at, form["cause"], form["note"])


def _parse_local(text: str, zone: str) -> datetime:
    """A ``datetime-local`` field's value (branch time) as an aware datetime."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    except ValueError as exc:
        label = COLUMNS["dept_feedback_at"].header(current_lang())
        raise _BadInput(t("bad_datetime", field=label)) from exc


class _BadInput(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__("invalid", message, {"field": "dept_feedback_at"})


def _render_mine(user: User, who: Assignment, sync_key: str, error: str, form: dict[str, str]) -> Any:
    lang = current_lang()
    mask = not user.sees_phone_numbers
    with get_db().read() as session:
        try:
            row = assigned(session, who, sync_key)
        except NotFound:
            return render_template("dashboard/message.html", message=t("not_found")), 404
        branch = session.get(BranchRow, row.branch_id)
        assert branch is not None
        zone = branch.timezone
        fields = [(COLUMNS[key].header(lang), _cell(row, key, zone, lang, mask)) for key in DETAIL_COLUMNS]
        level = from_db("level", row.level) or Level.BLUE
        now_local = clock.now().astimezone(ZoneInfo(zone))
    return render_template(
        "dashboard/my_ticket.html",
        sync_key=sync_key,
        ticket_id=row.ticket_id,
        level=level.value,
        level_label=level.label(lang),
        flags=flag_labels(from_db("flags", row.flags), lang),
        fields=fields,
        error=error,
        form=form,
        at_default=form.get("at") or f"{now_local:%Y-%m-%dT%H:%M}",
        at_label=COLUMNS["dept_feedback_at"].header(lang),
        cause_label=COLUMNS["cause"].header(lang),
    ), (422 if error else 200)
