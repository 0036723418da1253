"""Request and response shapes of the API (marshmallow), also the source of the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

from complaints.validation import MAX_TEXT

MAX_ROWS = 10_000
MAX_INT = 2**31 - 1  # the database's INTEGER: a larger number would fail in the query, not here
COUNT = validate.Range(min=0, max=MAX_INT)
SYNC_KEY = validate.Regexp(r"^[0-9a-f]{32}$", error="sync_key must be 32 lowercase hex characters")
_KEY = re.compile(r"[0-9a-f]{32}")


class ErrorEnvelope(Schema):
    """Every error of the API (`server.errors`): ``{"error": code, "message": text, "where": {...}}``."""

    error = fields.String(required=True, metadata={"description": "a stable code, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for people"})
    where = fields.Dict(required=True, metadata={"description": "the place: field, header, row…"})


class Rows(fields.List):
    """A list of ``schema`` rows, where a row already in the exact shape the schema loads is taken as is.

    Loading 5,000 pushed rows through marshmallow one by one was a tenth of a large
    push. ``admit`` accepts only rows the schema would load unchanged (missing
    ``base_version`` → None); if any row is not admitted, the schema loads the list,
    so every refusal is still the schema's own, with its place.
    """

    def __init__(self, schema: type[Schema], admit: Callable[[Any], bool], **kwargs: Any) -> None:
        super().__init__(fields.Nested(schema), **kwargs)
        self._admit = admit

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if type(value) is list and all(map(self._admit, value)):
            return [row if "base_version" in row else {**row, "base_version": None} for row in value]
        return super()._deserialize(value, attr, data, **kwargs)


def _key(value: Any) -> bool:
    return type(value) is str and _KEY.fullmatch(value) is not None


def _version(row: dict[str, Any]) -> bool:
    version = row.get("base_version")
    return version is None or (type(version) is int and 0 <= version <= MAX_INT)


def _pushed_ticket(row: Any) -> bool:
    return (
        type(row) is dict
        and row.keys() <= {"sync_key", "base_version", "fields"}
        and _key(row.get("sync_key"))
        and type(row.get("fields")) is dict
        and _version(row)
    )


def _pushed_task(row: Any) -> bool:
    return (
        type(row) is dict
        and row.keys() <= {"sync_key", "ticket_key", "base_version", "fields"}
        and _key(row.get("sync_key"))
        and _key(row.get("ticket_key"))
        and type(row.get("fields")) is dict
        and _version(row)
    )


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
    tickets = Rows(PushTicket, _pushed_ticket, load_default=list, validate=validate.Length(max=MAX_ROWS))
    tasks = Rows(PushTask, _pushed_task, load_default=list, validate=validate.Length(max=MAX_ROWS))
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
