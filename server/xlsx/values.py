"""Cell values <-> model values, one function per schema column type.

Shared by the template, the reader and the writer so that what is written reads
back equal. Conventions:

* Datetimes in cells are naive local times of the branch's zone, kept to the
  second (the writer drops microseconds; the reader rounds to the second).
* Text is stored as text. C0 control characters other than tab and line feed
  (which XML cannot hold) and carriage return (which XML parsers turn into a
  line feed) are written with the OOXML escape ``_xHHHH_``, and a literal
  ``_xHHHH_`` in the text gets its underscore escaped as ``_x005F_``. Excel,
  LibreOffice and calamine decode these, so the text round-trips exactly and
  a write never fails on a control character. Lone surrogates and U+FFFE /
  U+FFFF are not characters at all (no spreadsheet can hold them, and
  calamine does not decode their escapes): they are written as U+FFFD.
* Enumerations are written as labels of the workbook's language and read from
  a label in either language or the code; booleans as 是/否 or Y/N.
* Flags are written as their codes separated by ", " (language-neutral; the
  conditional formats and the Help sheet's legend rely on it).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, tzinfo

from openpyxl.utils.datetime import from_excel

from complaints.cells import (
    BOOL_LABELS,
    FLAG_SEPARATORS,
    TEXT_DATE_FORMATS,
    TEXT_DATETIME_FORMATS,
    round_second,
    to_local,
)
from complaints.enums import Flag, Labelled
from complaints.schema import ColType, Column
from complaints.sla import PENDING

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
INT_FORMAT = "0"

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
"""Leading characters that make a spreadsheet treat typed text as a formula (CSV-injection set)."""

DEADLINE_KEYS: frozenset[str] = frozenset(
    {
        "dept_feedback_due",
        "extension_until",
        "promised_at",
        "due",
        "ack_due",
        "plan_due",
        "resolve_due",
        "feedback_due",
        "revisit_from",
        "revisit_until",
        "appeal_risk_at",
    }
)
"""Datetime columns that hold a deadline or a promise, which may lie in the future."""

PENDING_KEYS: frozenset[str] = frozenset(
    {"ack_due", "plan_due", "resolve_due", "feedback_due", "revisit_from", "revisit_until", "appeal_risk_at"}
)
"""Computed deadline columns that may say "pending calendar" instead of a datetime."""

_ESCAPE_SEQUENCE = re.compile(r"_x[0-9A-Fa-f]{4}_")
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f]")
_NOT_CHARACTERS = re.compile("[\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"

BOOL_WORDS: dict[str, bool] = {
    **dict.fromkeys(("是", "y", "yes", "true", "1", "真", "√", "✓"), True),
    **dict.fromkeys(("否", "n", "no", "false", "0", "假", "×"), False),
}

# Excel's serial numbers for 1900-01-01 .. 9999-12-31
_SERIAL_MIN, _SERIAL_MAX = 1, 2_958_465


class Formula(str):
    """A cell's formula text (with its leading "="), as typed by a person."""


class CellValueError(ValueError):
    """A cell whose value does not fit its column; carries the message in both languages."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


# --- text ---------------------------------------------------------------------------------


def escape_text(text: str) -> str:
    """Text safe for an XML cell, decoded back to ``text`` by spreadsheet readers (see module doc).

    Text of white space only is escaped whole: openpyxl marks it ``xml:space="preserve"`` only
    when something else is in the cell, and without the mark Excel and calamine read it empty.
    """
    if text.isspace():
        return "".join(f"_x{ord(ch):04X}_" for ch in text)
    if "_x" in text:
        text = _ESCAPE_SEQUENCE.sub(lambda m: "_x005F" + m.group(0), text)
    text = _NOT_CHARACTERS.sub(REPLACEMENT, text)
    return _UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def unescape_text(text: str) -> str:
    """Decode ``_xHHHH_`` escapes (what Excel and calamine do on read; openpyxl does not)."""
    if "_x" not in text:
        return text
    return _ESCAPE_SEQUENCE.sub(lambda m: chr(int(m.group(0)[2:6], 16)), text)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` typed into a cell as a formula."""
    return text.startswith(FORMULA_TRIGGERS)


# --- flags and booleans ----------------------------------------------------------------


def format_flags(flags: frozenset[Flag] | set[Flag]) -> str:
    """Flag codes in the enumeration's order, separated by ", "."""
    return ", ".join(f.value for f in Flag if f in flags)


@functools.cache
def _members(enum: type[Labelled]) -> dict[str, Labelled]:
    """Code, zh and en label (casefolded) -> member: `Labelled.parse` as one dictionary look-up."""
    table: dict[str, Labelled] = {}
    for member in enum:
        for name in (member.value, member.zh, member.en):
            table.setdefault(name.casefold(), member)
    return table


def parse_member(enum: type[Labelled], text: str) -> Labelled:
    """``enum.parse(text)``, fast: the member whose code or label is ``text`` (case and blanks ignored)."""
    member = _members(enum).get(text.strip().casefold())
    return member if member is not None else enum.parse(text)


def parse_flags(text: str) -> frozenset[Flag]:
    """Flags from codes or labels separated by commas, semicolons, 、 or new lines."""
    return frozenset(
        parse_member(Flag, part)  # type: ignore[misc]
        for part in FLAG_SEPARATORS.split(text)
        if part.strip()
    )


# --- datetimes ---------------------------------------------------------------------------


def _describe(raw: object) -> str:
    if isinstance(raw, Formula):
        return raw
    if isinstance(raw, datetime | date):
        return raw.isoformat(sep=" ")
    return repr(raw) if isinstance(raw, str) else str(raw)


def _formula_error(raw: Formula) -> CellValueError:
    return CellValueError(
        f"a formula ({raw}) is not accepted here; type the value itself",
        f"此处不接受公式（{raw}），请直接输入值",
    )


def _parse_text_datetime(text: str) -> datetime | None:
    text = text.strip()
    for fmt in TEXT_DATETIME_FORMATS + TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed


def _naive_from_cell(raw: object, epoch: datetime) -> datetime:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if math.isfinite(raw) and _SERIAL_MIN <= raw <= _SERIAL_MAX:
            converted = from_excel(raw, epoch)
            if isinstance(converted, datetime):
                return converted
    if isinstance(raw, str):
        parsed = _parse_text_datetime(raw)
        if parsed is not None:
            return parsed
    raise CellValueError(
        f"{_describe(raw)} is not a date and time; type e.g. 2026-03-02 09:10",
        f"{_describe(raw)} 不是日期时间，请输入如 2026-03-02 09:10",
    )


# --- cell -> model -----------------------------------------------------------------------

Reader = Callable[[object], object]


def cell_reader(column: Column, zone: tzinfo, epoch: datetime) -> Reader:
    """A function turning a non-blank cell value of ``column`` into its model value."""
    kind = column.type
    if kind is ColType.TEXT:
        return _read_text
    if kind is ColType.DATETIME:
        pending = column.key in PENDING_KEYS

        def read_datetime(raw: object) -> object:
            if pending and isinstance(raw, str) and not isinstance(raw, Formula):
                if _members(Flag).get(raw.strip().casefold()) is Flag.PENDING_CALENDAR:
                    return PENDING
            naive = _naive_from_cell(raw, epoch)
            if naive.tzinfo is not None:
                return round_second(naive.astimezone(zone))
            return round_second(naive).replace(tzinfo=zone)

        return read_datetime
    if kind is ColType.DATE:

        def read_date(raw: object) -> date:
            if isinstance(raw, date) and not isinstance(raw, datetime):
                return raw
            try:
                return _naive_from_cell(raw, epoch).date()
            except CellValueError:
                raise CellValueError(
                    f"{_describe(raw)} is not a date; type e.g. 2026-03-02",
                    f"{_describe(raw)} 不是日期，请输入如 2026-03-02",
                ) from None

        return read_date
    if kind is ColType.INT:
        return _read_int
    if kind is ColType.BOOL:
        return _read_bool
    if kind is ColType.ENUM:
        assert column.enum is not None, column.key
        return _enum_reader(column.enum)
    if kind is ColType.FLAGS:
        return _read_flags
    raise AssertionError(f"unknown column type {kind}")


def is_blank(raw: object) -> bool:
    """An empty cell: nothing, or an empty string (whitespace is blank except in text columns)."""
    return raw is None or raw == ""


def _read_text(raw: object) -> str:
    if isinstance(raw, str):
        return str(raw)
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, datetime):
        if raw.time() == time():
            return raw.date().isoformat()
        return raw.strftime("%Y-%m-%d %H:%M" if raw.second == 0 else "%Y-%m-%d %H:%M:%S")
    if isinstance(raw, date | time):
        return raw.isoformat()
    return str(raw)


def _read_int(raw: object) -> int:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
        return int(raw.strip())
    raise CellValueError(f"{_describe(raw)} is not a whole number", f"{_describe(raw)} 不是整数")


def _read_bool(raw: object) -> bool:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().casefold() in BOOL_WORDS:
        return BOOL_WORDS[raw.strip().casefold()]
    raise CellValueError(
        f"{_describe(raw)} is not yes or no; type 是/否, Y/N or TRUE/FALSE",
        f"{_describe(raw)} 不是“是/否”，请输入 是/否、Y/N 或 TRUE/FALSE",
    )


def _enum_reader(enum: type[Labelled]) -> Reader:
    allowed_zh = "、".join(m.zh for m in enum)
    allowed_en = ", ".join(m.en for m in enum)

    def read_enum(raw: object) -> Labelled:
        if isinstance(raw, Formula):
            raise _formula_error(raw)
        if isinstance(raw, str):
            try:
                return parse_member(enum, raw)
            except ValueError:
                pass
        raise CellValueError(
            f"{_describe(raw)} is not one of: {allowed_en}",
            f"{_describe(raw)} 不是以下之一：{allowed_zh}",
        )

    return read_enum


def _read_flags(raw: object) -> frozenset[Flag]:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, str):
        try:
            return parse_flags(raw)
        except ValueError as exc:
            raise CellValueError(f"unknown flag in {raw!r}: {exc}", f"{raw!r} 中有未知的预警标记") from None
    raise CellValueError(f"{_describe(raw)} is not a list of flags", f"{_describe(raw)} 不是预警标记")


# --- model -> cell -----------------------------------------------------------------------

Writer = Callable[[object], object]


def cell_writer(column: Column, lang: str, zone: tzinfo) -> Writer:
    """A function turning a model value of ``column`` into the value to put in the cell (None = empty)."""
    kind = column.type
    if kind is ColType.TEXT:
        return _write_text
    if kind is ColType.DATETIME:
        pending_label = Flag.PENDING_CALENDAR.label(lang)

        def write_datetime(value: object) -> object:
            if value is None:
                return None
            if value == PENDING:
                return pending_label
            if not isinstance(value, datetime):
                raise TypeError(f"{column.key}: expected a datetime, got {value!r}")
            return to_local(value, zone)

        return write_datetime
    if kind is ColType.DATE:

        def write_date(value: object) -> object:
            if value is None:
                return None
            if isinstance(value, datetime) or not isinstance(value, date):
                raise TypeError(f"{column.key}: expected a date, got {value!r}")
            return value

        return write_date
    if kind is ColType.INT:
        return lambda value: value
    if kind is ColType.BOOL:
        yes, no = BOOL_LABELS.get(lang, BOOL_LABELS["en"])
        return lambda value: yes if value else no
    if kind is ColType.ENUM:
        return lambda value: None if value is None else value.label(lang)  # type: ignore[attr-defined]
    if kind is ColType.FLAGS:
        return lambda value: format_flags(value) or None  # type: ignore[arg-type]
    raise AssertionError(f"unknown column type {kind}")


def _write_text(value: object) -> object:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return escape_text(value)


def number_format(column: Column) -> str:
    """The cell number format for a column of this type."""
    return {
        ColType.DATETIME: DATETIME_FORMAT,
        ColType.DATE: DATE_FORMAT,
        ColType.INT: INT_FORMAT,
    }.get(column.type, TEXT_FORMAT)
