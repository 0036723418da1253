"""Head office writes to the customer from the ticket page: choose a template, preview it with the
wording findings, send it (`server.services.messages`)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from server import clock
from server.dashboard.blueprint import bp
from server.dashboard.i18n import current_lang, t
from server.dashboard.signin import current_user, signed_in
from server.dashboard.tickets import _actor, render_ticket
from server.services.errors import NotFound, ServiceError
from server.services.messages import Prepared, Request, prepare, send_message
from server.services.present import masked
from server.services.tickets import change_on
from server.storage.db import get_db


def _shown(prepared: Prepared) -> dict[str, Any]:
    """A preview as the signed-in user may see it: phone numbers masked but for an administrator."""
    mask = not current_user().sees_phone_numbers
    made = prepared.draft
    return {
        "subject": masked("text", made.subject, mask),
        "body": masked("text", made.body, mask),
        "to": masked("contact", prepared.to_addr, mask),
        "issues": [(i.phrase, i.suggestion) for i in made.issues],
        "missing": "、".join(made.missing) if made.lang == "zh" else ", ".join(made.missing),
    }


@bp.route("/tickets/<sync_key>/message", methods=["POST"])
@signed_in
def message(sync_key: str) -> Any:
    """Preview (``action=preview``) or send (``action=send``) a message to the customer."""
    form = {
        "message": "1",
        "kind": request.form.get("kind", ""),
        "channel": request.form.get("channel", ""),
        "msg_lang": request.form.get("msg_lang", current_lang()),
        "text": request.form.get("text", ""),
    }
    try:
        asked = Request.parse(form["kind"], form["channel"], form["msg_lang"], form["text"])
        if request.form.get("action") != "send":
            with get_db().read() as session:
                prepared = prepare(session, sync_key, None, asked)
            return render_ticket(sync_key, "", form, preview=_shown(prepared))
        with get_db().write() as session:
            change = change_on(session, sync_key, None, _actor(), clock.now())
            prepared, _ = send_message(change, sync_key, asked)
    except NotFound:
        return render_template("dashboard/message.html", message=t("not_found")), 404
    except ServiceError as exc:
        return render_ticket(sync_key, exc.message, form)
    to = masked("contact", prepared.to_addr, not current_user().sees_phone_numbers)
    flash(t("message_sent", kind=asked.kind.label(current_lang()), to=to), "success")
    return redirect(url_for("dashboard.ticket", sync_key=sync_key))
