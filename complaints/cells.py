"""The one cell codec: cell values <-> model values for the workbook schema's column types.

Every engine that reads or writes a branch workbook (calamine and openpyxl on
the server, xlwings in the add-in) hands its cell values to these functions;
none of them needs a spreadsheet library. The conventions (DESIGN §4):

* datetimes in cells are naive local times of the branch's zone, to the second;
  a cell may also hold an Excel serial number (of the workbook's date system)
  or a typed text such as ``2026-03-02 09:10``;
* enumerations are written as labels of the workbook's language and read from
  a label in either language or the code; booleans as 是/否 or Y/N (read also
  from √/×, TRUE/FALSE, 1/0);
* flags are labels of the workbook's language (信息不全 naming the missing
  fields in brackets), read from labels of either language or codes, a
  bracketed detail ignored; the codes stay in the database and on the wire;
* a computed deadline pending the holiday calendar is written as the
  *pending calendar* label;
* a cell holding a formula reaches the codec as `Formula` (an engine that sees
  formulas marks them): its text is kept in a text column and refused, with a
  message saying so, in every other column.

How text is stored in the file (the OOXML ``_xHHHH_`` escape, the quote
prefix) is the file writer's business, not the codec's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TypeVar

from complaints.enums import Flag, Labelled, names_of
from complaints.schema import TICKETS, ColType, Column
from complaints.sla import PENDING
from complaints.wire import DEADLINE_COLUMNS

BOOL_WORDS: dict[str, bool] = {
    **dict.fromkeys(("是", "y", "yes", "true", "1", "真", "√", "✓"), True),
    **dict.fromkeys(("否", "n", "no", "false", "0", "假", "×"), False),
}
BOOL_LABELS = {"zh": ("是", "否"), "en": ("Y", "N")}

PENDING_KEYS: frozenset[str] = frozenset(DEADLINE_COLUMNS)
"""Computed deadline columns that may say "pending calendar" instead of a datetime."""

TEXT_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
TEXT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
FLAG_SEPARATORS = re.compile(r"[,;，；、\n]+")
FLAG_DETAIL = re.compile(r"（缺：[^）]*）|\s*\(missing: [^)]*\)")
"""A bracketed detail after a flag's label (the fields information incomplete misses): not a flag."""

EXCEL_1900 = datetime(1899, 12, 30)
"""Day 0 of Excel's default (1900) date system, as serial numbers count it."""
EXCEL_1904 = datetime(1904, 1, 1)
"""Day 0 of the 1904 date system (old Mac workbooks)."""
_SERIAL_MIN, _SERIAL_MAX = 1, 2_958_465
"""Excel's serial numbers for 1900-01-01 .. 9999-12-31 (1900 date system)."""
_FAKE_LEAP_DAY = 60
"""Excel's serial of 1900-02-29, a day that never was: earlier serials are one day off from the epoch."""


class Formula(str):
    """A cell's formula text (with its leading "="), as typed by a person."""


class CellValueError(ValueError):
    """A cell whose value does not fit its column; carries the message in both languages."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def is_blank(raw: object) -> bool:
    """An empty cell: nothing, or an empty string."""
    return raw is None or raw == ""


# --- flags, booleans, datetimes ------------------------------------------------------------


def format_flags(flags: Iterable[Flag], lang: str | None = None, missing: Sequence[str] = ()) -> str:
    """Flags in the enumeration's order: codes separated by ", " (``lang`` None), else labels of ``lang``.

    ``missing`` (ticket attributes, `textcheck.missing_information`) is named
    in brackets after *information incomplete*, in the headers of ``lang``.
    """
    present = set(flags)
    if lang is None:
        return ", ".join(f.value for f in Flag if f in present)
    shown = []
    for flag in (f for f in Flag if f in present):
        text = flag.label(lang)
        if flag is Flag.INFO_INCOMPLETE and missing:
            names = [TICKETS.column(key).header(lang) for key in missing]
            text += f"（缺：{'、'.join(names)}）" if lang == "zh" else f" (missing: {', '.join(names)})"
        shown.append(text)
    return ("、" if lang == "zh" else ", ").join(shown)


def parse_flags(text: str) -> frozenset[Flag]:
    """Flags from codes or labels separated by commas, semicolons, 、 or new lines."""
    return frozenset(
        Flag.parse(part) for part in FLAG_SEPARATORS.split(FLAG_DETAIL.sub("", text)) if part.strip()
    )


def bool_label(value: bool, lang: str) -> str:
    """是/否 in a Chinese workbook, Y/N in an English one."""
    yes, no = BOOL_LABELS.get(lang, BOOL_LABELS["en"])
    return yes if value else no


def to_local(moment: datetime, zone: tzinfo) -> datetime:
    """An aware datetime as the naive local time a cell holds, to the second."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no time zone; the model uses aware times")
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def from_serial(number: float, epoch: datetime = EXCEL_1900) -> datetime:
    """The naive datetime of an Excel serial number in the date system from ``epoch``, to the second."""
    day, fraction = divmod(number, 1)
    if epoch == EXCEL_1900 and 0 < number < _FAKE_LEAP_DAY:
        day += 1
    # to the millisecond first, as Excel stores times, then to the second
    moment = epoch + timedelta(days=day, milliseconds=round(fraction * 86_400_000))
    return round_second(moment)


def round_second(moment: datetime) -> datetime:
    """``moment`` rounded to the nearest second (half a second up)."""
    if moment.microsecond == 0:
        return moment
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1) if moment.microsecond >= 500_000 else whole


def describe(raw: object) -> str:
    """A cell value as it reads in a message."""
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


def parse_text_datetime(text: str) -> datetime | None:
    """A datetime typed as text (``2026-03-02 09:10``, ``2026/3/2``, ISO), or None."""
    text = text.strip()
    for fmt in TEXT_DATETIME_FORMATS + TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def naive_datetime(raw: object, epoch: datetime = EXCEL_1900) -> datetime:
    """A datetime cell's value (aware only if typed with an offset); `CellValueError` if it is not one."""
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if math.isfinite(raw) and _SERIAL_MIN <= raw <= _SERIAL_MAX:
            return from_serial(raw, epoch)
    if isinstance(raw, str):
        parsed = parse_text_datetime(raw)
        if parsed is not None:
            return parsed
    raise CellValueError(
        f"{describe(raw)} is not a date and time; type e.g. 2026-03-02 09:10",
        f"{describe(raw)} 不是日期时间，请输入如 2026-03-02 09:10",
    )


# --- cell -> model -------------------------------------------------------------------------


def read_text(raw: object) -> str:
    """Any cell value as the text a person sees (a phone number typed as a number keeps its digits)."""
    if type(raw) is str:
        return raw
    if isinstance(raw, str):  # a formula: its text, as typed
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


def read_datetime(raw: object, zone: tzinfo, pending: bool = False, epoch: datetime = EXCEL_1900) -> object:
    """An aware datetime (or `PENDING` for a computed deadline that says so)."""
    if pending and isinstance(raw, str) and not isinstance(raw, Formula):
        if names_of(Flag).get(raw.strip().casefold()) is Flag.PENDING_CALENDAR:
            return PENDING
    naive = naive_datetime(raw, epoch)
    if naive.tzinfo is not None:
        return round_second(naive.astimezone(zone))
    return round_second(naive).replace(tzinfo=zone)


def read_date(raw: object, epoch: datetime = EXCEL_1900) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    try:
        return naive_datetime(raw, epoch).date()
    except CellValueError:
        if isinstance(raw, Formula):
            raise
        raise CellValueError(
            f"{describe(raw)} is not a date; type e.g. 2026-03-02",
            f"{describe(raw)} 不是日期，请输入如 2026-03-02",
        ) from None


def read_int(raw: object) -> int:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
        return int(raw.strip())
    raise CellValueError(f"{describe(raw)} is not a whole number", f"{describe(raw)} 不是整数")


def read_bool(raw: object) -> bool:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().casefold() in BOOL_WORDS:
        return BOOL_WORDS[raw.strip().casefold()]
    raise CellValueError(
        f"{describe(raw)} is not yes or no; type 是/否, Y/N or TRUE/FALSE",
        f"{describe(raw)} 不是“是/否”，请输入 是/否、Y/N 或 TRUE/FALSE",
    )


def read_enum(raw: object, enum: type[Labelled]) -> Labelled:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, str):
        member = names_of(enum).get(raw.strip().casefold())
        if member is not None:
            return member
    raise CellValueError(
        f"{describe(raw)} is not one of: {', '.join(m.en for m in enum)}",
        f"{describe(raw)} 不是以下之一：{'、'.join(m.zh for m in enum)}",
    )


def read_flags(raw: object) -> frozenset[Flag]:
    if isinstance(raw, Formula):
        raise _formula_error(raw)
    if isinstance(raw, str):
        try:
            return parse_flags(raw)
        except ValueError as exc:
            raise CellValueError(f"unknown flag in {raw!r}: {exc}", f"{raw!r} 中有未知的预警标记") from None
    raise CellValueError(f"{describe(raw)} is not a list of flags", f"{describe(raw)} 不是预警标记")


Reader = Callable[[object], object]
_T = TypeVar("_T")


def _as_written(table: dict[str, _T]) -> dict[str, _T]:
    """The entries of a lookup by stripped, casefolded text whose key a cell can hold as it is."""
    return {text: value for text, value in table.items() if text.strip().casefold() == text}


_EXACT_BOOL_WORDS = _as_written(BOOL_WORDS)


def reader(column: Column, zone: tzinfo, epoch: datetime = EXCEL_1900) -> Reader:
    """The function turning a non-blank cell of ``column`` into its model value (or `CellValueError`).

    ``epoch`` is day 0 of the workbook's date system, for serial numbers in date columns.
    """
    # each reader takes the commonest cell (what Excel stores for the type) first: a workbook has many rows
    kind = column.type
    if kind is ColType.TEXT:
        return read_text
    if kind is ColType.DATETIME:
        pending = column.key in PENDING_KEYS

        def read_moment(raw: object) -> object:
            if type(raw) is datetime and raw.tzinfo is None:
                return round_second(raw).replace(tzinfo=zone)
            return read_datetime(raw, zone, pending, epoch)

        return read_moment
    if kind is ColType.DATE:
        return lambda raw: read_date(raw, epoch)
    if kind is ColType.INT:
        return read_int
    if kind is ColType.BOOL:

        def read_yes_no(raw: object) -> object:
            if type(raw) is str:
                meaning = _EXACT_BOOL_WORDS.get(raw)  # as written (是/否): no strip or casefold
                if meaning is not None:
                    return meaning
                meaning = BOOL_WORDS.get(raw.strip().casefold())
                if meaning is not None:
                    return meaning
            return read_bool(raw)

        return read_yes_no
    if kind is ColType.ENUM:
        enum = column.enum
        assert enum is not None, column.key
        members = names_of(enum)
        exact = _as_written(members)

        def read_member(raw: object) -> object:
            if type(raw) is str:
                member = exact.get(raw)  # a label as written (the Chinese ones): no strip or casefold
                if member is not None:
                    return member
                member = members.get(raw.strip().casefold())
                if member is not None:
                    return member
            return read_enum(raw, enum)

        return read_member
    if kind is ColType.FLAGS:
        seen: dict[str, frozenset[Flag]] = {}

        def read_flag_list(raw: object) -> object:
            # a sheet repeats a few combinations: each parsed, and kept in memory, once
            if type(raw) is str:
                flags = seen.get(raw)
                if flags is None:
                    flags = seen[raw] = read_flags(raw)
                return flags
            return read_flags(raw)

        return read_flag_list
    raise AssertionError(f"unknown column type {kind}")


def read_cell(column: Column, raw: object, zone: tzinfo, epoch: datetime = EXCEL_1900) -> object:
    """The model value of a non-blank cell of ``column``; `CellValueError` (zh and en) if it does not fit."""
    return reader(column, zone, epoch)(raw)


# --- model -> cell -------------------------------------------------------------------------

Writer = Callable[[object], object]


def writer(column: Column, lang: str, zone: tzinfo) -> Writer:
    """The function turning a model value of ``column`` into the value to put in its cell (None = empty).

    Datetimes become naive local times; enumerations labels of ``lang``;
    booleans 是/否 or Y/N; flags their labels; text stays as it is.
    """
    kind = column.type
    if kind is ColType.TEXT:

        def write_text(value: object) -> object:
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise TypeError(f"{column.key}: expected text, got {value!r}")
            return value

        return write_text
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
        return lambda value: None if value is None else (yes if value else no)
    if kind is ColType.ENUM:
        return lambda value: None if value is None else value.label(lang)  # type: ignore[attr-defined]
    if kind is ColType.FLAGS:
        return lambda value: None if value is None else (format_flags(value, lang) or None)  # type: ignore[arg-type]
    raise AssertionError(f"unknown column type {kind}")


def write_cell(column: Column, value: object, lang: str, zone: tzinfo) -> object:
    """The value to put in a cell of ``column`` for a model value (None = empty cell)."""
    return writer(column, lang, zone)(value)
