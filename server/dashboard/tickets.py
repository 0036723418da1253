"""The ticket list (filters, search, pages), the ticket page, and escalation and notes by head office."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from complaints import figures
from complaints.enums import Category, Level, LogKind, Status
from complaints.evidence import EvidenceKind
from complaints.schema import CONFLICTS, LOG, TASKS, TICKETS
from complaints.wire import COLUMNS, TASK_COLUMNS
from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.evidence_card import evidence_section
from server.dashboard.forms import filter_message, message_form
from server.dashboard.i18n import current_lang, t
from server.dashboard.queries import (
    FLAG_ARGS,
    UNCATEGORISED,
    WITH_CANCELLED,
    FilterError,
    Position,
    TicketFilter,
    branch_codes,
    ticket_detail,
    ticket_page,
)
from server.dashboard.rootcause_card import rootcause_section
from server.dashboard.signin import current_user, signed_in
from server.services.changes import Actor
from server.services.errors import NotFound, ServiceError
from server.services.evidence import HISTORY_FIELD as ATTACHMENT
from server.services.present import (
    field_label,
    flag_labels,
    masked,
    show,
    show_stored,
)
from server.services.tickets import add_note, change_on, escalate_ticket
from server.storage.db import get_db
from server.storage.rows import from_db
from server.storage.search import bring_up_to_date
from server.storage.writes import CREATED


@bp.route("/tickets", methods=["GET", "POST"])
@signed_in
def tickets() -> Any:
    """The list; the filter form is posted and answered with a redirect, so no search text sits in a URL.

    A phone number searched for is masked before the redirect (`TicketFilter.q`):
    the address bar, the history and the access log only ever hold its mask.
    """
    lang = current_lang()
    mask = not current_user().sees_phone_numbers
    error = ""
    sent = request.form if request.method == "POST" else request.args
    if sent.get("q", "").strip():
        bring_up_to_date(get_db())  # the search index follows changes lazily
    with get_db().read() as session:
        branches = branch_codes(session)
        try:
            query = TicketFilter.parse(sent)
            unknown = [code for code in query.branches if code not in {code for code, _ in branches}]
            if unknown:
                raise FilterError("branch", "unknown_branch", code=", ".join(unknown))
        except FilterError as exc:
            error, query = filter_message(exc), TicketFilter()
        if not error and (request.method == "POST" or sent.get("q", "").strip() != query.q):
            return redirect(url_for("dashboard.tickets", **_multi(query.args())))
        page = ticket_page(session, query, mask, Position.parse(sent))
        rows = [
            {
                "sync_key": row.sync_key,
                "ticket_id": row.ticket_id,
                "branch": code,
                "received_at": show("received_at", row.received_at, zone, lang),
                "customer_name": masked("customer_name", row.customer_name, mask),
                "contact": masked("contact", row.contact, mask),
                "category": show("category", from_db("category", row.category), zone, lang),
                "level": row.level or Level.BLUE.value,
                "level_label": show("level", from_db("level", row.level), zone, lang),
                "status": show("status", from_db("status", row.status), zone, lang),
                "department": masked("department", row.department, mask),
                "flags": [label for label, late in flag_labels(from_db("flags", row.flags), lang) if late],
                "description": masked("description", row.description, mask),
            }
            for row, code, zone in page.rows
        ]
    args = _multi(query.args())
    s = query.selection
    status = Status.CANCELLED.value if s.cancelled else (WITH_CANCELLED if s.cancelled is None else s.status)
    return render_template(
        "dashboard/tickets.html",
        rows=rows,
        page=page,
        query=query,
        status=status or "",
        category=UNCATEGORISED if s.uncategorised else (s.category or ""),
        checks=[(name, label, getattr(s, name)) for name, label in check_labels(lang)],
        error=error,
        branches=branches,
        statuses=list(Status),
        levels=list(Level),
        categories=list(Category),
        with_cancelled=WITH_CANCELLED,
        uncategorised=UNCATEGORISED,
        columns={c.key: c.header(lang) for c in TICKETS.columns},
        first_url=url_for("dashboard.tickets", **args) if page.newer else "",
        prev_url=url_for("dashboard.tickets", **args, before=page.newer.text()) if page.newer else "",
        next_url=url_for("dashboard.tickets", **args, after=page.older.text()) if page.older else "",
        last_url=url_for("dashboard.tickets", **args, last="1") if page.older else "",
    ), (400 if error else 200)


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name, []).append(value)
    return found


def check_labels(lang: str) -> list[tuple[str, str]]:
    """The list's check boxes (`queries.FLAG_ARGS`), each named as the figure that counts those tickets."""
    named = {
        "unfinished": figures.UNFINISHED,
        "overdue": figures.OVERDUE,
        "revisit_due": figures.REVISIT_DUE,
        "grouped": figures.GROUP_TICKETS,
        "repeat": figures.REPEAT_TICKETS,
        "major": figures.MAJOR,
    }
    return [(name, named[name].label(lang) if name in named else t(name)) for name in FLAG_ARGS]


@bp.route("/tickets/<sync_key>")
@signed_in
def ticket(sync_key: str) -> Any:
    return render_ticket(sync_key)


def render_ticket(
    sync_key: str,
    form_error: str = "",
    form: dict[str, str] | None = None,
    preview: dict[str, Any] | None = None,
) -> Any:
    lang = current_lang()
    mask = not current_user().sees_phone_numbers
    with get_db().read() as session:
        found = ticket_detail(session, sync_key)
        if found is None:
            return render_template("dashboard/message.html", message=t("not_found")), 404
        row, zone = found.row, found.branch.timezone
        fields = []
        for column in TICKETS.columns:
            if column.hidden:
                continue
            text = show(column.key, from_db(column.key, getattr(row, column.key)), zone, lang)
            fields.append((column.header(lang), masked(column.key, text, mask), column.key))
        tasks = {t_.sync_key: t_.task_no for t_ in found.tasks}
        history = [
            {
                "at": show("received_at", h.at, zone, lang),
                "version": h.version,
                "field": (
                    t("created")
                    if h.field == CREATED
                    else field_label(h.field, lang)
                    if h.entity == "ticket"
                    else t("evidence")
                    if h.entity == ATTACHMENT
                    else f"{t('tasks')} #{tasks.get(h.entity_key, '?')} · "
                    + field_label(h.field, lang, TASK_COLUMNS)
                ),
                "old": ""
                if h.field == CREATED or h.entity == ATTACHMENT
                else _stored(h.field, h.old_value, zone, lang, mask, h.entity),
                "new": (
                    _created(h.new_value, zone, lang, mask)
                    if h.field == CREATED
                    else _attached(h.new_value, lang, mask)
                    if h.entity == ATTACHMENT
                    else _stored(h.field, h.new_value, zone, lang, mask, h.entity)
                ),
                "by": _who(masked("by", h.by, mask), h.role),
                "source": _door(h.source, masked("device", h.device, mask)),
            }
            for h in found.history
        ]
        detail = {
            "sync_key": row.sync_key,
            "ticket_id": row.ticket_id,
            "branch": found.branch.code,
            "branch_name": found.branch.name,
            "level": row.level or Level.BLUE.value,
            "level_label": show("level", from_db("level", row.level), zone, lang),
            "status": show("status", from_db("status", row.status), zone, lang),
            "flags": flag_labels(from_db("flags", row.flags), lang),
            "description": masked("description", row.description, mask),
            "can_escalate": row.level != Level.RED.value,
            "group_id": row.group_id,
        }
        tasks_view = [
            {
                "no": task.task_no,
                "title": masked("title", task.title, mask),
                "owner": masked("owner", task.owner, mask),
                "due": task.due.isoformat() if task.due else "",
                "done_at": show("received_at", task.done_at, zone, lang),
            }
            for task in found.tasks
        ]
        log_view = [
            {
                "at": show("received_at", e.at, zone, lang),
                "kind": _log_kind(e.kind, lang),
                "text": masked("text", e.text, mask),
                "author": _who(masked("text", e.author, mask), e.role),
                "channel": masked("text", e.channel, mask),
            }
            for e in found.log
        ]
        evidence = evidence_section(row, zone, lang, mask)
        preferred = row.preferred_channel
        rootcause = rootcause_section(row, zone, lang, mask)
        conflicts = [
            {
                "field": field_label(c.field, lang, TASK_COLUMNS if c.entity == "task" else COLUMNS),
                "branch_value": _stored(c.field, c.branch_value, zone, lang, mask, c.entity),
                "server_value": _stored(c.field, c.server_value, zone, lang, mask, c.entity),
                "detected_at": show("received_at", c.detected_at, zone, lang),
            }
            for c in found.conflicts
        ]
    return render_template(
        "dashboard/ticket.html",
        t_=detail,
        fields=fields,
        history=history,
        tasks=tasks_view,
        log=log_view,
        conflicts=conflicts,
        evidence=evidence,
        rootcause=rootcause,
        form_error=form_error,
        form=form or {},
        preview=preview,
        message_form=message_form(preferred),
        heads={
            sheet.key: {c.key: c.header(lang) for c in sheet.columns} for sheet in (TASKS, LOG, CONFLICTS)
        },
    ), (422 if form_error else 200)


def _stored(key: str, text: str | None, zone: str, lang: str, mask: bool, entity: str) -> str:
    """A value kept as JSON text in the history or a conflict, shown like the live field."""
    raw = json.loads(text) if text else None
    return show_stored(key, raw, zone, lang, mask, TASK_COLUMNS if entity == "task" else COLUMNS)


def _created(text: str | None, zone: str, lang: str, mask: bool) -> str:
    """The fields a ticket was created with, one ``label: value`` per line."""
    fields = json.loads(text) if text else {}
    return "\n".join(
        f"{field_label(key, lang)}: {show_stored(key, raw, zone, lang, mask)}"
        for key, raw in fields.items()
        if raw not in (None, "", False, [])
    )


def _attached(text: str | None, lang: str, mask: bool) -> str:
    """An attachment's history entry: name, kind, size, type and hash (the name masked for head office)."""
    meta = json.loads(text) if text else {}
    name = masked("text", str(meta.get("name", "")), mask)
    try:
        kind = EvidenceKind(meta.get("kind", "")).label(lang)
    except ValueError:
        kind = str(meta.get("kind", ""))
    size, mime, sha256 = meta.get("size", 0), meta.get("type", ""), meta.get("sha256", "")
    return f"{name} · {kind} · {size:,} B · {mime} · sha256 {sha256}"


def _who(name: str, role: str) -> str:
    """A name with the role it was authenticated as, so a branch's note never passes for head office's."""
    return f"{name}（{t('role_' + role)}）" if role else name


NAMED_DOORS = ("api", "upload", "dashboard", "scheduler", "demo", "portal")


def _door(door: str, device: str) -> str:
    label = t("door_" + door) if door in NAMED_DOORS else door
    return f"{label} · {device}" if device else label


def _log_kind(kind: str, lang: str) -> str:
    try:
        return LogKind(kind).label(lang)
    except ValueError:
        return kind


def _actor() -> Actor:
    user = current_user()
    return Actor(user.username, user.role, "dashboard")


@bp.route("/tickets/<sync_key>/escalate", methods=["POST"])
@signed_in
def escalate(sync_key: str) -> Any:
    """Raise the warning level by hand, as head office, through the API's escalation service."""
    reason = request.form.get("reason", "").strip()
    head = request.form.get("head", "").strip()
    if not reason:
        return render_ticket(sync_key, t("reason_required"), {"reason": reason, "head": head})
    try:
        with get_db().write() as session:
            change = change_on(session, sync_key, None, _actor(), clock.now())
            done = escalate_ticket(change, sync_key, reason, head)
    except NotFound:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    except ServiceError as exc:
        why = t("already_red") if exc.code == "cannot_escalate" else exc.message
        return render_ticket(sync_key, t("cannot_escalate", why=why), {"reason": reason, "head": head})
    lang = current_lang()
    before = done.proposal.before
    assert before is not None
    flash(t("escalated", old=before.level.label(lang), new=done.ticket.level.label(lang)), "success")
    return redirect(url_for("dashboard.ticket", sync_key=sync_key))


@bp.route("/tickets/<sync_key>/note", methods=["POST"])
@signed_in
def note(sync_key: str) -> Any:
    """Add head office's note (comment) to the ticket's log; the branch's next Sync brings it in."""
    text = request.form.get("note", "").strip()
    if not text:
        return render_ticket(sync_key, t("note_required"), {"note": text})
    try:
        with get_db().write() as session:
            change = change_on(session, sync_key, None, _actor(), clock.now())
            add_note(change, sync_key, text)
    except NotFound:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    except ServiceError as exc:
        return render_ticket(sync_key, exc.message, {"note": text})
    flash(t("noted"), "success")
    return redirect(url_for("dashboard.ticket", sync_key=sync_key))
