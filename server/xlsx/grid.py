"""Cell values of a worksheet, row by row, from python-calamine (fast) or openpyxl (reference).

Both engines yield every row from row 1, each a list of values with
``values[0]`` in column A (what `complaints.rows` reads), and agree on every
value the reader relies on:

* strings exactly as typed (``_xHHHH_`` escapes decoded; calamine does this
  itself, openpyxl does not, so it is done here);
* dates and datetimes as `date`/`datetime` where the cell has a date format
  (calamine returns a `date` for a midnight datetime; the reader's column
  types make that harmless), other numbers as int or float;
* a formula as `complaints.cells.Formula` holding its text, never its cached value: calamine
  only returns cached values (empty when the file was written by a library
  that does not calculate), so formula cells are found with a light XML scan
  of the worksheet part, done only for parts the zip guard saw a formula in.

openpyxl's read-only mode trusts the ``<dimension>`` tag and would silently
stop early when it is stale; the sheet's dimensions are reset before reading.
"""

from __future__ import annotations

import io
import logging
import posixpath
import warnings
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO

from defusedxml import ElementTree as SafeET
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import Text
from openpyxl.formula.translate import Translator
from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.utils.exceptions import CellCoordinatesException as CellError
from python_calamine import CalamineError, CalamineWorkbook

from complaints.cells import EXCEL_1900, EXCEL_1904, Formula
from server.xlsx.cellformat import unescape_text
from server.xlsx.errors import Problem, WorkbookError

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
ENGINES = ("calamine", "openpyxl")
logger = logging.getLogger(__name__)
FILE_ERRORS = (CalamineError, CellError, KeyError, OSError, ValueError, SyntaxError, zipfile.BadZipFile)
"""What the engines raise on a damaged file (ValueError: defusedxml's refusals; SyntaxError: XML errors)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class WorkbookParts:
    """Sheet titles, their worksheet parts and the date system, from ``xl/workbook.xml``."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        workbook_part = "xl/workbook.xml"
        for name in archive.namelist():
            if name.lower() == "xl/workbook.xml":
                workbook_part = name
        root = SafeET.fromstring(archive.read(workbook_part))
        rels_part = posixpath.join(posixpath.dirname(workbook_part), "_rels", "workbook.xml.rels")
        targets: dict[str, str] = {}
        if rels_part in archive.namelist():
            for rel in SafeET.fromstring(archive.read(rels_part)):
                target = rel.get("Target", "")
                if target.startswith("/"):
                    path = target.lstrip("/")
                else:
                    path = posixpath.normpath(posixpath.join(posixpath.dirname(workbook_part), target))
                targets[rel.get("Id", "")] = path
        self.parts: dict[str, str] = {}
        self.date1904 = False
        for element in root.iter():
            name = _local(element.tag)
            if name == "sheet":
                rid = element.get(f"{{{REL_NS}}}id", "")
                self.parts[element.get("name", "")] = targets.get(rid, "")
            elif name == "workbookPr":
                self.date1904 = element.get("date1904", "false").lower() in ("1", "true")

    @property
    def epoch(self) -> datetime:
        return EXCEL_1904 if self.date1904 else EXCEL_1900


def scan_formulas(archive: zipfile.ZipFile, part: str) -> dict[tuple[int, int], Formula]:
    """(row, 0-based column) -> formula text of every formula cell in a worksheet part."""
    found: dict[tuple[int, int], Formula] = {}
    shared: dict[str, tuple[str, str]] = {}
    row = col = 0
    with archive.open(part) as stream:
        for event, element in SafeET.iterparse(stream, events=("start", "end")):
            tag = _local(element.tag)
            if event == "start":
                if tag == "row":
                    # "r" is optional: rows and cells without it follow the previous one
                    row = int(element.get("r") or row + 1)
                    col = 0
                continue
            if tag == "row":
                element.clear()
                continue
            if tag != "c":
                continue
            ref = element.get("r")
            if ref:
                letters, row = coordinate_from_string(ref)
                col = column_index_from_string(letters)
            else:
                col += 1
                ref = f"{get_column_letter(col)}{row}"
            formula = next((child for child in element if _local(child.tag) == "f"), None)
            if formula is None:
                continue
            text = formula.text
            if formula.get("t") == "shared":
                si = formula.get("si", "")
                if text:
                    shared[si] = (ref, "=" + text)
                elif si in shared:
                    origin, master = shared[si]
                    text = Translator(master, origin=origin).translate_formula(ref)[1:]
            if text is not None:
                found[(row, col - 1)] = Formula("=" + text)
    return found


class ExactReader(ExcelReader):
    """openpyxl's reader, with every string kept exactly as stored (``_xHHHH_`` escapes undecoded).

    openpyxl strips ``x005F_`` (half of the escape decoding) from shared strings
    and, with ``rich_text=True``, from inline strings too, so a decoded value can
    no longer be told from a stored one. Here shared strings are read as stored
    (rich text kept as `CellRichText`), and inline strings are read as plain text
    (``rich_text=False``), which openpyxl keeps as stored. Every string then
    decodes correctly with `unescape_text` and is written back unchanged. The
    price: formatting inside an inline rich-text cell (which Excel never writes)
    is flattened.
    """

    def __init__(self, handle: str | BinaryIO, read_only: bool, keep_vba: bool = False) -> None:
        super().__init__(handle, read_only=read_only, keep_vba=keep_vba, data_only=False, keep_links=True)

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is None:
            self.shared_strings = []
            return
        strings: list[object] = []
        with self.archive.open(part.PartName[1:]) as source:
            for _event, node in SafeET.iterparse(source):
                if _local(node.tag) != "si":
                    continue
                text = Text.from_tree(node)
                node.clear()
                if text.t is not None or not text.r:
                    strings.append(text.t or "")
                    continue
                runs = [TextBlock(r.rPr, r.t or "") if r.rPr else (r.t or "") for r in text.r]
                if len(runs) == 1 and isinstance(runs[0], str):
                    strings.append(runs[0])
                else:
                    strings.append(CellRichText(runs))
        self.shared_strings = strings


def load_exact(handle: str | BinaryIO, read_only: bool, keep_vba: bool = False) -> Any:
    """`openpyxl.load_workbook`, keeping rich text and every string exactly as stored (see `ExactReader`)."""
    try:
        reader = ExactReader(handle, read_only=read_only, keep_vba=keep_vba)
        reader.read()
    except Exception as exc:  # openpyxl raises whatever a malformed part leads it to; the file is at fault
        # the type only: a message may quote cell contents (phone numbers) that logs must not hold
        logger.warning("openpyxl cannot load the workbook (%s)", type(exc).__name__)
        raise WorkbookError(
            [Problem(f"the workbook cannot be opened: {_brief(exc)}", f"无法打开工作簿：{_brief(exc)}")]
        ) from exc
    return reader.wb


class Grid:
    """The worksheets of one workbook, opened with one engine."""

    def __init__(self, handle: str | BinaryIO, formula_parts: set[str], engine: str = "calamine") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        self.engine = engine
        self._handle = handle
        self._formula_parts = formula_parts
        self._book: Any = None
        try:
            with zipfile.ZipFile(self._rewound()) as archive:
                self.parts = WorkbookParts(archive)
            if engine == "calamine":
                self._book = CalamineWorkbook.from_object(self._rewound())
                self.titles = list(self._book.sheet_names)
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    self._book = load_exact(self._rewound(), read_only=True)
                self.notes = [str(w.message) for w in caught]
                self.titles = list(self._book.sheetnames)
        except FILE_ERRORS as exc:
            raise WorkbookError(
                [Problem(f"the workbook cannot be opened: {_brief(exc)}", f"无法打开工作簿：{_brief(exc)}")]
            ) from exc

    def _rewound(self) -> str | BinaryIO:
        if isinstance(self._handle, str):
            return self._handle
        self._handle.seek(0)
        return self._handle

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
            self._book = None

    def __enter__(self) -> Grid:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def epoch(self) -> datetime:
        return self.parts.epoch

    def formulas(self, title: str) -> dict[tuple[int, int], Formula]:
        part = self.parts.parts.get(title, "")
        if part not in self._formula_parts:
            return {}
        with zipfile.ZipFile(self._rewound()) as archive:
            return scan_formulas(archive, part)

    def rows(self, title: str) -> Iterator[list[object]]:
        """Every row of sheet ``title`` from row 1, each its values from column A."""
        if self.engine == "calamine":
            return self._calamine_rows(title)
        return self._openpyxl_rows(title)

    def _calamine_rows(self, title: str) -> Iterator[list[object]]:
        try:
            sheet = self._book.get_sheet_by_name(title)
            formulas = self.formulas(title)
        except FILE_ERRORS as exc:
            raise WorkbookError(
                [
                    Problem(
                        f"the sheet cannot be read: {_brief(exc)}; open and save the workbook in Excel again",
                        f"无法读取此工作表：{_brief(exc)}，请在 Excel 中打开并重新保存",
                        sheet=title,
                    )
                ]
            ) from exc
        by_row: dict[int, list[tuple[int, Formula]]] = {}
        for (row, col), formula in formulas.items():
            by_row.setdefault(row, []).append((col, formula))
        start = sheet.start
        pad: list[object] = [""] * (start[1] if start else 0)
        for index, values in enumerate(sheet.iter_rows()):
            number = index + 1
            if pad:
                values = pad + values
            for col, formula in by_row.get(number, ()):
                values.extend([""] * (col + 1 - len(values)))
                values[col] = formula
            yield values

    def _openpyxl_rows(self, title: str) -> Iterator[list[object]]:
        ws = self._book[title]
        ws.reset_dimensions()
        for cells in ws.iter_rows():
            values: list[object] = []
            for cell in cells:
                value = cell.value
                if isinstance(value, CellRichText):
                    value = str(value)
                if isinstance(value, str):
                    value = Formula(value) if cell.data_type == "f" else unescape_text(value)
                values.append(value)
            yield values


class LoadedGrid:
    """The same row interface over a workbook loaded by `load_exact` (used by the writer)."""

    def __init__(self, book: Any) -> None:
        self._book = book
        self.titles = list(book.sheetnames)
        self.epoch = book.epoch

    def rows(self, title: str) -> Iterator[list[object]]:
        """Rows 1 to the last, each as wide as the sheet, like ``iter_rows(values_only=True)``.

        Read from the cells that exist, so that no empty cell is created on the way (openpyxl's
        ``iter_rows`` makes one object per position, seconds for a sheet with one cell in XFD1).
        """
        cells = self._book[title]._cells
        if not cells:
            return
        height = max(row for row, _ in cells)
        width = max(col for _, col in cells)
        for number in range(1, height + 1):
            values: list[object] = []
            for col in range(1, width + 1):
                cell = cells.get((number, col))
                value = None if cell is None else cell.value
                values.append(unescape_text(str(value)) if isinstance(value, str | CellRichText) else value)
            yield values


def _brief(exc: BaseException) -> str:
    """An exception as a short line for a message (library errors can be long)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def open_grid(source: bytes | str | BinaryIO, formula_parts: set[str], engine: str = "calamine") -> Grid:
    """A Grid on ``source`` (a path, the bytes of a file, or a binary file object)."""
    if isinstance(source, bytes | bytearray):
        return Grid(io.BytesIO(source), formula_parts, engine)
    return Grid(source, formula_parts, engine)
