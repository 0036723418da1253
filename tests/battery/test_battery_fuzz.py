"""Battery 4: fuzzed workbooks through the branch upload — 0 unhandled exceptions, 0 uploads over 5 s.

Real branch workbooks are mutated by hypothesis: bytes of the zip flipped,
the zip truncated, parts dropped or renamed, the XML of the sheets cut,
repeated and spliced, and cells of every column given values of every type
(numbers, NaN, booleans, errors, dates, shared-string indexes that do not
exist, formulas, huge strings, control characters, odd Unicode, references
out of range), and cells, rows, merges, hyperlinks, comments and size tags put
at references anywhere (far corners, past Excel's limits, past 32 bits).
Every upload goes through the Flask test client, which raises what the app
does not handle (TESTING propagates exceptions), so an unhandled exception is
counted, never turned into a 500 that could be missed. An accepted upload's
merged workbook must read back.

``BATTERY_PROFILE=ci`` (default) runs 1,000 workbooks; ``BATTERY_PROFILE=long``
runs 10,000. The count, the slowest upload and the rate are printed (-s); inputs
that fail are kept in ``$BATTERY_FAILURES`` (default: the test's tmp_path).
"""

from __future__ import annotations

import io
import os
import re
import time
import traceback
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from server.storage.db import get_db
from server.storage.models import BranchRow, tickets_table
from server.xlsx import WorkbookError, read_workbook
from tests.battery.hostile_files import NOW, part_of, sheet_rows, ticket, workbook_bytes
from tests.server.api.conftest import add_branch
from tests.server.api.test_branch_portal import csrf as page_csrf

pytestmark = pytest.mark.battery

PROFILE = os.environ.get("BATTERY_PROFILE", "ci")
EXAMPLES = {"ci": 1_000, "long": 10_000}[PROFILE]
MAX_SECONDS = 5.0


def _bases() -> dict[str, bytes]:
    tricky = ticket(
        9, description="=1+1", customer_name="\x07bell", place="_x0041_ literal", contact="+86 138"
    )
    return {
        "zh": workbook_bytes(sheet_rows(3)),
        "en": workbook_bytes([*sheet_rows(2), tricky], lang="en"),
    }


BASES = _bases()
SHEETS = {name: part_of(data, "投诉单" if name == "zh" else "Tickets") for name, data in BASES.items()}
CELL = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*?(?:/>|>.*?</c>)', re.S)


def _xml_text(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        ["=1+1", "+86 138", "-5", "@SUM(A1)", "\t=x", "\r\n", "\0", "_x0000_", "\ufeff", "\u202e"]
    ),
    st.builds(
        lambda n, c: c * n, st.sampled_from([32_767, 40_000, 300_000]), st.sampled_from(["A", "断", "😀"])
    ),
)


@st.composite
def cell_xml(draw: st.DrawFn, ref: bytes) -> bytes:
    """A cell at ``ref`` holding a value of any type, well formed or not."""
    kind = draw(st.sampled_from(["str", "num", "bool", "err", "date", "shared", "formula", "empty", "raw"]))
    head = b'<c r="' + ref + b'"'
    if kind == "str":
        return (
            head
            + b' t="inlineStr"><is><t xml:space="preserve">'
            + _xml_text(draw(odd_text))
            + b"</t></is></c>"
        )
    if kind == "num":
        number = draw(
            st.one_of(st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True))
        )
        return head + b"><v>" + repr(number).encode() + b"</v></c>"
    if kind == "bool":
        return head + b' t="b"><v>' + draw(st.sampled_from([b"0", b"1", b"2", b"x", b""])) + b"</v></c>"
    if kind == "err":
        return (
            head + b' t="e"><v>' + draw(st.sampled_from([b"#N/A", b"#DIV/0!", b"#REF!", b"?"])) + b"</v></c>"
        )
    if kind == "date":
        text = draw(st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=12)))
        return head + b' t="d"><v>' + _xml_text(text) + b"</v></c>"
    if kind == "shared":
        return head + b' t="s"><v>' + str(draw(st.integers(-2, 10**9))).encode() + b"</v></c>"
    if kind == "formula":
        return head + b"><f>" + _xml_text(draw(st.text(max_size=30))) + b"</f><v>1</v></c>"
    if kind == "empty":
        return head + b' s="' + str(draw(st.integers(0, 500))).encode() + b'"/>'
    return head + b">" + draw(st.binary(max_size=30)) + b"</c>"


def _rezip(data: bytes, change: dict[str, bytes | None], rename: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = change.get(info.filename, source.read(info))
            if content is None:
                continue
            with warnings.catch_warnings():  # a part renamed onto another: duplicate names are the point
                warnings.simplefilter("ignore")
                target.writestr((rename or {}).get(info.filename, info.filename), content)
    return out.getvalue()


@st.composite
def mutate_cells(draw: st.DrawFn, data: bytes, part: str) -> bytes:
    """Values of every type in cells of the ticket rows, in our columns and beyond, some refs out of range."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(part)
    cells = [m for m in CELL.finditer(xml) if int(m.group(2)) > 1]
    chosen = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=12, unique_by=lambda m: m.start()))
    pieces, last = [], 0
    for match in sorted(chosen, key=lambda m: m.start()):
        ref = match.group(1) + match.group(2)
        if draw(st.integers(0, 9)) == 0:
            column = draw(st.sampled_from([b"A", b"BZ", b"XFD", b"XFE", b"AAAA", b""]))
            ref = column + draw(st.sampled_from([b"0", b"2", b"1048576", b"1048577", b"99999999", b"-1"]))
        pieces += [xml[last : match.start()], draw(cell_xml(ref))]
        last = match.end()
    pieces.append(xml[last:])
    if draw(st.booleans()):  # a whole new row with a value in every column
        row = b'<row r="4">' + b"".join(
            draw(cell_xml(get_column_letter(n).encode() + b"4")) for n in range(1, draw(st.integers(1, 70)))
        )
        pieces[-1] = pieces[-1].replace(b"</sheetData>", row + b"</row></sheetData>", 1)
    return _rezip(data, {part: b"".join(pieces)})


@st.composite
def mutate_xml(draw: st.DrawFn, data: bytes, part: str) -> bytes:
    """The XML of one part cut, repeated or spliced with junk."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        name = draw(st.sampled_from([part, part, *names]))
        xml = archive.read(name)
    start = draw(st.integers(0, len(xml)))
    end = draw(st.integers(start, min(len(xml), start + 400)))
    junk = st.one_of(
        st.binary(max_size=40),
        st.sampled_from(
            [b"<", b"&", b"]]>", b"<c>", b"</row>", b'<row r="0">', b"<!--", b"&amp", b"\xff\xfe"]
        ),
    )
    operation = draw(st.sampled_from(["delete", "repeat", "insert", "replace"]))
    if operation == "delete":
        xml = xml[:start] + xml[end:]
    elif operation == "repeat":
        xml = xml[:end] + xml[start:end] * draw(st.integers(1, 50)) + xml[end:]
    elif operation == "insert":
        xml = xml[:start] + draw(junk) + xml[start:]
    else:
        xml = xml[:start] + draw(junk) + xml[end:]
    return _rezip(data, {name: xml})


references = st.builds(
    lambda letters, digits: letters + digits,
    st.one_of(
        st.sampled_from([b"A", b"Z", b"BK", b"ZZ", b"XFD", b"XFE", b"ZZZZ", b"a", b""]), st.binary(max_size=4)
    ),
    st.one_of(
        st.integers(0, 2**40).map(lambda n: str(n).encode()),
        st.sampled_from([b"1048576", b"1048577", b"4294967297", b"9" * 30, b"", b"-1"]),
    ),
)


@st.composite
def mutate_geometry(draw: st.DrawFn, data: bytes, part: str) -> bytes:
    """Cells, merges, hyperlinks and comments at references anywhere, on any sheet, in or out of range."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        name = draw(st.sampled_from([part, *sheets]))
        xml = archive.read(name)
        comments = archive.read("xl/comments/comment1.xml") if name == part else None
    ref = draw(references)
    span = ref + b":" + draw(references)
    what = draw(st.sampled_from(["cell", "row", "merge", "hyperlink", "comment", "dimension"]))
    if what == "cell":
        row = (
            b""
            if draw(st.booleans())
            else b' r="' + draw(references).lstrip(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ") + b'"'
        )
        cell = b"<row" + row + b'><c r="' + ref + b'" t="inlineStr"><is><t>x</t></is></c></row>'
        xml = xml.replace(b"</sheetData>", cell + b"</sheetData>", 1)
    elif what == "row":
        cell = (
            b'<row r="' + draw(references).lstrip(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ") + b'"><c><v>1</v></c></row>'
        )
        xml = xml.replace(b"</sheetData>", cell + b"</sheetData>", 1)
    elif what == "merge":
        merge = (
            b'<mergeCells count="1"><mergeCell ref="'
            + draw(st.sampled_from([ref, span]))
            + b'"/></mergeCells>'
        )
        xml = xml.replace(b"</sheetData>", b"</sheetData>" + merge, 1)
    elif what == "hyperlink":
        link = (
            b'<hyperlinks><hyperlink ref="'
            + draw(st.sampled_from([ref, span]))
            + b'" location="A1"/></hyperlinks>'
        )
        xml = re.sub(rb"(<tableParts|<legacyDrawing|</worksheet>)", lambda m: link + m.group(1), xml, count=1)
    elif what == "comment" and comments is not None:
        far = re.sub(rb'ref="[A-Z]+[0-9]+"', lambda _: b'ref="' + ref + b'"', comments, count=1)
        return _rezip(data, {"xl/comments/comment1.xml": far})
    else:
        xml = re.sub(rb'<dimension ref="[^"]*"', lambda _: b'<dimension ref="' + span + b'"', xml, count=1)
    return _rezip(data, {name: xml})


@st.composite
def fuzzed_workbooks(draw: st.DrawFn) -> tuple[str, bytes]:
    base = draw(st.sampled_from(sorted(BASES)))
    data, part = BASES[base], SHEETS[base]
    kinds = ["cells", "cells", "cells", "geometry", "geometry", "xml", "xml", "flip", "truncate", "parts"]
    kind = draw(st.sampled_from(kinds))
    if kind == "geometry":
        return kind, draw(mutate_geometry(data, part))
    if kind == "cells":
        return kind, draw(mutate_cells(data, part))
    if kind == "xml":
        return kind, draw(mutate_xml(data, part))
    if kind == "flip":
        mutated = bytearray(data)
        for _ in range(draw(st.integers(1, 16))):
            mutated[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return kind, bytes(mutated)
    if kind == "truncate":
        return kind, data[: draw(st.integers(0, len(data) - 1))]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    victim = draw(st.sampled_from(names))
    if draw(st.booleans()):
        return kind, _rezip(data, {victim: None})
    return kind, _rezip(
        data, {}, {victim: draw(st.sampled_from(names + ["xl/other.xml", "Xl/Workbook.XML"]))}
    )


def _signed_in(app: Flask) -> tuple[FlaskClient, str]:
    """A client signed in on /branch as SZ01, and the CSRF token of its session."""
    token = add_branch(app, "SZ01")
    client = app.test_client()
    form = {"branch": "SZ01", "token": token, "csrf_token": branch_csrf(client)}
    assert client.post("/branch/signin", data=form).status_code == 302
    return client, branch_csrf(client)


def branch_csrf(client: FlaskClient) -> str:
    return page_csrf(client.get("/branch/").get_data(as_text=True))


def test_fuzzed_workbooks_never_crash_the_upload_nor_take_over_five_seconds(
    app: Flask, tmp_path: Path
) -> None:
    client, csrf = _signed_in(app)
    failures = Path(os.environ.get("BATTERY_FAILURES") or tmp_path / "failures")  # inputs that failed
    failures.mkdir(parents=True, exist_ok=True)
    statuses: Counter[tuple[str, int]] = Counter()
    crashes: list[str] = []
    slow: list[tuple[float, str]] = []
    unclear: list[str] = []
    wrong: list[str] = []
    partial: list[str] = []
    unreadable: list[str] = []
    times: list[float] = []

    def stored() -> int:
        with app.app_context(), get_db().read() as session:
            return session.execute(select(func.count()).select_from(tickets_table)).scalar_one()

    def changes() -> int:
        with app.app_context(), get_db().read() as session:
            return session.execute(select(func.max(BranchRow.change_seq))).scalar_one()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=PROFILE == "ci",
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def upload(draws: st.DataObject) -> None:
        kind, data = draws.draw(fuzzed_workbooks(), label="workbook")
        before = changes()
        started = time.perf_counter()
        try:
            response = client.post(
                "/branch/upload",
                data={"csrf_token": csrf, "workbook": (io.BytesIO(data), "SZ01.xlsx")},
                content_type="multipart/form-data",
            )
        except Exception:
            path = failures / f"crash-{len(crashes)}.xlsx"
            path.write_bytes(data)
            crashes.append(f"{kind} ({path}):\n{traceback.format_exc()}")
            return
        finally:
            times.append(time.perf_counter() - started)
        if times[-1] > MAX_SECONDS:
            path = failures / f"slow-{len(slow)}.xlsx"
            path.write_bytes(data)
            slow.append((times[-1], f"{kind} ({path})"))
        statuses[(kind, response.status_code)] += 1
        page = response.get_data(as_text=True)
        if response.status_code == 422 and not re.search(r'<ul class="problems">\s*<li>', page):
            unclear.append(f"{kind}: {page[:300]}")
        # the merged workbook given back reads as a branch workbook (unless rows were not accepted: they
        # stay as typed, and may clash with the server's rows, which the next upload names)
        if response.status_code == 200 and "未接受的行" not in page:
            link = re.search(r'href="(/branch/download/[^"]+)"', page)
            download = client.get(link.group(1)) if link else None
            try:
                assert download is not None and download.status_code == 200
                read_workbook(download.data, now=NOW)
            except (AssertionError, WorkbookError) as exc:
                path = failures / f"merged-{len(unreadable)}.xlsx"
                path.write_bytes(data)
                unreadable.append(f"{kind} ({path}): {exc!r}"[:500])
            finally:
                if download is not None:
                    download.close()
        if response.status_code != 200 and changes() != before:
            path = failures / f"partial-{len(partial)}.xlsx"
            path.write_bytes(data)
            partial.append(f"{kind} ({path}): {response.status_code} {page[-600:]}")
        if response.status_code not in (200, 413, 422):
            path = failures / f"status-{len(wrong)}.xlsx"
            path.write_bytes(data)
            wrong.append(f"{kind} ({path}): {response.status_code} {page[:300]}")

    started = time.perf_counter()
    upload()
    elapsed = time.perf_counter() - started

    print(
        f"\nfuzz ({PROFILE}): {len(times)} workbooks in {elapsed:.0f} s ({len(times) / elapsed:.1f}/s), "
        f"slowest {max(times):.2f} s, unhandled exceptions {len(crashes)}, "
        f"over {MAX_SECONDS:.0f} s {len(slow)}"
    )
    print("outcomes:", dict(sorted(statuses.items())))
    print(f"tickets stored by the accepted uploads: {stored()}; slowest: {sorted(slow, reverse=True)[:3]}")
    assert len(times) >= EXAMPLES
    assert not crashes, f"{len(crashes)} unhandled exceptions; first:\n{crashes[0]}"
    assert not slow, f"{len(slow)} uploads over {MAX_SECONDS} s: {slow[:5]}"
    assert not wrong, f"{len(wrong)} unexpected statuses: {wrong[:3]}"
    assert not partial, f"{len(partial)} refused uploads changed stored data: {partial[:3]}"
    assert not unreadable, f"{len(unreadable)} merged workbooks do not read back: {unreadable[:3]}"
    assert not unclear, f"refusals without a problem listed: {unclear[:3]}"
