"""Request and response shapes of the API (marshmallow), also the source of the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from complaints.validation import MAX_TEXT

MAX_ROWS = 10_000
MAX_INT = 2**31 - 1  # the database's INTEGER: a larger number would fail in the query, not here
COUNT = validate.Range(min=0, max=MAX_INT)
SYNC_KEY = validate.Regexp(r"^[0-9a-f]{32}$", error="sync_key must be 32 lowercase hex characters")


class ErrorEnvelope(Schema):
    """Every error of the API (`server.errors`): ``{"error": code, "message": text, "where": {...}}``."""

    error = fields.String(required=True, metadata={"description": "a stable code, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for people"})
    where = fields.Dict(required=True, metadata={"description": "the place: field, header, row…"})


class PushTicket(Schema):
    sync_key = fields.String(required=True, validate=SYNC_KEY)
    base_version = fields.Integer(load_default=None, allow_none=True, validate=COUNT)
    fields = fields.Dict(required=True, metadata={"description": "field → value; checked by the service"})


class PushTask(Schema):
    sync_key = fields.String(required=True, validate=SYNC_KEY)
    ticket_key = fields.String(required=True, validate=SYNC_KEY)
    base_version = fields.Integer(load_default=None, allow_none=True, validate=COUNT)
    fields = fields.Dict(required=True, metadata={"description": "field → value; checked by the service"})


class PushLog(Schema):
    sync_key = fields.String(required=True, validate=SYNC_KEY)
    ticket_key = fields.String(required=True, validate=SYNC_KEY)
    at = fields.String(required=True)
    kind = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    author = fields.String(load_default="")
    channel = fields.String(load_default="")


class SyncRequest(Schema):
    cursor = fields.Integer(load_default=0, validate=COUNT)
    branch = fields.String(load_default=None, validate=validate.Length(max=16))
    """The branch code of the sending workbook; a push with another branch's token is refused."""
    tickets = fields.List(
        fields.Nested(PushTicket), load_default=list, validate=validate.Length(max=MAX_ROWS)
    )
    tasks = fields.List(fields.Nested(PushTask), load_default=list, validate=validate.Length(max=MAX_ROWS))
    log = fields.List(fields.Nested(PushLog), load_default=list, validate=validate.Length(max=MAX_ROWS))


class Pushed(Schema):
    tickets = fields.List(fields.Dict())
    tasks = fields.List(fields.Dict())
    log = fields.List(fields.Dict())
    rejected = fields.Dict()


class Pulled(Schema):
    cursor = fields.Integer()
    tickets = fields.List(fields.Dict())
    tasks = fields.List(fields.Dict())
    log = fields.List(fields.Dict())
    conflicts = fields.List(fields.Dict())


class SyncResponse(Schema):
    pushed = fields.Nested(Pushed)
    pulled = fields.Nested(Pulled)


class TicketQuery(Schema):
    branch = fields.String(load_default=None)
    status = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=COUNT)


class TicketList(Schema):
    total = fields.Integer()
    tickets = fields.List(fields.Dict())


class TicketDetail(Schema):
    ticket = fields.Dict()
    history = fields.List(fields.Dict())
    tasks = fields.List(fields.Dict())
    log = fields.List(fields.Dict())
    conflicts = fields.List(fields.Dict())


class EscalateRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    head = fields.String(load_default="", validate=validate.Length(max=200))


class ResolveRequest(Schema):
    keep = fields.String(required=True, validate=validate.OneOf(["branch", "server"]))


class Conflict(Schema):
    id = fields.Integer()
    entity = fields.String()
    sync_key = fields.String()
    ticket_id = fields.String()
    field = fields.String()
    branch_value = fields.Raw(allow_none=True)
    server_value = fields.Raw(allow_none=True)
    detected_at = fields.String()
    resolved = fields.Boolean()
    resolution = fields.String()


class TokenResponse(Schema):
    token = fields.String()
    role = fields.String()
