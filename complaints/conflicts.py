"""A sync conflict as a row of the workbook's Conflicts sheet, the same from the Sync button and the upload.

A conflict arrives as the sync API returns it: ``{id, entity, sync_key,
ticket_id, field, branch_value, server_value, detected_at, resolved,
resolution}``, values in their JSON form. The coordinator reads it in the
workbook's language and time zone: the field by its column header, each value
as the cells of that column show it (a local time, a label, 是/否), the
detection time local.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from complaints.cells import write_cell
from complaints.schema import CONFLICTS, Column
from complaints.wire import COLUMNS, TASK_COLUMNS, FieldError, decode


def conflict_cells(conflict: Mapping[str, Any], lang: str, zone: tzinfo) -> dict[str, object]:
    """The cells of ``conflict``'s Conflicts row, by column key (None = empty cell)."""
    columns = TASK_COLUMNS if conflict.get("entity") == "task" else COLUMNS
    name = str(conflict.get("field") or "")
    column = columns.get(name)
    try:
        detected = decode("received_at", conflict.get("detected_at"))
    except FieldError:
        detected = None
    row = {
        "ticket_id": str(conflict.get("ticket_id") or ""),
        "field": column.header(lang) if column is not None else name,
        "branch_value": _shown(column, columns, conflict.get("branch_value"), lang, zone),
        "server_value": _shown(column, columns, conflict.get("server_value"), lang, zone),
        "detected_at": detected,
        "conflict_id": str(conflict["id"]),
    }
    return {c.key: write_cell(c, row[c.key], lang, zone) for c in CONFLICTS.columns}


def _shown(column: Column | None, columns: dict[str, Column], raw: Any, lang: str, zone: tzinfo) -> str:
    """A field's JSON value as the text its cell shows; as it came when the field is unknown to the schema."""
    if column is None:
        return "" if raw is None else str(raw)
    try:
        cell = write_cell(column, decode(column.key, raw, columns), lang, zone)
    except (FieldError, TypeError):
        return str(raw)
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d %H:%M")
    if isinstance(cell, date):
        return cell.isoformat()
    return "" if cell is None else str(cell)
