"""The fast sheet writer and the streaming zip, without a database."""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from openpyxl import Workbook

from complaints.cells import format_flags
from complaints.enums import Flag
from complaints.schema import ColType
from server.xlsx.bulk import BulkColumn, LocalTime, SheetParts, SheetXml, encode_rows
from server.xlsx.cellformat import unescape_text
from server.xlsx.consolidate import register_styles
from server.xlsx.zipstream import ZipStream, crc32_combine, deflate


class OneWay(io.RawIOBase):
    """A stream that cannot seek or tell, like an HTTP response."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_crc_of_chunks_combines_to_the_crc_of_the_whole() -> None:
    rng = random.Random(1)
    for _ in range(20):
        a, b = rng.randbytes(rng.randrange(0, 3000)), rng.randbytes(rng.randrange(0, 3000))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_zip_written_to_a_stream_that_cannot_seek_reads_back() -> None:
    target = OneWay()
    package = ZipStream(target)
    package.start("big.xml")
    pieces = [f"<row>{i}</row>".encode() * 50 for i in range(30)]
    for piece in pieces:
        package.add(deflate(piece))
    package.finish()
    package.writestr("small.xml", "<x>小</x>".encode())
    package.close()
    with zipfile.ZipFile(io.BytesIO(bytes(target.data))) as z:
        assert z.testzip() is None
        assert z.read("big.xml") == b"".join(pieces)
        assert z.read("small.xml").decode() == "<x>小</x>"


COLUMNS = [
    BulkColumn("branch", "Branch", 10, ColType.TEXT),
    BulkColumn("text", "Text", 30, ColType.TEXT),
    BulkColumn("at", "At", 17, ColType.DATETIME),
    BulkColumn("n", "N", 8, ColType.INT),
    BulkColumn("flag", "Flag", 8, ColType.BOOL),
]
SHANGHAI = LocalTime(ZoneInfo("Asia/Shanghai"))


def write_sheet(rows: list[tuple[list[object], str | None, LocalTime]], row_limit: int, chunk: int) -> bytes:
    wb = Workbook()
    styles = register_styles(wb)
    sheet = SheetXml(COLUMNS, styles, "en", freeze_columns=1)
    target = io.BytesIO()
    package = ZipStream(target)
    numbers = iter(range(2, 100))
    parts = SheetParts(
        sheet, "Tickets", package, lambda: f"xl/worksheets/sheet{next(numbers)}.xml", row_limit=row_limit
    )
    for start in range(0, len(rows), chunk):
        parts.add(encode_rows(sheet, rows[start : start + chunk]))
    written = parts.close()
    for part in written:
        wb.create_sheet(part.title).auto_filter.ref = sheet.filter_ref(part.rows)
    rich = io.BytesIO()
    wb.save(rich)
    streamed = {p.path for p in written}
    with zipfile.ZipFile(rich) as z:
        for name in z.namelist():
            if name not in streamed:
                package.writestr(name, z.read(name))
    package.close()
    return target.getvalue()


def test_rows_split_into_parts_within_the_limit_each_with_header_and_filter() -> None:
    rows = [([f"B{i:02d}", f"text {i}", None, i, i % 2 == 0], "blue", SHANGHAI) for i in range(11)]
    wb = openpyxl.load_workbook(io.BytesIO(write_sheet(rows, row_limit=5, chunk=2)))
    titles = wb.sheetnames[1:]
    assert titles == ["Tickets", "Tickets (2)", "Tickets (3)"]  # 4 + 4 + 3 rows
    seen = []
    for title in titles:
        ws = wb[title]
        assert ws.max_row <= 5
        assert [c.value for c in ws[1]] == ["Branch", "Text", "At", "N", "Flag"]
        assert ws.auto_filter.ref == f"A1:E{ws.max_row}"
        assert ws.freeze_panes == "B2"
        seen += [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert seen == [f"B{i:02d}" for i in range(11)]


def test_a_run_of_rows_longer_than_a_part_is_refused() -> None:
    rows = [(["B", "x", None, 1, True], "red", SHANGHAI)] * 5
    with pytest.raises(ValueError, match="cannot fit"):
        write_sheet(rows, row_limit=5, chunk=5)


@pytest.mark.parametrize(
    "text", ["=1+1", "+86 138", "-5", "@SUM(A1)", "\tx", "\rx", "\nx", "a\x01b", "_x0041_", "<b>&"]
)
def test_text_comes_back_as_text_never_a_formula(text: str) -> None:
    data = write_sheet([(["B", text, None, 0, False], "yellow", SHANGHAI)], row_limit=100, chunk=1)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "<f" not in z.read("xl/worksheets/sheet2.xml").decode()
    cell = openpyxl.load_workbook(io.BytesIO(data))["Tickets"]["B2"]
    assert cell.data_type == "s"
    assert unescape_text(cell.value) == text  # openpyxl leaves the _xHHHH_ escapes to the reader


def test_stored_utc_times_become_local_excel_dates() -> None:
    moments: list[object] = [
        datetime(2026, 11, 2, 1, 10, 30, 900_000, tzinfo=UTC),  # aware
        datetime(2026, 11, 2, 1, 10, 30),  # naive UTC (PostgreSQL)
        "2026-11-02 01:10:30.900000",  # text (SQLite)
    ]
    rows = [(["B", "", m, 0, False], "red", SHANGHAI) for m in moments]
    ws = openpyxl.load_workbook(io.BytesIO(write_sheet(rows, row_limit=100, chunk=3)))["Tickets"]
    for r in range(2, 5):
        assert ws.cell(r, 3).value == datetime(2026, 11, 2, 9, 10, 30)
        assert ws.cell(r, 3).number_format == "yyyy-mm-dd hh:mm"
        assert ws.cell(r, 3).fill.fgColor.rgb == "00FFC7CE"


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("America/New_York", 31),  # DST ends 1 Nov 2026 at 06:00 UTC
        ("Australia/Lord_Howe", 3),  # DST starts 4 Oct 2026 at 15:30 UTC, by half an hour: mid-hour
        ("Asia/Shanghai", 31),
    ],
)
def test_sqlite_text_times_give_the_serial_of_the_same_instant_across_clock_changes(
    zone: str, day: int
) -> None:
    start = datetime(2026, 10, day, 12, 0, 0, tzinfo=UTC).timestamp()
    local, reference = LocalTime(ZoneInfo(zone)), LocalTime(ZoneInfo(zone))
    for step in range(0, 3 * 86_400, 397):
        moment = datetime.fromtimestamp(start + step, UTC)
        text = moment.replace(tzinfo=None).isoformat(" ", timespec="microseconds")
        wall = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        expected = (wall.replace(microsecond=0) - datetime(1899, 12, 30)).total_seconds() / 86_400
        assert float(local.serial(text)) == pytest.approx(expected, abs=1e-9)
        assert local.serial(text) == reference.serial(moment)  # same text as for a datetime


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_flags_are_written_as_labels_of_the_workbook_language(lang: str) -> None:
    columns = [BulkColumn("flags", "Flags", 30, ColType.FLAGS)]
    wb = Workbook()
    sheet = SheetXml(columns, register_styles(wb), lang, freeze_columns=0)
    xml = sheet.row(["RESOLVE_DUE_SOON,ACK_OVERDUE"], "blue", SHANGHAI)
    expected = format_flags(frozenset({Flag.ACK_OVERDUE, Flag.RESOLVE_DUE_SOON}), lang)
    assert Flag.ACK_OVERDUE.label(lang) in expected and expected in xml
    assert "ACK_OVERDUE" not in xml
