"""One policy for what a ticket, task or log entry may hold, whatever door it comes through.

The sync API, the workbook upload and the add-in all check with these functions,
so a value one door accepts always passes another: a stored text fits an Excel
cell and a stored time is one Excel can show, so the branch's merged workbook
can be uploaded again. Messages come in English and Chinese and name the field;
the doors add the place (row, sheet, column).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any

from complaints import rootcause
from complaints.enums import Fishbone
from complaints.lifecycle import milestone_errors
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import LOG, TASKS, TICKETS, ColType, Column

MAX_TEXT = 32_767
"""Excel's limit for one cell: a longer text would be cut in the workbook and the cut text pushed back."""
MAX_INT = 2**31 - 1
"""The database's INTEGER."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No complaint handled here happened before this: an earlier time is a typing error."""
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""Deadlines are counted past promised dates: far-future years would overflow the calendar arithmetic."""
CLOCK_SKEW = timedelta(minutes=15)
"""How far ahead of the server's clock a branch PC's clock may run before its events count as future."""

FUTURE_ALLOWED: frozenset[str] = frozenset(
    {
        "dept_feedback_due",
        "extension_until",
        "promised_at",
        "due",
        "measure_due",
        "ack_due",
        "plan_due",
        "resolve_due",
        "feedback_due",
        "revisit_from",
        "revisit_until",
        "appeal_risk_at",
    }
)
"""Datetime fields that hold a deadline or a promise, which may lie in the future; other times are events."""
IDENTIFIERS: frozenset[str] = frozenset({"ticket_id"})
"""Fields that name things in e-mail subjects, file names and links: no control characters at all."""

TICKET_COLUMNS: dict[str, Column] = {c.key: c for c in TICKETS.columns}
TASK_COLUMNS: dict[str, Column] = {c.key: c for c in TASKS.columns}
LOG_COLUMNS: dict[str, Column] = {c.key: c for c in LOG.columns}
REQUIRED: tuple[str, ...] = (
    *(c.key for c in TICKETS.columns if c.required and not c.computed),
    "grade",  # every deadline depends on it; a blank cell in a workbook reads as the default grade
)
"""What every ticket must hold (DESIGN §3.1, the standard's acceptance record): never empty."""
_required_of = attrgetter(*REQUIRED)


@dataclass(frozen=True, slots=True)
class Problem:
    """One value the policy refuses: the field, and what is wrong in both languages."""

    field: str
    en: str
    zh: str

    def __str__(self) -> str:
        return f"{self.field}: {self.en} / {self.zh}"

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


_NOT_CHARACTERS = re.compile("[\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
"""Control characters, line and paragraph separators and invisible formatting marks."""


_ESCAPED = re.compile("[\x00-\x08\x0b-\x1f]|_x[0-9A-Fa-f]{4}_")
"""What a workbook file writes 6 characters longer: a control character as ``_xHHHH_``, a literal
``_xHHHH_`` behind a ``_x005F`` prefix."""


def cell_length(text: str) -> int:
    """The length of ``text`` as an .xlsx file holds it, which is what spreadsheet libraries limit."""
    return len(text) + 6 * len(_ESCAPED.findall(text))


def _text_problem(key: str, text: str) -> Problem | None:
    length = cell_length(text) if len(text) > MAX_TEXT // 7 else len(text)
    if length > MAX_TEXT:
        return Problem(
            key,
            f"{length:,} characters is longer than an Excel cell holds ({MAX_TEXT:,}; a control character "
            "counts as 7); shorten it",
            f"共 {length:,} 个字符，超过 Excel 单元格的上限（{MAX_TEXT:,}，控制字符每个按 7 个计），请缩短",
        )
    broken = _NOT_CHARACTERS.search(text)
    if broken:
        code = ord(broken.group())
        return Problem(
            key,
            f"U+{code:04X} is not a character (a broken encoding); retype the text",
            f"U+{code:04X} 不是有效字符（编码损坏），请重新输入",
        )
    control = _CONTROL.search(text) if key in IDENTIFIERS else None
    if control:
        code = ord(control.group())
        return Problem(
            key,
            f"U+{code:04X} is a control character, not allowed in an identifier",
            f"编号中不能含有控制字符 U+{code:04X}",
        )
    return None


def _time_problem(key: str, moment: datetime | date, now: datetime) -> Problem | None:
    instant = (
        moment
        if isinstance(moment, datetime)
        else datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    )
    if instant < EARLIEST or instant > LATEST:
        return Problem(
            key,
            f"{moment.isoformat()} is outside {EARLIEST.year}–{LATEST.year}; check the year",
            f"{moment.isoformat()} 不在 {EARLIEST.year}–{LATEST.year} 年之间，请检查年份",
        )
    if key not in FUTURE_ALLOWED and isinstance(moment, datetime) and moment > now + CLOCK_SKEW:
        return Problem(
            key,
            f"{moment:%Y-%m-%d %H:%M} is in the future; record events when they have happened",
            f"{moment:%Y-%m-%d %H:%M} 是将来的时间，请在事情发生后再填写",
        )
    return None


def check_value(key: str, value: Any, column: Column, now: datetime) -> Problem | None:
    """What is wrong with one decoded value of ``column``, or None."""
    if value is None:
        return None
    kind = column.type
    if kind is ColType.TEXT and isinstance(value, str):
        return _text_problem(key, value)
    if kind in (ColType.DATETIME, ColType.DATE) and isinstance(value, date):
        return _time_problem(key, value, now)
    if kind is ColType.INT and isinstance(value, int) and not 0 <= value <= MAX_INT:
        return Problem(key, f"{value} is out of range (0–{MAX_INT})", f"{value} 超出范围（0–{MAX_INT}）")
    return None


def check_values(values: Mapping[str, Any], columns: Mapping[str, Column], now: datetime) -> list[Problem]:
    """Every refused value among ``values`` (decoded, keyed by field)."""
    if _plainly_valid(values, columns, now):
        return []
    found = (check_value(key, value, columns[key], now) for key, value in values.items() if key in columns)
    return [problem for problem in found if problem is not None]


def _plainly_valid(values: Mapping[str, Any], columns: Mapping[str, Column], now: datetime) -> bool:
    """Whether `check_value` would pass every value, seen in a few sweeps over the row.

    Imports and pushes check tens of thousands of rows, nearly all valid; a row this
    cannot vouch for is checked value by value, for the messages. The sweeps go over
    the row's values, not the columns' keys (a row fills few of the columns), and may
    look at more values than the exact check does (any text, any time): a row they
    cannot vouch for is only checked more slowly, never passed.
    """
    kinds = _kinds(columns)
    row = values.values()
    texts = [v for v in row if isinstance(v, str)]
    joined = "\n".join(texts)
    if len(joined) > MAX_TEXT // 7 and max(map(len, texts)) > MAX_TEXT // 7:
        return False
    try:
        joined.encode()  # refuses a lone surrogate, as _NOT_CHARACTERS does, many times faster
    except UnicodeEncodeError:
        return False
    if "\ufffe" in joined or "\uffff" in joined:
        return False
    get = values.get
    for key in kinds.names:
        name = get(key)
        if isinstance(name, str) and _CONTROL.search(name):
            return False
    moments = [v for v in row if isinstance(v, date)]
    if moments:
        if set(map(type, moments)) != {datetime}:
            return False  # a date without a time (task due dates): the exact check
        latest = max(moments)
        if latest > LATEST or min(moments) < EARLIEST:
            return False
        if latest > now + CLOCK_SKEW:  # a deadline or promise ahead, or an event in the future
            past = [v for k in kinds.past if isinstance(v := get(k), date)]
            if past and max(past) > now + CLOCK_SKEW:
                return False
    for key in kinds.ints:
        number = get(key)
        if isinstance(number, int) and not 0 <= number <= MAX_INT:
            return False
    return True


@dataclass(frozen=True)
class _Kinds:
    """The keys of some columns by what `check_value` checks in them."""

    names: tuple[str, ...]
    past: tuple[str, ...]
    ints: tuple[str, ...]


_KINDS: dict[int, tuple[Mapping[str, Column], _Kinds]] = {}


def _kinds(columns: Mapping[str, Column]) -> _Kinds:
    """`_Kinds` of ``columns``, kept per mapping (the schema's few)."""
    kept = _KINDS.get(id(columns))
    if kept is not None and kept[0] is columns:
        return kept[1]
    kinds = _Kinds(
        names=tuple(k for k, c in columns.items() if c.type is ColType.TEXT and k in IDENTIFIERS),
        past=tuple(
            k
            for k, c in columns.items()
            if c.type in (ColType.DATETIME, ColType.DATE) and k not in FUTURE_ALLOWED
        ),
        ints=tuple(k for k, c in columns.items() if c.type is ColType.INT),
    )
    _KINDS[id(columns)] = (columns, kinds)
    return kinds


def _missing(key: str, column: Column) -> Problem:
    return Problem(key, f"{column.en} is required", f"{column.zh}为必填项")


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_ticket(ticket: Ticket, offered: tuple[Fishbone, ...] = tuple(Fishbone)) -> list[Problem]:
    """What a whole ticket must satisfy: the required fields filled, the milestones in order, and its
    root cause and measure (``offered``: the fishbone categories this server offers)."""
    problems = [
        _missing(key, TICKET_COLUMNS[key])
        for key, value in zip(REQUIRED, _required_of(ticket), strict=True)
        if value is None or (isinstance(value, str) and not value.strip())
    ]
    problems += [
        Problem(
            error.field, f"milestones out of order: {error.message}", f"环节时间顺序有误：{error.message}"
        )
        for error in milestone_errors(ticket)
    ]
    problems += [Problem(*found) for found in rootcause.problems(ticket, offered)]
    return problems


def check_task(task: Task) -> list[Problem]:
    """A task needs its number and a title."""
    problems = []
    if task.task_no < 1:
        problems.append(_missing("task_no", TASK_COLUMNS["task_no"]))
    if not task.title.strip():
        problems.append(_missing("title", TASK_COLUMNS["title"]))
    return problems


def check_log(entry: LogEntry) -> list[Problem]:
    """A log entry needs a text (its time and kind are required by type)."""
    return [] if entry.text.strip() else [_missing("text", LOG_COLUMNS["text"])]
