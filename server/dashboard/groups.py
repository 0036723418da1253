"""The group page: a group incident handled as one, reached from any member ticket.

It shows the members, the representative, the group's plan and compensation,
the shared tasks and progress, and the revisit of each member with the group's
satisfaction rate; each form is one decision of `server.services.groups`,
applied to every member through the one door.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from complaints.enums import Satisfaction
from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.i18n import current_lang, t
from server.dashboard.signin import current_user, signed_in
from server.services import groups
from server.services.changes import Actor, Change
from server.services.errors import NotFound, ServiceError
from server.services.present import masked, show
from server.storage.db import get_db


def _view(case: groups.GroupCase, lang: str, mask: bool) -> dict[str, Any]:
    zone = case.branch.timezone
    chosen = case.representative
    satisfied, revisited = case.revisit
    titles: dict[tuple[str, str, str], list[str]] = {}
    numbers = {t_.sync_key: t_.ticket_id for t_ in case.members}
    by_id = {t_.ticket_id: t_ for t_ in case.members}
    for task in case.tasks:
        if task.ticket_id in by_id:
            key = (task.title, task.owner, task.due.isoformat() if task.due else "")
            titles.setdefault(key, []).append(task.ticket_id)
    return {
        "group_id": case.record.group_id,
        "branch": case.branch.code,
        "representative": chosen.ticket_id,
        "plan": case.record.plan,
        "plan_at": show("plan_at", case.record.plan_at, zone, lang),
        "compensation": case.record.compensation,
        "rate": f"{satisfied / revisited:.0%}" if revisited else "—",
        "rate_detail": t("rate_detail", hits=satisfied, total=revisited),
        "members": [
            {
                "sync_key": m.sync_key,
                "ticket_id": m.ticket_id,
                "representative": m.sync_key == chosen.sync_key,
                "customer_name": masked("customer_name", m.customer_name, mask),
                "contact": masked("contact", m.contact, mask),
                "place": masked("place", m.place, mask),
                "status": show("status", m.status, zone, lang),
                "level": m.level.value,
                "plan_at": show("plan_at", m.plan_at, zone, lang),
                "compensation": m.compensation,
                "revisited_at": show("revisited_at", m.revisited_at, zone, lang),
                "satisfaction": show("satisfaction", m.satisfaction, zone, lang),
                "can_revisit": m.closed_at is not None and m.revisited_at is None,
            }
            for m in case.members
        ],
        "shared_tasks": [
            {"title": title, "owner": owner, "due": due, "members": len(ids)}
            for (title, owner, due), ids in titles.items()
            if len(ids) == len(numbers)
        ],
        "satisfactions": [(s.value, s.label(lang)) for s in Satisfaction],
    }


@bp.route("/tickets/<sync_key>/group")
@signed_in
def group(sync_key: str) -> Any:
    return render_group(sync_key)


def render_group(sync_key: str, form_error: str = "", form: dict[str, str] | None = None) -> Any:
    lang = current_lang()
    mask = not current_user().sees_phone_numbers
    with get_db().read() as session:
        try:
            case = groups.view_group(session, sync_key, None)
        except NotFound:
            return render_template("dashboard/message.html", message=t("not_found")), 404
        view = _view(case, lang, mask)
    return render_template(
        "dashboard/group.html", g_=view, sync_key=sync_key, form_error=form_error, form=form or {}
    ), (422 if form_error else 200)


def _due(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ServiceError("bad_date", t("bad_date", field=t("group_task_due"))) from None


def _satisfaction(text: str) -> Satisfaction:
    try:
        return Satisfaction(text)
    except ValueError:
        raise ServiceError("bad_value", t("bad_value", field=t("group_satisfaction"), value=text)) from None


ACTIONS: dict[str, Callable[[Change, groups.GroupCase, Any], object]] = {
    "representative": lambda c, g, f: groups.choose_representative(c, g, f.get("member", "")),
    "plan": lambda c, g, f: groups.decide_plan(c, g, f.get("plan", "")),
    "compensation": lambda c, g, f: groups.decide_compensation(c, g, f.get("compensation", "")),
    "progress": lambda c, g, f: groups.broadcast_progress(c, g, f.get("progress", ""), f.get("channel", "")),
    "task": lambda c, g, f: groups.add_shared_task(
        c, g, f.get("title", ""), f.get("owner", ""), _due(f.get("due", "").strip())
    ),
    "revisit": lambda c, g, f: groups.record_revisit(
        c, g, f.get("member", ""), _satisfaction(f.get("satisfaction", "")), f.get("suggestions", "")
    ),
}
"""Form → the group decision it makes."""


@bp.route("/tickets/<sync_key>/group/<action>", methods=["POST"])
@signed_in
def group_action(sync_key: str, action: str) -> Any:
    """One decision for the whole group (representative, plan, compensation, progress, task, revisit)."""
    if action not in ACTIONS:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    form = {key: value for key, value in request.form.items() if key != "csrf_token"}
    user = current_user()
    try:
        with get_db().write() as session:
            change, case = groups.change_on_group(
                session, sync_key, None, Actor(user.username, user.role, "dashboard"), clock.now()
            )
            ACTIONS[action](change, case, form)
    except NotFound:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    except ServiceError as exc:
        return render_group(sync_key, exc.message, form | {"action": action})
    flash(t(f"group_done_{action}"), "success")
    return redirect(url_for("dashboard.group", sync_key=sync_key))
