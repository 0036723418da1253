"""Refuse zip bombs and XML entity tricks before any spreadsheet library opens the file.

An .xlsx is a zip of XML parts. The guard reads the central directory (entry
count, declared sizes, encryption, duplicate names), then inflates every entry
once, counting the bytes actually produced, so a header that lies about its
size cannot slip past the limits. The compression ratio is checked per entry
above a small size floor, as Apache POI does: tiny parts (styles, rels) are
often compressed 100x and are harmless.

The same pass refuses any XML part that declares a DTD (``<!DOCTYPE`` /
``<!ENTITY``): no OOXML part needs one, and this stops entity-expansion attacks
for every reader, not only those that use defusedxml. It also notes which
worksheet parts contain formulas, so that the fast reader knows where cached
values cannot be trusted. XML parts must be UTF-8 (as Excel and LibreOffice
write them): in UTF-16 a DTD would slip past a byte search.

Each worksheet's shape is measured on the way: the furthest cell referenced
and the cells merged or hyperlinked as ranges. calamine allocates the whole
rectangle from A1 to the furthest cell (one stray cell in XFD1048576 asks for
half a terabyte and aborts the process) and openpyxl makes one object per
merged or hyperlinked cell, so a sheet much larger than its cells, or with
whole-sheet merges, is refused here. The ``<dimension>`` tag is not trusted
(nor used) for any of this.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from itertools import repeat
from typing import BinaryIO

from server.xlsx.errors import Problem, UnsafeWorkbookError

KiB = 1024
MiB = 1024 * KiB

Source = str | os.PathLike[str] | bytes | BinaryIO


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits for one workbook; the defaults fit a branch workbook of a few hundred thousand rows."""

    max_entries: int = 1_000
    max_entry_size: int = 512 * MiB
    max_total_size: int = 1_024 * MiB
    max_ratio: float = 100.0
    ratio_floor: int = 100 * KiB
    """Entries that inflate to less than this are not ratio-checked (POI's grace size)."""
    max_area: int = 2_000_000
    """A worksheet may span (rows x columns up to its furthest cell) this many cells whatever it holds..."""
    min_density: int = 16
    """...or more, if it has at least one cell for every ``min_density`` cells of that rectangle."""
    max_sparse_rows: int = 65_536
    """Beyond this many rows a worksheet needs a cell per row on average (the writer walks the rows)."""
    max_expanded: int = 100_000
    """Cells covered by merges and hyperlinked ranges in one worksheet (openpyxl makes each an object)."""
    max_tag: int = 1 * MiB
    """The longest XML tag accepted while measuring a worksheet."""


@dataclass(slots=True)
class SheetShape:
    """How far a worksheet's cells reach and how many there are (counted from the XML, not its tags)."""

    max_row: int = 0
    max_col: int = 0
    cells: int = 0
    expanded: int = 0
    """Cells covered by merges and hyperlinked ranges."""
    widest: str = ""
    """The largest merged or hyperlinked range."""
    widest_size: int = 0
    anonymous: bool = False
    """Some cells have no ``r`` reference: they follow the previous cell, rows take the row's number."""
    row_elements_max: int = 0

    @property
    def rows(self) -> int:
        return max(self.max_row, self.row_elements_max if self.anonymous else 0)

    @property
    def area(self) -> int:
        return self.rows * self.max_col


@dataclass(slots=True)
class ZipInventory:
    """What the guard learnt while checking: part names and sizes, and parts holding formulas."""

    sizes: dict[str, int] = field(default_factory=dict)
    formula_parts: set[str] = field(default_factory=set)
    shapes: dict[str, SheetShape] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(self.sizes.values())


CHUNK = 256 * KiB
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# a formula element <f>, <f t="shared" .../>, or prefixed <x:f ...>; not <fill>, <font>, <formula1>
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_OVERLAP = 16
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
_UTF8 = frozenset({b"utf-8", b"utf8"})
_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?"
# a cell whose reference comes first (as Excel, LibreOffice and openpyxl write it): the fast path
_CELL_REF_FIRST = re.compile(rb'<c r="([A-Za-z]+[0-9]{1,12})"')  # longer: not matched, measured slowly
_CELL_TAG_OTHER = re.compile(rb"<c[>/\n\t\r]")  # a cell tag the fast path does not count
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = b"0123456789"
_CELL_TAG = re.compile(_PREFIX + rb"c[\s>/]")
_CELL_REF_ANY = re.compile(_PREFIX + rb"""c\s[^>]*?(?<![\w:.-])r\s*=\s*["']([A-Za-z]+)([0-9]+)""")
_ROW_REF = re.compile(_PREFIX + rb"""row\s[^>]*?(?<![\w:.-])r\s*=\s*["'][A-Za-z$]*([0-9]+)""")
_COMMENT_REF = re.compile(
    _PREFIX + rb"""comment\s[^>]*?(?<![\w:.-])ref\s*=\s*["']\$?([A-Za-z]+)\$?([0-9]+)"""
)
_RELATIONSHIP = re.compile(_PREFIX + rb"Relationship\s[^>]*>")
_TYPE = re.compile(rb"""\sType\s*=\s*["']([^"']*)["']""")
_TARGET = re.compile(rb"""\sTarget\s*=\s*["']([^"']*)["']""")
_SMALL_PART = 64 * MiB
_HUGE = 10**12
_RANGE_REF = re.compile(
    _PREFIX + rb"""(?:mergeCell|hyperlink)\s[^>]*?(?<![\w:.-])ref\s*=\s*["']([^"']*)["']"""
)
_END = re.compile(rb"\s*\$?([A-Za-z]*)\$?([0-9]*)\s*")
_MAX_ROW, _MAX_COL = 1_048_576, 16_384


def _refuse(en: str, zh: str) -> UnsafeWorkbookError:
    return UnsafeWorkbookError([Problem(en, zh)])


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def open_source(source: Source) -> tuple[BinaryIO | str | os.PathLike[str], int]:
    """A re-readable handle on ``source`` and its size in bytes."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source), len(source)
    if isinstance(source, str | os.PathLike):
        return source, os.path.getsize(source)
    position = source.tell()
    size = source.seek(0, io.SEEK_END)
    source.seek(position)
    return source, size - position


def check_zip(source: Source, limits: ZipLimits | None = None) -> ZipInventory:
    """Check ``source`` against ``limits`` and return what it holds; raise UnsafeWorkbookError if unsafe."""
    limits = limits or ZipLimits()
    handle, file_size = open_source(source)
    start = handle.tell() if not isinstance(handle, str | os.PathLike) else 0
    try:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise _refuse(
                f"This is not an .xlsx workbook (not a zip file: {exc}). Save it from Excel as .xlsx.",
                f"这不是 .xlsx 工作簿（不是 zip 文件：{exc}）。请在 Excel 中另存为 .xlsx。",
            ) from exc
        with archive:
            return _check_archive(archive, limits, file_size)
    finally:
        if not isinstance(handle, str | os.PathLike):
            handle.seek(start)


def _check_archive(archive: zipfile.ZipFile, limits: ZipLimits, file_size: int) -> ZipInventory:
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise _refuse(
            f"The workbook has {len(entries)} parts; at most {limits.max_entries} are accepted.",
            f"工作簿包含 {len(entries)} 个部件，最多允许 {limits.max_entries} 个。",
        )
    names = [e.filename for e in entries]
    if len(set(names)) != len(names):
        raise _refuse(
            "The workbook's zip has duplicate entry names and is refused.",
            "工作簿的 zip 中有重名的条目，已拒绝。",
        )
    declared = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise _refuse(
                f"Part {entry.filename} is encrypted; remove the password and save again.",
                f"部件 {entry.filename} 已加密，请取消密码后重新保存。",
            )
        _check_entry_size(entry.filename, entry.file_size, limits)
        declared += entry.file_size
        if declared > limits.max_total_size:
            raise _total_error(declared, limits)
    inventory = ZipInventory()
    total = 0
    for entry in entries:
        if entry.is_dir():
            continue
        produced = _inflate(archive, entry, limits, total, file_size, inventory)
        inventory.sizes[entry.filename] = produced
        total += produced
    _add_comments(archive, inventory)
    for part, shape in inventory.shapes.items():
        _check_shape(archive, part, shape, limits)
    return inventory


def _add_comments(archive: zipfile.ZipFile, inventory: ZipInventory) -> None:
    """Count each comment as a cell of its sheet (openpyxl makes one), found through the sheet's rels."""
    for name, size in inventory.sizes.items():
        folder, _, base = name.rpartition("/_rels/")
        sheet = f"{folder}/{base.removesuffix('.rels')}"
        if not base.endswith(".rels") or sheet not in inventory.shapes or size > _SMALL_PART:
            continue
        for tag in _RELATIONSHIP.findall(archive.read(name)):
            kind, target = _TYPE.search(tag), _TARGET.search(tag)
            if kind is None or target is None or not kind.group(1).endswith(b"/comments"):
                continue
            path = target.group(1).decode("utf-8", "replace")
            path = path.lstrip("/") if path.startswith("/") else posixpath.normpath(f"{folder}/{path}")
            if inventory.sizes.get(path, _SMALL_PART + 1) > _SMALL_PART:
                continue
            scan = _ShapeScan(sheet, ZipLimits())
            for letters, digits in _COMMENT_REF.findall(archive.read(path)):
                scan.reach(_number(digits), column_number(letters))
            shape = inventory.shapes[sheet]
            shape.cells += scan.shape.cells
            shape.max_row = max(shape.max_row, scan.shape.max_row)
            shape.max_col = max(shape.max_col, scan.reach_col)


def _check_entry_size(name: str, size: int, limits: ZipLimits) -> None:
    if size > limits.max_entry_size:
        raise _refuse(
            f"Part {name} inflates to {_size(size)}; at most {_size(limits.max_entry_size)} is accepted.",
            f"部件 {name} 解压后为 {_size(size)}，最多允许 {_size(limits.max_entry_size)}。",
        )


def _total_error(total: int, limits: ZipLimits) -> UnsafeWorkbookError:
    return _refuse(
        f"The workbook inflates to more than {_size(limits.max_total_size)} ({_size(total)} so far).",
        f"工作簿解压后超过 {_size(limits.max_total_size)}（已达 {_size(total)}）。",
    )


def _inflate(
    archive: zipfile.ZipFile,
    entry: zipfile.ZipInfo,
    limits: ZipLimits,
    total_before: int,
    file_size: int,
    inventory: ZipInventory,
) -> int:
    """Inflate one entry, counting real bytes; scan XML parts for DTDs and worksheets for formulas."""
    name = entry.filename
    is_xml = name.endswith((".xml", ".rels", ".vml"))
    is_sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
    compressed = max(1, min(entry.compress_size, file_size))
    produced = 0
    tail = b""
    shape = _ShapeScan(name, limits) if is_sheet else None
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(CHUNK):
                produced += len(chunk)
                _check_entry_size(name, produced, limits)
                if total_before + produced > limits.max_total_size:
                    raise _total_error(total_before + produced, limits)
                if produced > limits.ratio_floor and produced > limits.max_ratio * compressed:
                    raise _refuse(
                        f"Part {name} is compressed more than {limits.max_ratio:g} times "
                        "(a zip bomb?) and is refused.",
                        f"部件 {name} 的压缩比超过 {limits.max_ratio:g} 倍（疑似 zip 炸弹），已拒绝。",
                    )
                if is_xml:
                    if produced == len(chunk):
                        _check_encoding(name, chunk)
                    window = tail + chunk
                    if _DTD.search(window):
                        raise _refuse(
                            f"Part {name} declares a DTD or XML entities; workbooks with them are refused.",
                            f"部件 {name} 声明了 DTD 或 XML 实体，已拒绝。",
                        )
                    if (
                        is_sheet
                        and name not in inventory.formula_parts
                        and (b"<f" in window or b":f" in window)  # a plain search first: far faster
                        and _FORMULA.search(window)
                    ):
                        inventory.formula_parts.add(name)
                    tail = window[-_OVERLAP:]
                    if shape is not None:
                        shape.feed(chunk)
    except zipfile.BadZipFile as exc:
        raise _refuse(
            f"Part {name} is damaged ({exc}); open and save the workbook again in Excel.",
            f"部件 {name} 已损坏（{exc}），请在 Excel 中打开并重新保存。",
        ) from exc
    except (zlib.error, EOFError, NotImplementedError, ValueError) as exc:  # ValueError: a bad name
        raise _refuse(
            f"Part {name} cannot be inflated ({exc}).",
            f"部件 {name} 无法解压（{exc}）。",
        ) from exc
    if shape is not None:
        inventory.shapes[name] = shape.finish()
    return produced


def _check_encoding(name: str, head: bytes) -> None:
    """Refuse an XML part that is not UTF-8 (a UTF-16/32 BOM or NUL bytes, or another declared encoding)."""
    declared = _ENCODING.match(head[:512])
    encoding = declared.group(1).strip().lower() if declared else b"utf-8"
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff", b"\0<", b"<\0", b"\0\0"))
    if utf16 or encoding not in _UTF8:
        shown = encoding.decode("ascii", "replace") if declared else "UTF-16/UTF-32"
        raise _refuse(
            f"Part {name} is not UTF-8 XML ({shown}); open the workbook in Excel and save it again as .xlsx.",
            f"部件 {name} 不是 UTF-8 编码的 XML（{shown}），请在 Excel 中打开并重新保存为 .xlsx。",
        )


def column_number(letters: bytes) -> int:
    """A column's number from its letters, any number of them (capped far beyond Excel's 16,384)."""
    if len(letters) > 8:
        return _HUGE
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _number(digits: bytes) -> int:
    """A row number, however many digits it has (capped far beyond Excel's 1,048,576).

    calamine wraps references at 32 bits and openpyxl does not; the number without wrap-around is
    never smaller, so measuring with it is safe for both.
    """
    return int(digits) if len(digits) <= 12 else _HUGE


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class _ShapeScan:
    """Measure a worksheet part chunk by chunk; a tag cut by a chunk's end is kept for the next one."""

    def __init__(self, name: str, limits: ZipLimits) -> None:
        self.name = name
        self.limits = limits
        self.shape = SheetShape()
        self.carry = b""
        self.columns: set[bytes] = set()
        self.reach_col = 0

    def feed(self, chunk: bytes) -> None:
        buffer = self.carry + chunk if self.carry else chunk
        cut = buffer.rfind(b"<")
        if cut == -1 or buffer.find(b">", cut) != -1:
            self.carry = b""
            self._measure(buffer)
            return
        self.carry = buffer[cut:]
        if len(self.carry) > self.limits.max_tag:
            raise _refuse(
                f"Part {self.name} has an XML tag longer than {_size(self.limits.max_tag)} and is refused.",
                f"部件 {self.name} 中有超过 {_size(self.limits.max_tag)} 的 XML 标记，已拒绝。",
            )
        self._measure(buffer[:cut])

    def _measure(self, piece: bytes) -> None:
        shape = self.shape
        tags = piece.count(b"<c ")
        refs = _CELL_REF_FIRST.findall(piece)  # one regex pass; rows and columns split off at C speed
        if len(refs) == tags and b":c" not in piece and _CELL_TAG_OTHER.search(piece) is None:
            rows: list[int] | map[int] = map(int, map(bytes.lstrip, refs, repeat(_LETTERS)))
            self.columns.update(map(bytes.rstrip, refs, repeat(_DIGITS)))
        else:  # references not first, prefixed tags, or cells without a reference
            tags = len(_CELL_TAG.findall(piece))
            refs = _CELL_REF_ANY.findall(piece)
            rows = [_number(row) for _, row in refs]
            self.columns.update(letters for letters, _ in refs)
            if len(refs) != tags:
                shape.anonymous = True
                numbers = [_number(r) for r in _ROW_REF.findall(piece)]
                shape.row_elements_max = max([shape.row_elements_max, *numbers])
        shape.cells += tags
        shape.max_row = max(shape.max_row, max(rows, default=0))
        if b"mergeCell" in piece or b"hyperlink" in piece:
            for ref in _RANGE_REF.findall(piece):
                self._range(ref)

    def _range(self, ref: bytes) -> None:
        """A merge or hyperlink: a cell, a range, whole rows ("3:9") or columns ("A:C") (as openpyxl)."""
        ends = [_END.fullmatch(end) for end in ref.split(b":", 1)]
        if not all(ends) or not any(end.group(1) or end.group(2) for end in ends):  # type: ignore[union-attr]
            return  # not a reference openpyxl can follow (it refuses the file)
        cols = [column_number(e.group(1)) if e.group(1) else None for e in ends]  # type: ignore[union-attr]
        rows = [_number(e.group(2)) if e.group(2) else None for e in ends]  # type: ignore[union-attr]
        left, right = min(c or 1 for c in cols), max(c or _MAX_COL for c in cols)
        high, low = min(r or 1 for r in rows), max(r or _MAX_ROW for r in rows)
        self.reach(low, right)  # openpyxl makes a cell where a hyperlink or a merge ends
        if len(ends) == 1 and cols[0] and rows[0]:
            return
        size = (right - left + 1) * (low - high + 1)
        self.shape.expanded += size
        if size > self.shape.widest_size:
            self.shape.widest_size = size
            self.shape.widest = ref.decode("ascii", "replace")

    def reach(self, row: int, col: int) -> None:
        """A cell openpyxl will make at (row, col) for something other than a ``<c>`` element."""
        self.shape.cells += 1
        self.shape.max_row = max(self.shape.max_row, row)
        self.reach_col = max(self.reach_col, col)

    def finish(self) -> SheetShape:
        if self.carry:
            self._measure(self.carry)
            self.carry = b""
        self.shape.max_col = self.reach_col
        if self.columns:
            self.shape.max_col = max(self.reach_col, *(column_number(letters) for letters in self.columns))
        if self.shape.anonymous:
            self.shape.max_col = max(self.shape.max_col, 1)
        return self.shape


def _sheet_title(archive: zipfile.ZipFile, part: str) -> str:
    """The title of the worksheet in ``part`` (for messages), or the part's name."""
    from server.xlsx.grid import WorkbookParts  # the guard runs first; this is only for the message

    try:
        parts = WorkbookParts(archive).parts
    except Exception:  # a damaged workbook.xml: name the part instead
        return part
    return next((title for title, name in parts.items() if name == part), part)


def _check_shape(archive: zipfile.ZipFile, part: str, shape: SheetShape, limits: ZipLimits) -> None:
    if shape.expanded > limits.max_expanded:
        title = _sheet_title(archive, part)
        raise UnsafeWorkbookError(
            [
                Problem(
                    f"merged cells and hyperlinked ranges cover {shape.expanded:,} cells (the largest is "
                    f"{shape.widest}); at most {limits.max_expanded:,} are accepted: unmerge them "
                    "(or remove the hyperlinks)",
                    f"合并单元格和超链接区域共覆盖 {shape.expanded} 个单元格（最大的是 {shape.widest}），"
                    f"最多允许 {limits.max_expanded} 个，请取消合并（或删除这些超链接）",
                    sheet=title,
                )
            ]
        )
    area = shape.area
    sparse_rows = shape.rows > limits.max_sparse_rows and shape.rows > shape.cells
    if sparse_rows or (area > limits.max_area and area > limits.min_density * shape.cells):
        title = _sheet_title(archive, part)
        letters = column_letters(shape.max_col)
        raise UnsafeWorkbookError(
            [
                Problem(
                    f"the sheet's cells reach row {shape.rows:,} and column {letters} ({area:,} cells) "
                    f"but only {shape.cells:,} cells are used; delete the stray cells far below or to "
                    "the right (Ctrl+End shows the last one) and save again",
                    f"此工作表的单元格延伸到第 {shape.rows} 行、{letters} 列（共 {area} 个单元格），"
                    f"实际只用了 {shape.cells} 个；请删除右下方多余的单元格（Ctrl+End 可定位）后重新保存",
                    sheet=title,
                )
            ]
        )
