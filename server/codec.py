"""Ticket fields ↔ JSON values: the codec lives in `complaints.wire` (the add-in's sync client shares it)."""

from complaints.wire import (
    COLUMNS,
    DEADLINE_COLUMNS,
    EDITABLE,
    TASK_COLUMNS,
    TASK_EDITABLE,
    TICKET_ATTRS,
    FieldError,
    FieldErrors,
    decode,
    decode_fields,
    encode,
    ticket_to_json,
)

__all__ = [
    "COLUMNS",
    "DEADLINE_COLUMNS",
    "EDITABLE",
    "TASK_COLUMNS",
    "TASK_EDITABLE",
    "TICKET_ATTRS",
    "FieldError",
    "FieldErrors",
    "decode",
    "decode_fields",
    "encode",
    "ticket_to_json",
]
