"""How values look to people (dashboard pages, dossier, appeal register): labels, local times, masks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from complaints.enums import Flag, Labelled
from complaints.schema import Column
from complaints.wire import COLUMNS, FieldError, decode
from server import privacy


def local_time(moment: datetime | None, zone: str) -> str:
    """``moment`` in the branch's time zone, to the minute; empty when there is none."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def show(key: str, value: Any, zone: str, lang: str, columns: dict[str, Column] = COLUMNS) -> str:
    """A model value of field ``key`` as text for people."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return local_time(value, zone)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("Yes" if value else "No")
    if isinstance(value, Labelled):
        return value.label(lang)
    if isinstance(value, frozenset | set | list | tuple):
        return "、".join(show(key, v, zone, lang, columns) for v in sorted(value, key=str))
    return str(value)


def show_stored(
    key: str, raw: Any, zone: str, lang: str, mask: bool, columns: dict[str, Column] = COLUMNS
) -> str:
    """A JSON value as kept in the history or a conflict, shown like the live field."""
    try:
        value = decode(key, raw, columns) if key in columns else raw
    except FieldError:
        value = raw
    return masked(key, show(key, value, zone, lang, columns), mask)


def masked(key: str, text: str, mask: bool) -> str:
    """``text`` of field ``key`` as a user who may not see phone numbers sees it (when ``mask``)."""
    if not mask:
        return text
    return privacy.masked(key, text)


def flag_labels(flags: Iterable[Flag], lang: str) -> list[tuple[str, bool]]:
    """(label, is overdue) per flag, overdue ones first."""
    ordered = sorted(flags, key=lambda f: (not f.is_overdue, f.value))
    return [(f.label(lang), f.is_overdue) for f in ordered]


def field_label(key: str, lang: str, columns: dict[str, Column] = COLUMNS) -> str:
    column = columns.get(key)
    return column.header(lang) if column is not None else key


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
