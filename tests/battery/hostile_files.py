"""Hostile branch workbooks for the battery, built from a real one by editing its zip and XML parts."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime

from complaints.model import Ticket
from server.xlsx.grid import WorkbookParts
from tests.server.api.test_branch_portal import ticket, workbook_bytes  # noqa: F401 (shared)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
"""The API tests' pinned now: Wednesday 25 November 2026, 10:00 in Shanghai."""
TICKETS_ZH = "投诉单"


def part_of(data: bytes, title: str = TICKETS_ZH) -> str:
    """The zip part holding worksheet ``title``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return WorkbookParts(archive).parts[title]


def read_part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def rewrite(data: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The workbook with part ``name`` replaced by ``change(part)`` (added when missing: change(b""))."""
    out = io.BytesIO()
    found = False
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            part = source.read(info)
            if info.filename == name:
                part, found = change(part), True
            target.writestr(info, part)
        if not found:
            target.writestr(name, change(b""))
    return out.getvalue()


def rewrite_sheet(data: bytes, change: Callable[[bytes], bytes], title: str = TICKETS_ZH) -> bytes:
    return rewrite(data, part_of(data, title), change)


# --- XML entities -------------------------------------------------------------------------

_PROLOG = re.compile(rb"^<\?xml[^>]*\?>\s*")


def with_doctype(xml: bytes, doctype: bytes, entity: bytes, text: bytes = b"SZ01-") -> bytes:
    """``xml`` with a DOCTYPE after its declaration and ``&entity;`` in place of the first ``text``."""
    body = _PROLOG.sub(b"", xml)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + body.replace(text, entity + text, 1)


def billion_laughs(root: bytes) -> bytes:
    entities = b"".join(
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"lol") * 10) for n in range(1, 10)
    )
    return b"<!DOCTYPE %s [%s]>\n" % (root, entities)


def quadratic(root: bytes, size: int = 100_000) -> bytes:
    return b'<!DOCTYPE %s [<!ENTITY a "%s">]>\n' % (root, b"A" * size)


def xxe(root: bytes, path: str) -> bytes:
    return b'<!DOCTYPE %s [<!ENTITY xxe SYSTEM "file://%s">]>\n' % (root, path.encode())


def parameter_xxe(root: bytes, path: str) -> bytes:
    return b'<!DOCTYPE %s [<!ENTITY %% p SYSTEM "file://%s"> %%p;]>\n' % (root, path.encode())


def utf16(xml: bytes) -> bytes:
    """The same XML part encoded as UTF-16 (with a BOM), which a byte search for ``<!DOCTYPE`` misses."""
    text = xml.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    return text.encode("utf-16")


# --- sizes and zips -----------------------------------------------------------------------

WHOLE_SHEET = b"A1:XFD1048576"


def set_dimension(xml: bytes, ref: bytes) -> bytes:
    return re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="' + ref + b'"/>', xml, count=1)


def add_merge(xml: bytes, ref: bytes = WHOLE_SHEET) -> bytes:
    merge = b'<mergeCells count="1"><mergeCell ref="' + ref + b'"/></mergeCells>'
    if b"<mergeCells" in xml:
        return re.sub(rb"<mergeCells[^>]*>", b'<mergeCells count="2"><mergeCell ref="' + ref + b'"/>', xml)
    return xml.replace(b"</sheetData>", b"</sheetData>" + merge, 1)


def add_far_cell(xml: bytes, ref: bytes = b"XFD1048576", row: int = 1048576) -> bytes:
    cell = b'<row r="%d"><c r="%s" t="inlineStr"><is><t>far</t></is></c></row>' % (row, ref)
    return xml.replace(b"</sheetData>", cell + b"</sheetData>", 1)


def with_entry(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return out.getvalue()


def patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Make the local header and the central directory claim ``size`` inflated bytes for entry ``name``."""
    patched = bytearray(data)
    for signature, size_at, name_at, length_at in ((b"PK\x03\x04", 22, 30, 26), (b"PK\x01\x02", 24, 46, 28)):
        at = patched.find(signature)
        while at != -1:
            (length,) = struct.unpack_from("<H", patched, at + length_at)
            if patched[at + name_at : at + name_at + length] == name:
                struct.pack_into("<I", patched, at + size_at, size)
            at = patched.find(signature, at + 4)
    return bytes(patched)


def sheet_rows(count: int) -> list[Ticket]:
    return [ticket(n) for n in range(1, count + 1)]
