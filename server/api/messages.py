"""Messages to the customer: fill a template for a ticket (with the wording findings), or send it."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import request as flask_request
from marshmallow import Schema, fields, validate

from complaints.messages import MessageKind, SendChannel
from server import clock
from server.api.blueprint import ApiBlueprint
from server.auth import ADMIN, BRANCH, HEAD_OFFICE, current, require
from server.privacy import masked_json
from server.services.changes import Actor
from server.services.idempotency import run_once
from server.services.messages import Prepared, Request, issues_json, prepare, send_message
from server.services.tickets import change_on
from server.storage.db import get_db

blp = ApiBlueprint("messages", __name__, url_prefix="/api", description="Messages to the customer")
SECURITY = [{"bearer": []}]


class MessageRequest(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in MessageKind]))
    channel = fields.String(required=True, validate=validate.OneOf([c.value for c in SendChannel]))
    lang = fields.String(load_default=None, validate=validate.OneOf(["zh", "en"]))
    text = fields.String(load_default="")
    send = fields.Boolean(load_default=False)


class MessageAnswer(Schema):
    kind = fields.String()
    channel = fields.String()
    lang = fields.String()
    to = fields.String()
    subject = fields.String()
    body = fields.String()
    issues = fields.List(fields.Dict())
    missing = fields.List(fields.String())
    sent = fields.Boolean()
    log = fields.Dict(allow_none=True)


def _scope() -> int | None:
    principal = current()
    return principal.branch_id if principal.role == BRANCH else None


def _answer(prepared: Prepared, request: Request, log: dict[str, Any] | None) -> dict[str, Any]:
    """The message as the caller may see it: phone numbers in full for an administrator only."""
    made = prepared.draft
    answer = {
        "kind": request.kind.value,
        "channel": request.channel.value,
        "lang": request.lang,
        "to": prepared.to_addr,
        "subject": made.subject,
        "body": made.body,
        "issues": issues_json(made),
        "missing": list(made.missing),
        "sent": log is not None,
        "log": log,
    }
    if current().role == ADMIN:
        return answer
    shown = masked_json(answer)
    shown["to"] = masked_json(prepared.to_addr, "contact")
    return shown


@blp.route("/tickets/<string:sync_key>/messages", methods=["POST"])
@blp.arguments(MessageRequest)
@blp.response(200, MessageAnswer, description="the filled message (a preview: nothing sent)")
@blp.alt_response(201, schema=MessageAnswer, description="the message sent: queued and logged on the ticket")
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE, ADMIN)
def message(body: dict[str, Any], sync_key: str) -> Any:
    """Fill a message to the customer from the ticket; with ``send`` queue it and log it on the ticket.

    The answer shows the wording findings of the filled text and what the ticket
    still lacks; a message lacking something is refused when sent (409). A send
    with an ``Idempotency-Key`` header is done once: a resend gets the first answer.
    """
    request = Request.parse(
        body["kind"], body["channel"], body["lang"] or current_app.config["NOTIFY_LANGUAGE"], body["text"]
    )
    principal = current()
    scope = _scope()
    if not body["send"]:
        with get_db().read() as session:
            return _answer(prepare(session, sync_key, scope, request), request, None)
    now = clock.now()

    def work(session: Any) -> tuple[int, Any]:
        change = change_on(session, sync_key, scope, Actor(principal.name, principal.role, "api"), now)
        prepared, entry = send_message(change, sync_key, request)
        logged = {
            "sync_key": entry.sync_key,
            "ticket_key": sync_key,
            "ticket_id": entry.ticket_id,
            "at": entry.at.isoformat(),
            "kind": entry.kind.value,
            "text": entry.text,
            "author": entry.author,
            "role": principal.role,
            "channel": entry.channel,
        }
        return 201, _answer(prepared, request, logged)

    key = flask_request.headers.get("Idempotency-Key")
    if key is not None:  # a resend with the same key gets the first answer; the customer is told once
        status, answer = run_once(get_db(), principal.key, key, {**body, "ticket": sync_key}, now, work)
        return answer, status
    with get_db().write() as session:
        status, answer = work(session)
    return answer, status
