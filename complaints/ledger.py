"""A branch's own complaint ledger (投诉台账) read into tickets: header, column mapping, rows, problems.

A ledger kept by hand has a title row ("XX分公司2026年投诉台账") above its
headers, sometimes two header rows (a merged group over its columns), blank
spacer rows and a totals row at the bottom. `read_ledger` finds the header in
the first rows of each sheet, maps its columns to ticket fields by the
headers' zh/en synonyms and, for the columns no header named, by the values
they hold (a column of 11-digit numbers is the phone), then reads every row:

* values normalised (`complaints.ledger_values`); a category or channel the
  enumerations do not know becomes Other, and the text as typed is kept in
  the ticket's import note — never dropped;
* milestones the ledger implies: a result with a date resolved the complaint
  and told the customer, closing it (`implied_milestones`); a satisfaction
  answer is the revisit. The ticket carries the import's moment, so what was
  due before it is history (`complaints.history`);
* a stable sync key from the branch and the row's identity (number, date,
  phone, complaint), so importing the same ledger twice changes nothing;
* every problem named by sheet, row and column in both languages: ``errors``
  keep the ledger from being imported, ``notices`` only tell.

Pure: the caller hands in each sheet's rows of cell values (merged cells
filled with their value) and the moment of the import.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from itertools import islice
from typing import Any

from complaints.cells import EXCEL_1900, CellValueError, read_text
from complaints.contacts import mask_phones
from complaints.enums import Channel, Grade, LogKind, Satisfaction
from complaints.layout import column_letter, normalise_header
from complaints.ledger_values import (
    LedgerDate,
    Spelling,
    date_in_text,
    is_totals,
    looks_like_date,
    looks_like_phone,
    phone_text,
    read_category,
    read_channel,
    read_ledger_date,
    read_satisfaction,
    year_in,
)
from complaints.lifecycle import derive_status
from complaints.model import LogEntry, Ticket
from complaints.problems import Problem
from complaints.validation import TICKET_COLUMNS, check_ticket, check_values

HEADER_SEARCH_ROWS = 15
"""The header is looked for in this many rows from the top of a sheet."""
VALUE_SAMPLE = 200
"""Rows whose values are looked at to map a column no header named."""
VALUE_SHARE = 0.8
"""Share of a column's filled cells that must look like phones (or dates) for it to be taken as one."""
PREVIEW_ROWS = 20


@dataclass(frozen=True, slots=True)
class LedgerField:
    """A ticket field a ledger column may hold, with the header words that name it."""

    key: str
    zh: str
    en: str
    names: tuple[str, ...]
    """Headers that name the field exactly (compared casefolded, blanks and punctuation ignored)."""
    words: tuple[str, ...] = ()
    """Words a longer header contains ("客户联系电话" contains 电话)."""

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


FIELDS: tuple[LedgerField, ...] = (
    LedgerField("ledger_no", "序号", "No.", ("序号", "编号", "流水号", "工单号", "no", "no.", "#", "serial"),
                ("序号", "编号")),
    LedgerField("received_at", "受理日期", "Received", (
        "日期", "受理时间", "受理日期", "投诉日期", "投诉时间", "登记日期", "登记时间", "来电时间", "时间",
        "date", "received", "received at", "date received"), ("受理", "投诉日期", "投诉时间", "登记")),
    LedgerField("customer_name", "客户姓名", "Customer name", (
        "客户姓名", "姓名", "客户名称", "客户", "投诉人", "用户姓名", "用户", "联系人", "customer",
        "name", "customer name"), ("姓名", "投诉人")),
    LedgerField("contact", "联系电话", "Contact", (
        "联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "用户号码", "客户号码", "号码",
        "phone", "mobile", "contact", "tel", "telephone"), ("电话", "手机", "号码", "联系方式")),
    LedgerField("description", "投诉内容", "Complaint", (
        "投诉内容", "问题描述", "投诉事由", "事由", "内容", "反映问题", "投诉问题", "问题", "complaint",
        "description", "issue"), ("投诉内容", "描述", "事由", "反映")),
    LedgerField("result", "处理结果", "Result", (
        "处理结果", "处理情况", "处理意见", "回复内容", "结果", "处理过程", "result", "resolution",
        "outcome"), ("处理结果", "处理情况", "处理意见")),
    LedgerField("resolved_at", "处理完成日期", "Resolved on", (
        "处理时间", "处理日期", "办结时间", "办结日期", "完成时间", "完成日期", "解决时间", "处理完成时间",
        "resolved", "resolved at", "resolved on"), ("办结", "完成时间", "完成日期", "解决时间")),
    LedgerField("closed_at", "结案日期", "Closed on", (
        "结案时间", "结案日期", "闭环时间", "闭环日期", "closed", "closed at", "closed on"),
        ("结案", "闭环")),
    LedgerField("revisited_at", "回访日期", "Revisited on", (
        "回访时间", "回访日期", "revisited", "revisited at", "revisit date"), ()),
    LedgerField("handler", "处理人", "Handled by", (
        "处理人", "经办人", "责任人", "承办人", "处理人员", "handler", "handled by", "owner"),
        ("处理人", "经办", "承办")),
    LedgerField("satisfaction", "是否满意", "Satisfied", (
        "是否满意", "满意度", "客户满意", "满意", "回访结果", "客户评价", "satisfied", "satisfaction"),
        ("满意",)),
    LedgerField("category", "类别", "Category", (
        "类别", "投诉类别", "投诉类型", "问题类型", "类型", "分类", "问题分类", "业务类型", "category",
        "type"), ("类别", "类型", "分类")),
    LedgerField("channel", "渠道", "Channel", (
        "渠道", "受理渠道", "来源", "投诉渠道", "投诉来源", "来源渠道", "channel", "source"),
        ("渠道", "来源")),
    LedgerField("place", "地址/小区", "Address / compound", (
        "地址", "小区", "地点", "问题地点", "所在小区", "装机地址", "住址", "address", "place", "location"),
        ("地址", "小区", "地点")),
    LedgerField("department", "责任部门", "Department", (
        "责任部门", "部门", "处理部门", "承办部门", "department"), ("部门",)),
    LedgerField("expectation", "客户诉求", "Expectation", (
        "诉求", "客户诉求", "诉求期望", "客户要求", "expectation", "demand"), ("诉求",)),
    LedgerField("remark", "备注", "Remark", ("备注", "说明", "remark", "remarks", "note", "notes"),
                ("备注",)),
)  # fmt: skip
BY_KEY: dict[str, LedgerField] = {f.key: f for f in FIELDS}
DATE_FIELDS = frozenset({"received_at", "resolved_at", "closed_at", "revisited_at"})
TICKET_FIELDS: tuple[str, ...] = (
    "received_at", "channel", "customer_name", "contact", "category", "place", "description", "expectation",
    "department", "investigator", "solution", "resolved_at", "feedback_at", "closed_at", "revisited_at",
    "satisfaction",
)  # fmt: skip
"""The ticket fields a ledger row sets: what importing the ledger again may change."""
FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    "result": ("solution", "resolved_at", "feedback_at", "closed_at", "revisited_at"),
    "handler": ("investigator",),
    "resolved_at": ("resolved_at", "feedback_at", "closed_at", "revisited_at"),
    "closed_at": ("closed_at", "revisited_at"),
    "satisfaction": ("satisfaction", "revisited_at"),
    "ledger_no": (),
    "remark": (),
}
"""A ledger column -> the ticket fields it sets (the others set the field of their own name)."""
FIRST_IMPORT_FIELDS: tuple[str, ...] = ("ticket_id", "grade", "imported_at")
"""Set when a row is first imported, never again (a number is kept, a grade is the branch's to change)."""
COMPLAINT_FIELDS = ("description", "contact", "customer_name")
"""A row holding none of these is no complaint (a month's sub-title, a pre-numbered empty row)."""

_CHECKED = (*TICKET_FIELDS, *FIRST_IMPORT_FIELDS)
_read_date = lru_cache(maxsize=8192, typed=True)(read_ledger_date)
"""Ledgers repeat a day's date on many rows."""
_SOURCE = {"solution": "result", "investigator": "handler", "feedback_at": "resolved_at"}
"""Ticket fields -> the ledger column they came from, where the names differ."""
_PUNCTUATION = re.compile(r"[\s:：*＊()（）\[\]【】/、_\-]+")


def _fold(text: str) -> str:
    return _PUNCTUATION.sub("", text).casefold()


_EXACT: dict[str, str] = {_fold(name): f.key for f in FIELDS for name in (*f.names, f.zh, f.en)}


def field_for_header(text: str) -> str | None:
    """The field a header names: exactly (one of its names), else by the longest word it contains."""
    folded = _fold(text)
    if not folded:
        return None
    if folded in _EXACT:
        return _EXACT[folded]
    best: tuple[int, str] | None = None
    for f in FIELDS:
        for word in f.words:
            if _fold(word) in folded and (best is None or len(word) > best[0]):
                best = (len(word), f.key)
    return best[1] if best else None


# --- the mapping ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class ColumnChoice:
    """One column of a sheet: where, its header, the field it holds (None: not imported) and why."""

    position: int
    header: str
    field: str | None
    how: str
    """"header", "values" (what the column holds), "mapping" (the given or confirmed mapping) or ""."""

    @property
    def letter(self) -> str:
        return column_letter(self.position)


@dataclass(slots=True)
class SheetPlan:
    """How one sheet is read: its header rows (Excel numbers), its columns, the year of bare dates."""

    title: str
    header_rows: tuple[int, ...]
    columns: list[ColumnChoice]
    year: int | None
    tickets: int = 0
    skipped: int = 0

    def column(self, key: str) -> ColumnChoice | None:
        return next((c for c in self.columns if c.field == key), None)


@dataclass(slots=True)
class ColumnMapping:
    """What a person said about the columns, applied over what was detected.

    ``columns`` maps a header (as the preview shows it) or a column letter to a
    field key, or to None to leave the column out. ``channel`` is the channel
    of rows whose ledger names none; ``year`` completes dates written without one.
    """

    columns: dict[str, str | None] = field(default_factory=dict)
    year: int | None = None
    channel: Channel | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": dict(self.columns)}
        if self.year is not None:
            out["year"] = self.year
        if self.channel is not None:
            out["channel"] = self.channel.value
        return out

    @classmethod
    def from_json(cls, data: object) -> ColumnMapping:
        """A mapping from its JSON; `ValueError` naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a mapping is a JSON object / 映射须为 JSON 对象")
        columns = data.get("columns", {})
        if not isinstance(columns, dict):
            raise ValueError('"columns" must map headers or letters to fields / "columns" 须为 表头→字段')
        for key, value in columns.items():
            if value is not None and value not in BY_KEY:
                known = ", ".join(BY_KEY)
                raise ValueError(f"column {key!r}: unknown field {value!r} (known: {known}) / 未知字段")
        year = data.get("year")
        if year is not None and (not isinstance(year, int) or not 2000 <= year <= 2999):
            raise ValueError('"year" must be a year such as 2026 / "year" 须为年份，如 2026')
        channel = data.get("channel")
        try:
            parsed = Channel.parse(channel) if channel else None
        except ValueError as exc:
            raise ValueError(f'"channel": {exc} / 无法识别的渠道') from exc
        return cls(dict(columns), year, parsed)  # type: ignore[arg-type]

    def merged(self, plans: Iterable[SheetPlan]) -> ColumnMapping:
        """This mapping with every column of ``plans`` named by its header: what a confirmation keeps."""
        columns = dict(self.columns)
        for plan in plans:
            for c in plan.columns:
                if c.header and c.header not in columns:
                    columns[c.header] = c.field
        return ColumnMapping(columns, self.year, self.channel)


def _header_block(rows: Sequence[Sequence[object]]) -> tuple[tuple[int, ...], dict[int, str], dict[int, str]]:
    """The header rows (0-based) of a sheet's first rows, each column's header text and detected field.

    One row, or two when the second adds fields: a merged group label above its columns
    ("客户信息" over 姓名 and 电话), or a field above a blank (a header merged down two rows).
    """
    texts = [[normalise_header(v) if isinstance(v, str) else "" for v in row] for row in rows]
    fields = [[field_for_header(t) for t in row] for row in texts]

    def block(indices: tuple[int, ...]) -> tuple[dict[int, str], dict[int, str]]:
        found: dict[int, str] = {}
        labels: dict[int, str] = {}
        width = max(len(texts[i]) for i in indices)
        for position in range(width):
            parts = [texts[i][position] for i in indices if position < len(texts[i]) and texts[i][position]]
            if parts:
                labels[position] = " / ".join(dict.fromkeys(parts))
            for i in reversed(indices):  # the lower row names the column, the upper one groups it
                key = fields[i][position] if position < len(fields[i]) else None
                if key is not None:
                    found[position] = key
                    break
        return found, labels

    alone = [len({f for f in row if f}) for row in fields]
    best: tuple[int, tuple[int, ...]] | None = None
    for i in range(len(rows)):
        for indices in ((i,), (i, i + 1)):
            if indices[-1] >= len(rows):
                continue
            found, _ = block(indices)
            score = len(set(found.values()))
            pair = (alone[i], alone[i + 1]) if len(indices) == 2 else ()
            if pair and not _second_header_row(rows[i + 1], texts[i], texts[i + 1], score > max(pair)):
                continue
            if best is None or score > best[0]:
                best = (score, indices)
    if best is None or best[0] < 2:
        return (), {}, {}
    found, labels = block(best[1])
    return best[1], labels, found


def _second_header_row(row: Sequence[object], upper: list[str], lower: list[str], adds: bool) -> bool:
    """Whether ``row`` is a header's second row: text only (a data row holds a date, a number or a phone)
    that names fields neither row names alone (``adds``), or repeats the row above (merged cells filled)."""
    filled = [v for v in row if v not in (None, "")]
    if not filled or any(not isinstance(v, str) or looks_like_date(v) or looks_like_phone(v) for v in filled):
        return False
    return adds or sum(1 for a, b in zip(upper, lower, strict=False) if a and a == b) >= 2


def plan_sheet(
    title: str,
    head: Sequence[Sequence[object]],
    mapping: ColumnMapping,
    year_hints: Sequence[str] = (),
    epoch: datetime = EXCEL_1900,
) -> SheetPlan | None:
    """How to read a sheet whose first rows are ``head`` (None: no ledger header in them)."""
    indices, labels, found = _header_block(head[:HEADER_SEARCH_ROWS])
    if not indices:
        return None
    width = max(len(r) for r in head)
    columns: list[ColumnChoice] = []
    taken: set[str] = set()
    for position in range(width):
        header = labels.get(position, "")
        given = _given(mapping, header, column_letter(position))
        if given is not _NOTHING:
            columns.append(ColumnChoice(position, header, given, "mapping"))  # type: ignore[arg-type]
            continue
        key = found.get(position)
        if key in taken:
            key = None
        columns.append(ColumnChoice(position, header, key, "header" if key else ""))
    taken.update(c.field for c in columns if c.field)
    data = head[indices[-1] + 1 :]
    _map_by_values(columns, data, taken, epoch)
    titles = [read_text(v) for row in head[: indices[0]] for v in row if v not in (None, "")]
    year = mapping.year or next(
        (y for y in (year_in(t) for t in (*titles, title, *year_hints)) if y is not None), None
    )
    return SheetPlan(title, tuple(i + 1 for i in indices), columns, year)


_NOTHING = object()


def _given(mapping: ColumnMapping, header: str, letter: str) -> object:
    for key in (header, letter):
        if key and key in mapping.columns:
            return mapping.columns[key]
    return _NOTHING


def _map_by_values(
    columns: list[ColumnChoice], data: Sequence[Sequence[object]], taken: set[str], epoch: datetime
) -> None:
    """Columns no header named: a column of mobile numbers is the contact, one of dates the receipt."""
    for column in columns:
        if column.field is not None or column.how == "mapping":
            continue
        values = [
            row[column.position]
            for row in islice(data, VALUE_SAMPLE)
            if column.position < len(row) and row[column.position] not in (None, "")
        ]
        if len(values) < 2:
            continue
        for key in ("contact", "received_at"):
            if key in taken:
                continue
            if key == "contact":
                hits = sum(1 for v in values if looks_like_phone(v))
            else:
                hits = sum(1 for v in values if looks_like_date(v, epoch))
            if hits >= VALUE_SHARE * len(values):
                column.field, column.how = key, "values"
                taken.add(key)
                break


# --- the rows --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LedgerRead:
    """Everything read from a ledger: tickets, their import notes, where each came from, what is wrong."""

    plans: list[SheetPlan] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    notes: list[tuple[str, LogEntry]] = field(default_factory=list)
    """(ticket sync key, note): where the ticket came from and what was kept as typed."""
    origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Ticket sync key -> (sheet title, Excel row)."""
    errors: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)

    @property
    def fields(self) -> tuple[str, ...]:
        """The ticket fields this ledger's columns set (`TICKET_FIELDS` order): what an import compares."""
        mapped = {c.field for plan in self.plans for c in plan.columns if c.field}
        found = {f for key in mapped for f in FIELD_SOURCES.get(key, (key,))}
        if "channel" not in mapped:
            found.add("channel")  # the mapping's default channel, or Other
        return tuple(f for f in TICKET_FIELDS if f in found)


@dataclass(frozen=True, slots=True)
class LedgerSheet:
    """One sheet of a ledger: its title and its rows from row 1 (merged cells filled)."""

    title: str
    rows: Iterable[Sequence[object]]


def sync_key(branch: str, values: Mapping[str, object], occurrence: int) -> str:
    """The sync key of a ledger row: the same row of the same branch always gets the same one.

    The row's date, phone and complaint name it — not its sheet, position or number (序号), which a
    ledger kept over years renumbers when a row is inserted or sorted; ``occurrence`` tells identical
    rows apart. A complaint whose text is edited in the ledger comes in again as a new ticket.
    """
    parts = [branch.casefold(), *(" ".join(read_text(values.get(k) or "").split()) for k in _IDENTITY)]
    parts.append(str(occurrence))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


_IDENTITY = ("received_at", "contact", "description")


def note_key(ticket_key: str) -> str:
    """The sync key of a ticket's import note (stored once however often the ledger is imported)."""
    return hashlib.sha256(f"{ticket_key}:ledger-note".encode()).hexdigest()[:32]


def read_ledger(
    sheets: Iterable[LedgerSheet],
    *,
    branch: str,
    zone: tzinfo,
    now: datetime,
    mapping: ColumnMapping | None = None,
    source: str = "",
    epoch: datetime = EXCEL_1900,
) -> LedgerRead:
    """Read every sheet of a ledger that has a header; ``now`` (aware) is the import's moment.

    ``source`` is the file's name: a year in it completes dates written without one.
    """
    mapping = mapping or ColumnMapping()
    out = LedgerRead()
    reader = _RowReader(branch, zone, now, mapping, epoch, out)
    for sheet in sheets:
        rows = iter(sheet.rows)
        head = [list(r) for r in islice(rows, HEADER_SEARCH_ROWS)]
        plan = plan_sheet(sheet.title, head, mapping, (source,), epoch)
        if plan is None:
            if any(v not in (None, "") for row in head for v in row):
                out.notices.append(
                    Problem(
                        "no ledger header found in the first rows (e.g. 日期, 客户姓名, 联系电话, 投诉内容): "
                        "sheet not imported",
                        "前几行中未找到台账表头（如 日期、客户姓名、联系电话、投诉内容），此工作表未导入",
                        sheet=sheet.title,
                    )
                )
            continue
        out.plans.append(plan)
        reader.sheet(plan, head[plan.header_rows[-1] :], rows)
    if not out.tickets and not out.errors:
        out.errors.append(Problem("no complaint rows found in the ledger", "台账中没有找到投诉记录"))
    return out


class _RowReader:
    """Reads the data rows of each sheet into tickets, collecting problems."""

    def __init__(
        self,
        branch: str,
        zone: tzinfo,
        now: datetime,
        mapping: ColumnMapping,
        epoch: datetime,
        out: LedgerRead,
    ) -> None:
        self.branch, self.zone, self.now, self.mapping, self.epoch, self.out = (
            branch, zone, now, mapping, epoch, out,
        )  # fmt: skip
        self.seen: Counter[str] = Counter()
        self.per_day: Counter[str] = Counter()

    def sheet(
        self, plan: SheetPlan, head_rest: Sequence[Sequence[object]], rows: Iterable[Sequence[object]]
    ) -> None:
        positions = [(c.position, c.field) for c in plan.columns if c.field is not None]
        header_folds = {_fold(c.header) for c in plan.columns if c.header}
        undated_results = 0
        year = plan.year
        last_month: int | None = None
        start = plan.header_rows[-1] + 1
        self._column_notices(plan)
        for number, row in enumerate((*head_rest, *rows), start=start):
            filled = [v for v in row if v not in (None, "") and not (isinstance(v, str) and not v.strip())]
            if not filled:
                continue
            texts = [read_text(v) for v in filled]
            if any(is_totals(t) for t in texts[:3]):
                plan.skipped += 1
                self.out.notices.append(
                    self._at(plan, number, None, "totals row: not imported", "合计行，未导入")
                )
                continue
            if sum(1 for t in texts if _fold(t) in header_folds) >= 2:
                plan.skipped += 1  # the header repeated (a printed ledger's next page)
                continue
            values = {key: row[p] for p, key in positions if p < len(row) and row[p] not in (None, "")}
            values = {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
            if not any(k in values for k in COMPLAINT_FIELDS):
                plan.skipped += 1
                if set(values) - {"ledger_no"}:
                    shown = "、".join(texts)[:60]
                    self.out.notices.append(
                        self._at(plan, number, None,
                                 f"no complaint, customer or phone in this row ({shown}): not imported",
                                 f"此行没有投诉内容、客户或电话（{shown}），未导入")
                    )  # fmt: skip
                continue
            if "received_at" in values and year is not None:
                year, last_month = _roll_year(values["received_at"], year, last_month)
            ticket = self._ticket(plan, number, values, year)
            if ticket is None:
                continue
            if "result" in values and ticket.resolved_at is None:
                undated_results += 1
            plan.tickets += 1
        if undated_results:
            self.out.notices.append(
                Problem(
                    f"{undated_results} row(s) have a result but no date: they stay open, as imported "
                    "history (map a date column as “Resolved on” to close them)",
                    f"{undated_results} 行有处理结果但没有日期：保持未办结，作为导入的历史记录"
                    "（将日期列映射为“处理完成日期”即可结案）",
                    sheet=plan.title,
                )
            )

    def _column_notices(self, plan: SheetPlan) -> None:
        for key, en, zh in (
            ("received_at", "no date column: no row can be imported", "没有日期列，任何行都无法导入"),
            (
                "description",
                "no complaint column: no row can be imported",
                "没有投诉内容列，任何行都无法导入",
            ),
        ):
            if plan.column(key) is None:
                self.out.errors.append(
                    Problem(f"{en}; name it in the mapping", f"{zh}；请在映射中指定", sheet=plan.title)
                )
        if plan.column("channel") is None:
            channel = self.mapping.channel or Channel.OTHER
            self.out.notices.append(
                Problem(
                    f"no channel column: every ticket gets {channel.en} (set the mapping's channel)",
                    f"没有渠道列：全部记为“{channel.zh}”（可在映射中指定 channel）",
                    sheet=plan.title,
                )
            )

    def _at(self, plan: SheetPlan, row: int, key: str | None, en: str, zh: str) -> Problem:
        column = plan.column(key) if key else None
        return Problem(
            en, zh, sheet=plan.title, row=row,
            column=column.letter if column else None, header=column.header if column else None,
        )  # fmt: skip

    def _date(
        self, plan: SheetPlan, number: int, key: str, raw: object, year: int | None
    ) -> LedgerDate | None:
        try:
            found = _read_date(raw, year, self.epoch)
        except CellValueError as exc:
            self.out.errors.append(self._at(plan, number, key, exc.en, exc.zh))
            return None
        return found

    def _ticket(
        self, plan: SheetPlan, number: int, values: dict[str, object], year: int | None
    ) -> Ticket | None:
        errors = len(self.out.errors)
        kept: list[str] = [
            f"台账导入：工作表「{plan.title}」第 {number} 行 / "
            f"from the ledger: sheet '{plan.title}', row {number}"
        ]
        dates: dict[str, datetime] = {}
        for key in sorted(DATE_FIELDS & values.keys(), key=lambda k: k != "received_at"):
            found = self._date(plan, number, key, values[key], year)
            if found is not None:
                dates[key] = self._aware(found, dates.get("received_at"))
        if "received_at" not in values:
            self.out.errors.append(self._at(plan, number, "received_at", "the date is empty", "日期为空"))
        for key in ("customer_name", "contact", "description"):
            if key not in values:
                name = BY_KEY[key]
                self.out.errors.append(
                    self._at(plan, number, key if plan.column(key) else None,
                             f"{name.en} is empty; the standard needs it", f"{name.zh}为空，投诉受理须填写")
                )  # fmt: skip
        text = {k: phone_text(v) if k == "contact" else read_text(v).strip() for k, v in values.items()}
        category, known = read_category(text.get("category", ""))
        if not known and text.get("category"):
            kept.append(f"原类别 / category as typed: {text['category']}")
            self.out.notices.append(
                self._at(plan, number, "category", f"category {text['category']!r} is not one of ours: "
                         "imported as Other, the text kept in the ticket's import note",
                         f"类别“{text['category']}”不在类别表中：记为“其他”，原文保留在导入备注中")
            )  # fmt: skip
        channel, known = read_channel(text["channel"]) if text.get("channel") else (
            self.mapping.channel or Channel.OTHER, True)  # fmt: skip
        if not known:
            kept.append(f"原渠道 / channel as typed: {text['channel']}")
            self.out.notices.append(
                self._at(plan, number, "channel", f"channel {text['channel']!r} is not one of ours: "
                         "imported as Other, the text kept in the ticket's import note",
                         f"渠道“{text['channel']}”不在渠道表中：记为“其他”，原文保留在导入备注中")
            )  # fmt: skip
        satisfaction = read_satisfaction(values["satisfaction"]) if "satisfaction" in values else None
        if "satisfaction" in values and satisfaction is None:
            kept.append(f"原满意度 / satisfaction as typed: {text['satisfaction']}")
            self.out.notices.append(
                self._at(plan, number, "satisfaction",
                         f"{text['satisfaction']!r} is not yes or no: kept as typed in the import note",
                         f"“{text['satisfaction']}”不是是/否：原文保留在导入备注中")
            )  # fmt: skip
        if "resolved_at" not in dates and text.get("result") and "received_at" in dates:
            found = date_in_text(text["result"], year)
            if found is not None:
                dates["resolved_at"] = self._aware(found, dates["received_at"])
        for key in ("ledger_no", "remark"):
            if text.get(key):
                kept.append(f"{BY_KEY[key].zh} / {BY_KEY[key].en}: {text[key]}")
        if len(self.out.errors) > errors or "received_at" not in dates:
            return None
        identity = {k: values.get(k) for k in _IDENTITY}
        identity["received_at"] = dates["received_at"].isoformat()
        base = sync_key(self.branch, identity, 0)
        self.seen[base] += 1
        key = base if self.seen[base] == 1 else sync_key(self.branch, identity, self.seen[base] - 1)
        day = f"{dates['received_at']:%Y%m%d}"
        self.per_day[day] += 1
        ticket = Ticket(
            ticket_id=f"{self.branch}-{day}-{self.per_day[day]:04d}",  # the service renumbers a taken one
            received_at=dates["received_at"],
            branch=self.branch,
            sync_key=key,
            channel=channel,
            customer_name=text.get("customer_name", ""),
            contact=text.get("contact", ""),
            category=category,
            place=text.get("place", ""),
            description=text.get("description", ""),
            expectation=text.get("expectation", ""),
            grade=Grade.MINOR,
            department=text.get("department", ""),
            investigator=text.get("handler", ""),
            solution=text.get("result", ""),
            imported_at=self.now,
            **implied_milestones(dates, satisfaction),
        )
        problems = check_values(
            {k: getattr(ticket, k) for k in _CHECKED}, TICKET_COLUMNS, self.now
        ) or check_ticket(ticket)
        said: set[tuple[str, str]] = set()
        for problem in problems:
            column = _SOURCE.get(problem.field, problem.field)
            if column in DATE_FIELDS and plan.column(column) is None:
                column = "result"  # a milestone the result's text dated
            if (column, problem.en) in said:
                continue  # one date implied several milestones: one problem
            said.add((column, problem.en))
            self.out.errors.append(
                self._at(plan, number, column if column in BY_KEY else None, problem.en, problem.zh)
            )
        if problems:
            return None
        self.out.tickets.append(ticket)
        self.out.origin[key] = (plan.title, number)
        note = LogEntry(
            ticket.ticket_id,
            dates["received_at"],
            LogKind.NOTE,
            "\n".join(kept),
            author="ledger",
            sync_key=note_key(key),
        )
        self.out.notes.append((key, note))
        return ticket

    def _aware(self, found: LedgerDate, received: datetime | None) -> datetime:
        """A ledger date as an aware local time; a bare date after the receipt is not before it."""
        moment = found.moment.replace(tzinfo=self.zone)
        if (
            found.dated_only
            and received is not None
            and moment.date() == received.date()
            and moment < received
        ):
            return received
        return moment


def implied_milestones(dates: Mapping[str, datetime], satisfaction: Satisfaction | None) -> dict[str, Any]:
    """The milestones a ledger row implies.

    A result written with a date is the resolution as the customer was told it
    (a ledger records what the branch answered): resolved, feedback given and
    closed at that date unless the ledger dates the closure itself. A
    satisfaction answer is the revisit (at its own date, else the closure's).
    """
    resolved = dates.get("resolved_at")
    if resolved is None:
        return {"satisfaction": satisfaction}
    closed = max(dates.get("closed_at") or resolved, resolved)
    out: dict[str, Any] = {"resolved_at": resolved, "feedback_at": resolved, "closed_at": closed}
    if satisfaction is not None:
        out["revisited_at"] = max(dates.get("revisited_at") or closed, closed)
        out["satisfaction"] = satisfaction
    return out


def _roll_year(raw: object, year: int, last_month: int | None) -> tuple[int, int | None]:
    """A ledger running from December into January: month-and-day dates move to the next year."""
    try:
        found = _read_date(raw, year, EXCEL_1900)
    except CellValueError:
        return year, last_month
    if found.spelling is not Spelling.YEAR_INFERRED:
        return year, found.moment.month
    month = found.moment.month
    if last_month is not None and month < last_month - 6:
        return year + 1, month
    return year, month


def preview_rows(
    read: LedgerRead, lang: str = "zh", masked: bool = True, limit: int = PREVIEW_ROWS
) -> list[dict[str, str]]:
    """The first tickets as a person checks them; phone numbers masked unless ``masked`` is False."""
    rows = []
    for ticket in read.tickets[:limit]:
        sheet, number = read.origin[ticket.sync_key]
        show = mask_phones if masked else (lambda text, contact=False: text)
        rows.append({
            "where": f"{sheet}!{number}",
            "ticket_id": ticket.ticket_id,
            "received_at": f"{ticket.received_at:%Y-%m-%d %H:%M}",
            "customer_name": show(ticket.customer_name),
            "contact": show(ticket.contact, contact=True),
            "category": ticket.category.label(lang) if ticket.category else "",
            "channel": ticket.channel.label(lang) if ticket.channel else "",
            "description": show(ticket.description)[:80],
            "status": derive_status(ticket).label(lang),
        })  # fmt: skip
    return rows
