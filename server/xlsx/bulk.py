"""Fast worksheet XML for the consolidated workbook's ticket sheets, streamed row by row.

Each cell is written the way `complaints.cells` and `server.xlsx.cellformat`
write it in the branch workbook — text escaped with the same policy (`escape_text`), datetimes as
Excel serial numbers in the branch's time zone with a date format, enums as
labels, booleans as 是/否 or Y/N — but as XML text in one pass instead of
openpyxl cell objects, which is what makes a million rows fit in time and
memory. Text is always an inline string (``t="inlineStr"``), never a formula:
a description starting with ``=`` stays text. Cells carry no ``r`` reference
(they are consecutive), so an empty cell is a constant ``<c s="…"/>`` that
keeps the row's fill.

A sheet is split into parts before Excel's 1,048,576-row limit (header
included) and before a part's XML reaches 4 GiB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from openpyxl.utils import get_column_letter

from complaints.cells import bool_label, format_flags
from complaints.contacts import mask_phones
from complaints.enums import Flag, Labelled
from complaints.schema import ColType
from server.xlsx import printing
from server.xlsx.cellformat import escape_text, looks_like_formula
from server.xlsx.zipstream import LIMIT, Chunk, Deflater, ZipStream, deflate

EXCEL_ROWS = 1_048_576
"""Rows in an Excel sheet, the header row included."""
EPOCH = datetime(1899, 12, 30)
_DAY = 86_400
_UNIX_EPOCH_SERIAL = 25_569
_UNIX_NAIVE = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
"""The serial number of 1970-01-01."""
_SECONDS = {f"{n:02d}": n for n in range(60)}
"""Two-digit seconds → seconds; faster than int()."""
_MINUTE_SECONDS = {f"{n:02d}": n * 60 for n in range(60)}
_HOURS_CACHED = 1 << 16
"""Hours whose local time `LocalTime` keeps (seven years)."""
_FLUSH_CHARS = 1 << 18
"""Characters of row XML gathered before they are compressed."""

LEVELS = ("blue", "yellow", "red")
"""Row fills, by the stored level code; a row without a level is blue (the default level)."""


@dataclass(frozen=True, slots=True)
class BulkColumn:
    """One column of a ticket sheet: header, width, type and (for enums) its labels."""

    key: str
    header: str
    width: int
    type: ColType
    enum: type[Labelled] | None = None
    computed: bool = False
    phone: bool = False
    """Mask the digits (for callers who may not see phone numbers)."""
    phones_inside: bool = False
    """Mask phone numbers typed inside free text (a description that says "call me on 138…")."""


@dataclass(frozen=True, slots=True)
class CellStyles:
    """Style ids (``s=``) from the package's styles.xml: per level, per kind of cell."""

    header: int
    header_computed: int
    text: dict[str, int]
    quoted: dict[str, int]
    """Text that looks like a formula: Excel's quote prefix keeps it text when edited."""
    datetime: dict[str, int]
    date: dict[str, int]
    integer: dict[str, int]


def xml_text(text: str) -> str:
    """``text`` for an XML text node: `escape_text`'s policy, then &, < and > as entities."""
    if not text.isprintable() or "_x" in text:
        text = escape_text(text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _inline_body(text: str) -> str:
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f' t="inlineStr"><is><t{space}>{xml_text(text)}</t></is></c>'


def _inline(style: int, text: str) -> str:
    return f'<c s="{style}"{_inline_body(text)}'


class LocalTime:
    """Excel serial numbers of instants in one zone; the UTC offset is cached per quarter hour.

    Text timestamps as SQLite returns them (``YYYY-MM-DD HH:MM:SS.ffffff``,
    naive UTC) take a faster road: the local seconds of each hour are cached
    (``hours``, by the text's first 13 characters) when the offset does not
    change within that hour, so a cell costs a dict look-up and some additions.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._offsets: dict[int, int] = {}
        self.hours: dict[str, int] = {}
        """``YYYY-MM-DD HH`` (UTC) → local seconds since 1970 of that hour's start."""

    def _offset(self, seconds: int) -> int:
        quarter = seconds // 900
        offsets = [
            int(datetime.fromtimestamp(s, UTC).astimezone(self.zone).utcoffset().total_seconds())  # type: ignore[union-attr]
            for s in (quarter * 900, quarter * 900 + 899, seconds)
        ]
        if offsets[0] == offsets[1]:  # no change of offset inside this quarter hour: keep it
            self._offsets[quarter] = offsets[0]
        return offsets[2]

    def _offset_at(self, seconds: int) -> int:
        offset = self._offsets.get(seconds // 900)
        return self._offset(seconds) if offset is None else offset

    def _learn_hour(self, text: str) -> None:
        """Cache the local seconds of the hour of a SQLite timestamp, if its offset holds all hour.

        Only text of exactly that form (checked here, once per hour) is read
        by the fast road afterwards: a different form never matches a key.
        """
        if len(text) != 26 or text[13] != ":" or text[16] != ":" or text[19] != ".":
            return
        try:
            start = (datetime.fromisoformat(text[:13] + ":00") - _UNIX_NAIVE) // _SECOND
        except ValueError:
            return
        offset = self._offset_at(start)
        if offset == self._offset_at(start + 3599):
            if len(self.hours) >= _HOURS_CACHED:
                self.hours.clear()
            self.hours[text[:13]] = start + offset

    def serial(self, moment: datetime | str) -> str:
        """An instant as the serial number of its local time, to the second (microseconds dropped).

        ``moment`` is aware, or naive UTC as databases return it (SQLite: ISO text).
        """
        if moment.__class__ is str:
            base = self.hours.get(moment[:13])  # type: ignore[index]
            if base is None:
                self._learn_hour(moment)  # type: ignore[arg-type]
            elif len(moment) == 26 and moment[13] == ":" and moment[16] == ":" and moment[19] == ".":
                seconds = _MINUTE_SECONDS[moment[14:16]] + _SECONDS[moment[17:19]]  # type: ignore[index]
                return repr((base + seconds) / _DAY + _UNIX_EPOCH_SERIAL)
            moment = datetime.fromisoformat(moment)  # type: ignore[arg-type]
        if moment.tzinfo is None:  # type: ignore[union-attr]
            seconds = (moment - _UNIX_NAIVE) // _SECOND  # type: ignore[operator]
        else:
            seconds = int(moment.timestamp() // 1)  # type: ignore[union-attr]
        return repr((seconds + self._offset_at(seconds)) / _DAY + _UNIX_EPOCH_SERIAL)


Encoder = Callable[[Any, int, LocalTime], str]
"""(stored value, level index, the branch's local time) → the cell's XML; never called for empty values."""
_TEXT_CACHE = 4096
"""Distinct values per text column whose cell XML is kept (places, departments, measures repeat)."""


def _text_encoder(ids: list[int], quoted: list[int], phone: bool, inside: bool = False) -> Encoder:
    cache: dict[str, tuple[bool, str]] = {}

    def text(value: Any, lv: int, local: LocalTime) -> str:
        known = cache.get(value)
        if known is None:
            shown = mask_phones(value, contact=phone) if phone or inside else value
            known = (looks_like_formula(shown), _inline_body(shown))
            if len(cache) >= _TEXT_CACHE:
                cache.clear()
            cache[value] = known
        return f'<c s="{quoted[lv] if known[0] else ids[lv]}"{known[1]}'

    return text


def _datetime_encoder(ids: list[int]) -> Encoder:
    opening = [f'<c s="{i}"><v>' for i in ids]

    def stamp(value: Any, lv: int, local: LocalTime) -> str:
        if value.__class__ is str and len(value) == 26:  # SQLite text: its hour is usually known
            base = local.hours.get(value[:13])
            if base is not None and value[13] == ":" and value[16] == ":" and value[19] == ".":
                base += _MINUTE_SECONDS[value[14:16]] + _SECONDS[value[17:19]]
                return f"{opening[lv]}{base / _DAY + _UNIX_EPOCH_SERIAL!r}</v></c>"
        return f"{opening[lv]}{local.serial(value)}</v></c>"

    return stamp


def _encoder(column: BulkColumn, styles: CellStyles, lang: str) -> Encoder:
    text_ids = [styles.text[lv] for lv in LEVELS]
    quoted_ids = [styles.quoted[lv] for lv in LEVELS]
    kind = column.type
    if kind is ColType.TEXT:
        return _text_encoder(text_ids, quoted_ids, column.phone, column.phones_inside)
    if kind is ColType.DATETIME:
        return _datetime_encoder([styles.datetime[lv] for lv in LEVELS])
    if kind is ColType.DATE:
        ids = [styles.date[lv] for lv in LEVELS]
        return lambda value, lv, local: f'<c s="{ids[lv]}"><v>{(value - EPOCH.date()).days}</v></c>'
    if kind is ColType.INT:
        ids = [styles.integer[lv] for lv in LEVELS]
        return lambda value, lv, local: f'<c s="{ids[lv]}"><v>{int(value)}</v></c>'
    if kind is ColType.BOOL:
        yes = [_inline(i, bool_label(True, lang)) for i in text_ids]
        no = [_inline(i, bool_label(False, lang)) for i in text_ids]
        return lambda value, lv, local: yes[lv] if value else no[lv]
    if kind is ColType.ENUM:
        assert column.enum is not None, column.key
        labels = [{m.value: _inline(i, m.label(lang)) for m in column.enum} for i in text_ids]
        fallback = _text_encoder(text_ids, quoted_ids, False)
        return lambda value, lv, local: labels[lv].get(value) or fallback(value, lv, local)
    if kind is ColType.FLAGS:
        shown: dict[str, str] = {}

        def flags(value: Any, lv: int, local: LocalTime) -> str:
            text = shown.get(value)
            if text is None:
                codes = [Flag(c) for c in value.split(",") if c in Flag._value2member_map_]
                text = format_flags(frozenset(codes), lang)
                if len(shown) >= _TEXT_CACHE:
                    shown.clear()
                shown[value] = text
            return _inline(text_ids[lv], text) if text else f'<c s="{text_ids[lv]}"/>'

        return flags
    raise AssertionError(f"unknown column type {kind}")


class SheetXml:
    """The XML of ticket sheets, as chunks of bytes: header, rows, then the autoFilter that covers them."""

    def __init__(
        self,
        columns: Sequence[BulkColumn],
        styles: CellStyles,
        lang: str,
        *,
        freeze_columns: int = 0,
        heading: printing.Heading | None = None,
    ) -> None:
        self.columns = tuple(columns)
        self.heading = heading
        """When given, the sheet prints one A4 landscape page wide with this header (`printing`)."""
        self.styles = styles
        self.encoders = [_encoder(c, styles, lang) for c in self.columns]
        self.last_letter = get_column_letter(len(self.columns))
        self.freeze_columns = freeze_columns
        self._levels = {lv: i for i, lv in enumerate(LEVELS)}
        self._empty = [f'<c s="{styles.text[lv]}"/>' for lv in LEVELS]

    def head(self) -> bytes:
        """Everything before the first data row: views (frozen header), widths, the header row."""
        top_left = f"{get_column_letter(self.freeze_columns + 1)}2"
        if self.freeze_columns:
            pane = (
                f'<pane xSplit="{self.freeze_columns}" ySplit="1" topLeftCell="{top_left}" '
                'activePane="bottomRight" state="frozen"/>'
                '<selection pane="topRight"/><selection pane="bottomLeft"/>'
                f'<selection pane="bottomRight" activeCell="{top_left}" sqref="{top_left}"/>'
            )
        else:
            pane = (
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{c.width}" customWidth="1"/>'
            for i, c in enumerate(self.columns, 1)
        )
        header = "".join(
            _inline(self.styles.header_computed if c.computed else self.styles.header, c.header)
            for c in self.columns
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"{printing.sheet_properties_xml() if self.heading else ''}"
            f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            f"<cols>{cols}</cols><sheetData>"
            f"<row>{header}</row>"
        ).encode()

    def tail(self, last_row: int) -> bytes:
        """Close the sheet data; the autoFilter spans the header and ``last_row``."""
        page = (
            printing.page_xml(self.heading)
            if self.heading
            else '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        )
        return f'</sheetData><autoFilter ref="{self.filter_ref(last_row)}"/>{page}</worksheet>'.encode()

    def filter_ref(self, last_row: int) -> str:
        return f"A1:{self.last_letter}{last_row}"

    def row(self, values: Sequence[Any], level: str | None, local: LocalTime) -> str:
        """One data row; ``values`` in column order, as stored (aware datetimes, enum codes).

        Rows carry no number: they follow each other, so a run of rows encoded
        anywhere (another process) fits at any place in any part.
        """
        lv = self._levels.get(level or "", 0)
        empty = self._empty[lv]
        cells = "".join(
            [
                empty if value is None or value == "" else encode(value, lv, local)
                for encode, value in zip(self.encoders, values, strict=True)
            ]
        )
        return f"<row>{cells}</row>"


Row = tuple[Sequence[Any], str | None, LocalTime]
"""A row to write: its values in column order, its level code and its branch's local time."""


@dataclass(frozen=True, slots=True)
class EncodedRows:
    """Consecutive rows as a deflated chunk."""

    chunk: Chunk
    rows: int


def encode_rows(sheet: SheetXml, rows: Iterable[Row]) -> EncodedRows:
    """Encode and deflate ``rows`` (XML is compressed every ~256 KB, never held whole)."""
    deflater = Deflater()
    pending: list[str] = []
    chars = count = 0
    for values, level, local in rows:
        xml = sheet.row(values, level, local)
        pending.append(xml)
        chars += len(xml)
        count += 1
        if chars >= _FLUSH_CHARS:
            deflater.write("".join(pending).encode())
            pending.clear()
            chars = 0
    if pending:
        deflater.write("".join(pending).encode())
    return EncodedRows(deflater.chunk(), count)


Selector = Callable[[Sequence[Any]], bool]
"""Whether a row (its values in column order) belongs in a sheet."""


def encode_sheets(
    sheet: SheetXml, rows: Iterable[Row], sheets: dict[str, Selector | None]
) -> dict[str, EncodedRows]:
    """Encode each row once and deflate it into every sheet whose selector takes it (None: every row).

    Rows carry no number, so a row's XML is the same in every sheet it is in:
    sheets that are subsets of another (overdue, red and yellow …) cost a test
    and a share of the compression, not another read and encoding.
    """
    deflaters = {key: Deflater() for key in sheets}
    pending: dict[str, list[str]] = {key: [] for key in sheets}
    chars = dict.fromkeys(sheets, 0)
    counts = dict.fromkeys(sheets, 0)
    routes = [(key, select, pending[key]) for key, select in sheets.items()]
    for values, level, local in rows:
        xml = sheet.row(values, level, local)
        size = len(xml)
        for key, select, waiting in routes:
            if select is None or select(values):
                waiting.append(xml)
                counts[key] += 1
                chars[key] += size
                if chars[key] >= _FLUSH_CHARS:
                    deflaters[key].write("".join(waiting).encode())
                    waiting.clear()
                    chars[key] = 0
    result = {}
    for key, waiting in pending.items():
        if waiting:
            deflaters[key].write("".join(waiting).encode())
        result[key] = EncodedRows(deflaters[key].chunk(), counts[key])
    return result


@dataclass(slots=True)
class Part:
    """One part of a sheet: its package path, title and number of rows (header included)."""

    path: str
    title: str
    rows: int = 1
    size: int = 0


class SheetParts:
    """Assemble one sheet from encoded rows, starting a new part before a limit would be passed.

    Parts are titled ``title``, ``title (2)``, …; ``next_path()`` names each
    new part in the package. Each part holds at most ``row_limit`` rows (the
    header included) and less than ``byte_limit`` bytes of XML.
    """

    def __init__(
        self,
        sheet: SheetXml,
        title: str,
        package: ZipStream,
        next_path: Callable[[], str],
        *,
        row_limit: int = EXCEL_ROWS,
        byte_limit: int = LIMIT,
    ) -> None:
        if row_limit < 2:
            raise ValueError(f"row_limit {row_limit} leaves no room for rows under the header")
        self.sheet = sheet
        self.title = title
        self.package = package
        self.next_path = next_path
        self.row_limit = row_limit
        self.byte_limit = byte_limit
        self.parts: list[Part] = []
        self._head = deflate(sheet.head())
        self._tail_room = len(sheet.tail(EXCEL_ROWS))
        self._start()

    def _start(self) -> None:
        n = len(self.parts) + 1
        title = self.title if n == 1 else f"{self.title} ({n})"
        self.parts.append(Part(self.next_path(), title, 1, self._head.size))
        self.package.start(self.parts[-1].path)
        self.package.add(self._head)

    def _finish(self) -> None:
        part = self.parts[-1]
        tail = self.sheet.tail(part.rows)
        self.package.add(deflate(tail))
        part.size += len(tail)
        self.package.finish()

    def add(self, encoded: EncodedRows) -> None:
        """Append rows; a run of rows is never split across parts."""
        if encoded.rows == 0:
            return
        if encoded.rows > self.row_limit - 1:
            raise ValueError(
                f"{encoded.rows} rows at once cannot fit under a header within {self.row_limit} rows"
            )
        part = self.parts[-1]
        too_many = part.rows + encoded.rows > self.row_limit
        too_big = part.size + encoded.chunk.size + self._tail_room > self.byte_limit
        if too_many or too_big:
            self._finish()
            self._start()
            part = self.parts[-1]
        self.package.add(encoded.chunk)
        part.rows += encoded.rows
        part.size += encoded.chunk.size

    def close(self) -> list[Part]:
        """Finish the last part; the parts written, in order."""
        self._finish()
        return self.parts
