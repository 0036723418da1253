"""Battery 1-3: hostile workbooks through the branch upload (/branch/upload).

1. XML entities (billion laughs, quadratic blow-up, XXE, in UTF-8 and UTF-16, in
   any part): refused with 4xx in < 1 s, no file contents in the response.
2. Zip bombs, lying zip sizes, whole-sheet size tags, whole-sheet merges and
   hyperlinks, stray far cells: refused before parsing, or read fully, in < 2 s
   and < 200 MB peak RSS (measured in a child process, which counts calamine's
   native allocations).
3. A 10-row sheet whose size tag is stale: 10 of 10 rows imported.
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl.utils import get_column_letter

from complaints.schema import SETTINGS, SYNC, TICKETS
from server.xlsx.errors import UnsafeWorkbookError
from server.xlsx.zipguard import check_zip
from tests.battery.hostile_files import (
    WHOLE_SHEET,
    add_far_cell,
    add_merge,
    billion_laughs,
    parameter_xxe,
    part_of,
    patch_sizes,
    quadratic,
    read_part,
    rewrite,
    rewrite_sheet,
    set_dimension,
    sheet_rows,
    utf16,
    with_doctype,
    with_entry,
    workbook_bytes,
    xxe,
)
from tests.server.api.conftest import REPO, add_branch
from tests.server.api.test_branch_portal import csrf

pytestmark = pytest.mark.battery

SECRET = "battery-secret-7f3a9c"
PASSWD_LINE = re.compile(r"root:[^:\n]*:0:0:")


def signed_in(app: Flask) -> tuple[FlaskClient, str]:
    """A test client signed in on /branch as SZ01, and SZ01's API token."""
    token = add_branch(app, "SZ01")
    client = app.test_client()
    page = client.get("/branch/").get_data(as_text=True)
    form = {"branch": "SZ01", "token": token, "csrf_token": csrf(page)}
    response = client.post("/branch/signin", data=form)
    assert response.status_code == 302
    return client, token


@pytest.fixture
def portal(app: Flask) -> tuple[FlaskClient, str]:
    return signed_in(app)


def upload(client: FlaskClient, data: bytes) -> tuple[int, str, float]:
    """Upload ``data`` on /branch: (status, page text, seconds taken by the upload request)."""
    token = csrf(client.get("/branch/").get_data(as_text=True))
    started = time.perf_counter()
    response = client.post(
        "/branch/upload",
        data={"csrf_token": token, "workbook": (io.BytesIO(data), "SZ01.xlsx")},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True), time.perf_counter() - started


def stored_tickets(client: FlaskClient, token: str) -> int:
    return client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json["total"]


# --- 1. XML entities -----------------------------------------------------------------------

Change = Callable[[bytes, str], bytes]


def _in_sheet(make: Callable[[bytes, str], bytes], entity: bytes, encode: Callable[[bytes], bytes]) -> Change:
    def change(base: bytes, secret: str) -> bytes:
        return rewrite_sheet(base, lambda xml: encode(with_doctype(xml, make(b"worksheet", secret), entity)))

    return change


def _in_part(part: str, root: bytes, before: bytes, encode: Callable[[bytes], bytes] = bytes) -> Change:
    def change(base: bytes, secret: str) -> bytes:
        return rewrite(base, part, lambda xml: encode(with_doctype(xml, xxe(root, secret), b"&xxe;", before)))

    return change


def _plain(xml: bytes) -> bytes:
    return xml


ENTITY_CASES: dict[str, Change] = {
    "billion-laughs": _in_sheet(lambda root, _: billion_laughs(root), b"&lol9;", _plain),
    "quadratic-blowup": _in_sheet(lambda root, _: quadratic(root), b"&a;" * 2_000, _plain),
    "xxe-file": _in_sheet(xxe, b"&xxe;", _plain),
    "xxe-passwd": _in_sheet(lambda root, _: xxe(root, "/etc/passwd"), b"&xxe;", _plain),
    "xxe-parameter-entity": _in_sheet(parameter_xxe, b"", _plain),
    "billion-laughs-utf16": _in_sheet(lambda root, _: billion_laughs(root), b"&lol9;", utf16),
    "xxe-utf16": _in_sheet(xxe, b"&xxe;", utf16),
    "xxe-workbook-part": _in_part("xl/workbook.xml", b"workbook", b"<sheets"),
    "xxe-workbook-part-utf16": _in_part("xl/workbook.xml", b"workbook", b"<sheets", utf16),
    "xxe-content-types": _in_part("[Content_Types].xml", b"Types", b"<Default"),
    "xxe-relationships": _in_part("xl/_rels/workbook.xml.rels", b"Relationships", b"<Relationship "),
    "xxe-shared-strings": lambda base, secret: with_entry(
        base,
        "xl/sharedStrings.xml",
        b'<?xml version="1.0"?>' + xxe(b"sst", secret) + b"<sst><si><t>&xxe;</t></si></sst>",
    ),
}


@pytest.mark.parametrize("case", ENTITY_CASES)
def test_xml_entity_workbooks_are_refused_quickly_without_leaking_files(
    portal: tuple[FlaskClient, str], tmp_path: Path, case: str
) -> None:
    client, token = portal
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    hostile = ENTITY_CASES[case](workbook_bytes(sheet_rows(3)), str(secret_file))

    status, page, seconds = upload(client, hostile)
    print(f"{case}: {status} in {seconds:.3f} s")

    assert 400 <= status < 500, page
    assert seconds < 1.0
    assert "未导入" in page  # the page says the workbook was refused, and why
    assert SECRET not in page and not PASSWD_LINE.search(page)
    assert stored_tickets(client, token) == 0


# --- 2. zip bombs, lying sizes, whole-sheet tags -----------------------------------------

MEASURE = """
import io, json, sys, time
sys.path.insert(0, sys.argv[1])
from server.xlsx import WorkbookError, read_workbook, write_workbook
from tests.battery.hostile_files import NOW

def peak_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

data = open(sys.argv[2], "rb").read()
before = peak_mib()
started = time.perf_counter()
try:  # what the upload does with the file: read it, then write the merged rows back into it
    book = read_workbook(data, now=NOW)
    write_workbook(data, io.BytesIO(), tickets=book.tickets, rows=book.rows)
    outcome = f"read {len(book.tickets)} tickets"
except WorkbookError as exc:
    outcome = "refused: " + exc.problems[0].text("en")
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mib": peak_mib(),
                  "baseline_mib": before, "outcome": outcome}))
"""


def measure_reader(data: bytes, tmp_path: Path) -> dict[str, object]:
    """Read and write back ``data`` in a child process: seconds, peak RSS (VmHWM) and the outcome."""
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(REPO), str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"the reader died ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _bomb(base: bytes) -> bytes:
    return with_entry(base, "xl/bomb.xml", b"<a>" + b"\0" * (200 << 20) + b"</a>")


def _sheet_bomb(base: bytes) -> bytes:
    filler = b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"A" * (60 << 20) + b"</t></is></c></row>"
    return rewrite_sheet(base, lambda xml: xml.replace(b"</sheetData>", filler + b"</sheetData>"))


def _nested_bomb(base: bytes) -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(10):
            archive.writestr(f"layer{n}.xml", b"\0" * (20 << 20))
    return with_entry(base, "xl/embeddings/inner.zip", inner.getvalue())


def _lying_small(base: bytes) -> bytes:
    """The sheet grows by 4 MB of incompressible bytes, but its headers still claim 30,000 bytes."""
    part = part_of(base)
    noise = random.Random(8).randbytes(4 << 20).hex().encode()
    grown = rewrite_sheet(base, lambda xml: xml + b"<!--" + noise + b"-->")
    return patch_sizes(grown, part.encode(), 30_000)


def _lying_large(base: bytes) -> bytes:
    return patch_sizes(base, part_of(base).encode(), 0xFFFFFFF0)


def _hyperlink_range(base: bytes) -> bytes:
    link = b'<hyperlinks><hyperlink ref="A1:XFD1048576" display="x" location="A1"/></hyperlinks>'
    return rewrite_sheet(base, lambda xml: xml.replace(b"<tableParts", link + b"<tableParts", 1))


def _far_hyperlink_on_settings(base: bytes) -> bytes:
    link = b'<hyperlinks><hyperlink ref="XFD1048576" display="x" location="A1"/></hyperlinks>'
    return rewrite(
        base, part_of(base, SETTINGS.zh), lambda xml: xml.replace(b"</worksheet>", link + b"</worksheet>")
    )


def _far_comment(base: bytes) -> bytes:
    far = b'ref="XFD1048576"'
    return rewrite(
        base, "xl/comments/comment1.xml", lambda xml: re.sub(rb'ref="[A-Z]+[0-9]+"', far, xml, count=1)
    )


def _stray_row_on_the_sync_sheet(base: bytes) -> bytes:
    return rewrite(base, part_of(base, SYNC.zh), lambda xml: add_far_cell(xml, b"A999999", 999999))


SIZE_CASES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "zip-bomb": (_bomb, "refused"),
    "sheet-bomb": (_sheet_bomb, "refused"),
    "nested-zip-bomb": (_nested_bomb, "refused"),  # too compressed itself; its inner zip is never opened
    "size-header-lies-small": (_lying_small, "refused"),
    "size-header-lies-large": (_lying_large, "refused"),
    "whole-sheet-dimension": (
        lambda base: rewrite_sheet(base, lambda x: set_dimension(x, WHOLE_SHEET)),
        "read",
    ),
    "whole-sheet-merge": (lambda base: rewrite_sheet(base, add_merge), "refused"),
    "whole-sheet-hyperlink": (_hyperlink_range, "refused"),
    "hyperlink-on-whole-rows": (
        lambda base: rewrite(
            base,
            part_of(base, SETTINGS.zh),
            lambda x: x.replace(
                b"</worksheet>", b'<hyperlinks><hyperlink ref="9:1048576"/></hyperlinks></worksheet>'
            ),
        ),
        "refused",
    ),
    "stray-cell-in-the-last-cell": (lambda base: rewrite_sheet(base, add_far_cell), "refused"),
    "stray-cell-in-the-last-row": (
        lambda base: rewrite_sheet(base, lambda x: add_far_cell(x, b"A1048576")),
        "refused",
    ),
    "hyperlink-in-the-last-cell-of-settings": (_far_hyperlink_on_settings, "refused"),
    "comment-in-the-last-cell": (_far_comment, "refused"),
    "one-cell-merge-in-the-last-cell": (
        lambda base: rewrite(
            base, part_of(base, SETTINGS.zh), lambda x: add_merge(x, b"XFD1048576:XFD1048576")
        ),
        "refused",
    ),
    "stray-row-on-the-sync-sheet": (_stray_row_on_the_sync_sheet, "refused"),
    "stray-cell-in-column-xfd-of-row-12": (
        lambda base: rewrite_sheet(base, lambda x: add_far_cell(x, b"XFD12", 12)),
        "read",
    ),
    "stray-row-without-references": (
        lambda base: rewrite_sheet(
            base,
            lambda x: x.replace(
                b"</sheetData>", b'<row r="1048576"><c t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
            ),
        ),
        "refused",
    ),
}


@pytest.mark.parametrize("case", SIZE_CASES)
def test_oversized_workbooks_are_refused_or_read_in_bounded_time_and_memory(
    tmp_path: Path, case: str
) -> None:
    make, expected = SIZE_CASES[case]
    hostile = make(workbook_bytes(sheet_rows(10)))

    figures = measure_reader(hostile, tmp_path)
    print(f"{case}: {figures}")

    assert str(figures["outcome"]).startswith(expected), figures
    assert figures["seconds"] < 2.0, figures  # type: ignore[operator]
    assert figures["peak_mib"] < 200, figures  # type: ignore[operator]


@pytest.mark.parametrize("case", ["zip-bomb", "whole-sheet-merge", "stray-cell-in-the-last-cell"])
def test_oversized_workbooks_are_refused_through_the_upload_naming_the_problem(
    portal: tuple[FlaskClient, str], case: str
) -> None:
    client, token = portal
    status, page, seconds = upload(client, SIZE_CASES[case][0](workbook_bytes(sheet_rows(10))))
    assert status == 422 and seconds < 2.0
    assert re.search(r"zip 炸弹|取消合并|多余的单元格", page), page
    assert stored_tickets(client, token) == 0


# --- 3. stale size tags ----------------------------------------------------------------------


@pytest.mark.parametrize("stale", [b"A1:B2", b"A1", b"A1:XFD1048576"])
def test_a_ten_row_sheet_with_a_stale_size_tag_imports_all_ten_rows(
    portal: tuple[FlaskClient, str], stale: bytes
) -> None:
    client, token = portal
    data = rewrite_sheet(workbook_bytes(sheet_rows(10)), lambda xml: set_dimension(xml, stale))
    assert b'<dimension ref="' + stale + b'"/>' in read_part(data, part_of(data))

    status, page, _ = upload(client, data)

    assert status == 200, page
    assert "新建投诉" in page
    assert stored_tickets(client, token) == 10


# --- refused whole ---------------------------------------------------------------------------

SYNC_KEY_CELL = f"{get_column_letter([c.key for c in TICKETS.columns].index('sync_key') + 1)}3".encode()


@pytest.mark.parametrize(
    ("part", "change"),
    [
        ("xl/styles.xml", lambda xml: xml.replace(b"<cellXfs", b"<cellXfs><bogus", 1)),
        ("xl/tables/table1.xml", lambda xml: xml.replace(b'ref="', b'ref="ZZZ', 1)),
        # openpyxl gives an empty cell with a hyperlink the link as its value: a ticket number "A1"
        (
            "xl/worksheets/sheet1.xml",
            lambda xml: xml.replace(
                b"<tableParts", b'<hyperlinks><hyperlink ref="A30" location="A1"/></hyperlinks><tableParts', 1
            ),
        ),
        # an error value in the sync key column: calamine reads it empty, openpyxl as "#DIV/0!"
        (
            "xl/worksheets/sheet1.xml",
            lambda xml: re.sub(
                rb'(<c r="' + SYNC_KEY_CELL + rb'"[^>]*?)t="inlineStr"><is><t>[0-9a-f]+</t></is></c>',
                rb'\1t="e"><v>#DIV/0!</v></c>',
                xml,
            ),
        ),
    ],
)
def test_a_workbook_the_write_back_cannot_keep_is_refused_before_anything_is_stored(
    portal: tuple[FlaskClient, str], part: str, change: Callable[[bytes], bytes]
) -> None:
    client, token = portal
    # calamine reads the rows; openpyxl, which writes the merge back, cannot open or keep the file as read
    status, page, _ = upload(client, rewrite(workbook_bytes(sheet_rows(3)), part, change))
    assert status == 422 and re.search("无法打开工作簿|无法安全地把合并结果写回", page), page
    assert stored_tickets(client, token) == 0


@pytest.mark.parametrize(
    "cell",
    [
        b'<c\nr="XFD1048576" t="inlineStr"><is><t>x</t></is></c>',
        b"<c\tr='XFD1048576'><v>1</v></c>",
        b'<x:c r="XFD1048576" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:v>1</x:v></x:c>',
        b'<c s="1" r="XFD1048576"><v>1</v></c>',
        b'<c r="A99999999999999"><v>1</v></c>',
        b'<c r="A4294967297"><v>1</v></c>',
    ],
)
def test_a_stray_cell_is_found_however_its_xml_is_spelt(cell: bytes) -> None:
    data = rewrite_sheet(
        workbook_bytes(sheet_rows(3)),
        lambda xml: xml.replace(b"</sheetData>", b'<row r="5">' + cell + b"</row></sheetData>"),
    )
    with pytest.raises(UnsafeWorkbookError) as caught:
        check_zip(data)
    assert "delete the stray cells" in caught.value.problems[0].en


def test_a_zip_needing_an_unknown_version_to_extract_is_refused(portal: tuple[FlaskClient, str]) -> None:
    client, token = portal
    data = bytearray(workbook_bytes(sheet_rows(3)))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 6, 251)  # "version needed to extract": 25.1
    status, page, _ = upload(client, bytes(data))
    assert status == 422 and "不是 zip 文件" in page
    assert stored_tickets(client, token) == 0
